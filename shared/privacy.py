"""GDPR: what a service holds about a person (by email address), and erasing it, as a registry per service.

Each service builds one :class:`PrivacyRegistry` and registers a part per
table that can hold a person's data: an ``export`` (rows as JSON-able dicts)
and an ``erase`` (anonymise or delete, keeping what the law requires, and say
what was kept and why). New tables register their own part (the meetings
tables do), so the export and the erasure cover them without a change here.

- ``GET /api/v1/privacy/export?email=`` (staff) in every service answers the
  service's JSON document.
- Every service's erasure also deletes its published outbox rows whose
  payload names the address (:func:`shared.outbox.forget_published`).
- Registration erases on request and publishes ``person.erased`` in the same
  transaction; invoicing and notifications consume it with
  :meth:`PrivacyRegistry.event_handler`. Every export and erasure is audited,
  with the person named by a hash of the address (the audit log is kept).
"""

# No "from __future__ import annotations": FastAPI resolves the Annotated aliases at runtime.

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import anyio
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from sqlalchemy import Engine
from sqlmodel import Session

from shared.audit import record_act
from shared.auth import client_address, staff_api
from shared.db import transaction
from shared.events import PersonErased, utc_now
from shared.outbox import forget_published
from shared.settings import CommonSettings

BAD_EMAIL = "Ange en e-postadress."
_EMAIL = re.compile(r"[^@\s\x00-\x1f\x7f]{1,64}@[^@\s\x00-\x1f\x7f]{1,253}")
ERASED_NAME = "(raderad)"


def normalise_email(value: str) -> str:
    """The form addresses are compared in: trimmed, case-folded. ``ValueError`` (Swedish) if no address."""
    email = value.strip().lower()
    if not _EMAIL.fullmatch(email):
        raise ValueError(BAD_EMAIL)
    return email


def person_subject(email: str) -> str:
    """The audit subject for a person: a hash, so the kept audit log does not keep the address."""
    return "person:" + hashlib.sha256(email.encode("utf-8")).hexdigest()[:16]


ERASED_DOMAIN = "raderad.invalid"


def erased_address(erasure_id: UUID) -> str:
    """What an erased address becomes: unique per erasure, never deliverable (``.invalid``, RFC 2606)."""
    return f"raderad-{erasure_id.hex[:12]}@{ERASED_DOMAIN}"


def is_erased_address(address: str) -> bool:
    """Whether ``address`` is one :func:`erased_address` made: nothing is ever planned or sent to it."""
    return address.strip().rstrip(">").lower().endswith("@" + ERASED_DOMAIN)


@dataclass(frozen=True)
class Erasure:
    erasure_id: UUID
    email: str
    requested_by: str
    now: datetime


@dataclass
class Outcome:
    """What one part did: rows anonymised or deleted, rows kept, and the legal reason for keeping them."""

    erased: int = 0
    kept: int = 0
    kept_because: str = ""


Exporter = Callable[[Session, str], list[dict[str, Any]]]
Eraser = Callable[[Session, Erasure], Outcome]


@dataclass
class PrivacyRegistry:
    service: str
    _parts: dict[str, tuple[Exporter, Eraser]] = field(default_factory=dict)

    def register(self, name: str, *, export: Exporter, erase: Eraser) -> None:
        if name in self._parts:
            raise ValueError(f"privacy part {name!r} registered twice")
        self._parts[name] = (export, erase)

    @property
    def parts(self) -> list[str]:
        return list(self._parts)

    def export(self, session: Session, email: str) -> dict[str, Any]:
        return {"service": self.service, "email": email,
                "data": {name: export(session, email) for name, (export, _erase) in self._parts.items()}}

    def erase(self, session: Session, erasure: Erasure) -> dict[str, Outcome]:
        outcomes = {name: erase(session, erasure) for name, (_export, erase) in self._parts.items()}
        # Every service's outbox keeps the payloads it published: those naming the person go now.
        outcomes["outbox"] = Outcome(erased=forget_published(session, erasure.email))
        return outcomes

    def erase_and_audit(self, session: Session, erasure: Erasure,
                        remote_addr: str = "") -> dict[str, Outcome]:
        outcomes = self.erase(session, erasure)
        record_act(session, actor=erasure.requested_by, action="person.erase",
                   subject=person_subject(erasure.email), remote_addr=remote_addr,
                   detail=f"radering {erasure.erasure_id}: " + describe(outcomes))
        return outcomes

    def event_handler(self) -> Callable[[Session, Any], None]:
        """The consumer's handler for ``person.erased`` (runs in the consumer's transaction)."""

        def handle(session: Session, event: PersonErased) -> None:
            self.erase_and_audit(session, Erasure(event.erasure_id, normalise_email(event.email),
                                                  event.requested_by, event.occurred_at), "event")

        return handle


def describe(outcomes: dict[str, Outcome]) -> str:
    parts = []
    for name, outcome in outcomes.items():
        text = f"{name}: {outcome.erased} raderade"
        if outcome.kept:
            text += f", {outcome.kept} sparade ({outcome.kept_because})"
        parts.append(text)
    return "; ".join(parts)


def privacy_router(settings: CommonSettings, registry: PrivacyRegistry, engine: Engine) -> APIRouter:
    router = APIRouter(prefix="/api/v1/privacy", tags=["privacy"])
    StaffUser = Annotated[str, Depends(staff_api(settings, "staff"))]

    @router.get("/export", responses={422: {"description": "no email address"}})
    async def export(request: Request, user: StaffUser,
                     email: Annotated[str, Query(max_length=254, description="the person's address")]
                     ) -> dict[str, Any]:
        """Everything this service holds about the person with this email address (GDPR art. 15)."""
        try:
            address = normalise_email(email)
        except ValueError as error:
            raise HTTPException(422, str(error)) from None

        def run() -> dict[str, Any]:
            with transaction(engine) as session:
                document = registry.export(session, address)
                record_act(session, actor=user, action="person.export", subject=person_subject(address),
                           remote_addr=client_address(request), detail=", ".join(registry.parts))
                return document

        document: dict[str, Any] = await anyio.to_thread.run_sync(run)
        document["exported_at"] = utc_now().isoformat()
        return document

    return router
