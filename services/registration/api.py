"""The JSON API: ``GET /api/v1/networks`` and ``POST /api/v1/signups`` (contract.md)."""

from __future__ import annotations

import json
import re
import uuid
from decimal import Decimal
from functools import partial
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlmodel import Session

from services.registration.domain import default_year
from services.registration.handlers import list_networks, submit_signup
from services.registration.validation import SignupInvalid, flatten_json, no_policy_message
from shared.events import utc_now
from shared.policy import FeePolicy, fee_for
from shared.ratelimit import limit_client, too_many_text
from shared.runtime import ServiceRuntime

INVALID_SIGNUP = "Anmälan innehåller fel; se meddelandet för varje fält."
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,100}$")

RECEIPT_ROUTE = "/kvitto/{token}"


def receipt_path(token: str) -> str:
    """The receipt page's path, as ``url_path_for("receipt", token=...)`` gives it.

    Built directly: ``url_path_for`` tries every route of the app in turn,
    raising and catching an exception for each one that does not match. A
    token is ``secrets.token_urlsafe``, so it needs no quoting.
    """
    return RECEIPT_ROUTE.format(token=token)


def correlation_id(request: Request) -> str:
    """The caller's ``X-Request-ID`` when it is a sane token, else a new uuid: one per sign-up."""
    given = request.headers.get("x-request-id", "").strip()
    return given if _REQUEST_ID.match(given) else str(uuid.uuid4())


# --- Schemas (the request body is validated by services.registration.validation, not by these) ---

class AddressIn(BaseModel):
    street: str = Field(examples=["Drottninggatan 1"])
    postal_code: str = Field(examples=["111 51"])
    city: str = Field(examples=["Stockholm"])


class OrganisationIn(BaseModel):
    name: str = Field(max_length=200, examples=["Region Exempel"])
    org_number: str = Field(description="Organisationsnummer, 10 siffror med giltig kontrollsiffra",
                            examples=["556677-8899"])
    invoice_email: str = Field(examples=["faktura@region.example"])
    address: AddressIn
    buyer_reference: str = Field(max_length=100, examples=["Anna Andersson"],
                                 description="Er referens (krävs): står på fakturan och i e-fakturan "
                                             "(Peppol BuyerReference)")


class ContactIn(BaseModel):
    name: str = Field(examples=["Anna Andersson"])
    email: str = Field(examples=["anna.andersson@region.example"])


class SignupIn(BaseModel):
    organisation: OrganisationIn
    contact: ContactIn
    networks: list[str] = Field(min_length=1, description="Koder för aktiva nätverk",
                                examples=[["rus", "analytiker"]])
    year: int = Field(description="Verksamhetsår med en avgiftspolicy", examples=[2018])


class MembershipOut(BaseModel):
    id: int
    network: str = Field(description="Nätverkets kod")
    year: int
    status: str
    created: bool = Field(description="false om medlemskapet redan fanns (ingen ny avgift)")


class SignupOut(BaseModel):
    signup_id: int
    organisation_id: int
    memberships: list[MembershipOut]
    receipt_url: str = Field(description="Sökväg till anmälans kvittosida (hemlig länk)")


class NetworkOut(BaseModel):
    code: str
    name: str
    status: str = Field(description="active eller proposed")
    fee_exempt: bool
    exemption_reason: str
    fee: Decimal | None = Field(description="Avgift exkl. moms för året; null om avgiftsfri")
    year: int
    partners: str
    description: str


class ErrorOut(BaseModel):
    detail: str
    errors: dict[str, str] = Field(default_factory=dict,
                                   description="Ett meddelande per fält, nycklat med fältets sökväg")


def _inline(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema with ``$defs`` resolved in place, for ``openapi_extra``."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return resolve(defs[node["$ref"].rsplit("/", 1)[-1]])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(value) for value in node]
        return node

    result: dict[str, Any] = resolve(schema)
    return result


SIGNUP_BODY = {"requestBody": {"required": True,
                               "content": {"application/json": {"schema": _inline(SignupIn)}}}}


def _error(status: int, detail: str, errors: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(ErrorOut(detail=detail, errors=errors or {}).model_dump(), status_code=status)


def api_router(runtime: ServiceRuntime, policies: dict[int, FeePolicy]) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["registration"])

    @router.get("/networks", response_model=list[NetworkOut],
                responses={422: {"model": ErrorOut, "description": "Ingen avgiftspolicy för året"}})
    async def networks(
        year: Annotated[int | None, Query(description="Verksamhetsår; standard är det senaste")] = None,
    ) -> Any:
        """All networks (active and proposed) with their fee or exemption for the year."""
        chosen = year if year is not None else default_year(policies)
        if chosen not in policies:
            message = no_policy_message(year or 0, policies)
            return _error(422, message, {"year": message})
        policy = policies[chosen]

        def load() -> list[NetworkOut]:
            with Session(runtime.engine) as session:
                rows = list_networks(session)
            out = []
            for network in rows:
                fee = fee_for(policy, network.code)
                out.append(NetworkOut(code=network.code, name=network.name, status=network.status,
                                      fee_exempt=fee.exempt, exemption_reason=fee.exemption_reason,
                                      fee=fee.amount, year=policy.year, partners=network.partners,
                                      description=network.description))
            return out

        return await anyio.to_thread.run_sync(load)

    @router.post("/signups", status_code=201, response_model=SignupOut, openapi_extra=SIGNUP_BODY,
                 responses={400: {"model": ErrorOut, "description": "Ogiltig JSON"},
                            413: {"model": ErrorOut, "description": "För stor begäran"},
                            415: {"model": ErrorOut, "description": "Inte JSON"},
                            422: {"model": ErrorOut, "description": "Ett meddelande per felaktigt fält"},
                            429: {"model": ErrorOut, "description": "För många anmälningar från adressen"}})
    async def create_signup(request: Request) -> Any:
        """Sign an organisation up for networks for a year; signing up again is idempotent."""
        settings = runtime.settings
        rate = await limit_client(request, "signup", settings.signup_rate_limit,
                                  settings.signup_rate_window_seconds)
        if not rate.allowed:
            response = _error(429, too_many_text(rate))
            response.headers["Retry-After"] = str(rate.retry_after)
            return response
        content_type = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
        if not (content_type == "application/json" or content_type.endswith("+json")):
            # Also keeps a cross-site HTML form (text/plain) from posting a JSON-looking body here.
            return _error(415, "Skicka anmälan som JSON (Content-Type: application/json).")
        try:
            body = json.loads(await request.body())
        except json.JSONDecodeError as error:
            return _error(400, f"Ogiltig JSON (rad {error.lineno}, kolumn {error.colno}).")
        except ValueError:
            return _error(400, "Ogiltig JSON: texten är inte UTF-8.")
        if not isinstance(body, dict):
            return _error(422, "Begäran ska vara ett JSON-objekt.", {"body": "Ange ett JSON-objekt."})
        try:
            result = await anyio.to_thread.run_sync(partial(
                submit_signup, runtime.engine, flatten_json(body), policies=policies, now=utc_now(),
                correlation_id=correlation_id(request),
            ))
        except SignupInvalid as invalid:
            return _error(422, INVALID_SIGNUP, invalid.errors)
        runtime.relay.notify()
        return SignupOut(
            signup_id=result.signup_id, organisation_id=result.organisation_id,
            receipt_url=receipt_path(result.token),
            memberships=[MembershipOut(id=m.id, network=m.network_code, year=m.year, status=m.status,
                                       created=m.created) for m in result.memberships],
        )

    return router
