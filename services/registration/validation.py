"""Sign-up validation shared by the web form and the JSON API, so both give the same Swedish messages.

Input is a flat mapping keyed by field path (``organisation.org_number``);
:func:`flatten_json` turns the API's nested body into that shape. Pure: the
networks and the years with a fee policy are passed in.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from email_validator import EmailNotValidError, validate_email
from stdnum.exceptions import InvalidChecksum, ValidationError
from stdnum.se import orgnr

from services.registration.catalogue import ACTIVE
from services.registration.domain import NetworkRef, SignupRequest


@dataclass(frozen=True)
class TextField:
    key: str  # the field's path in the API body, and the key of its error message
    form_name: str  # the web form's input name (and element id)
    label: str
    required_message: str  # empty: the field is optional
    max_length: int


TEXT_FIELDS: tuple[TextField, ...] = (
    TextField("organisation.name", "org_name", "Organisationens namn", "Ange organisationens namn.", 200),
    TextField("organisation.org_number", "org_number", "Organisationsnummer",
              "Ange organisationsnummer.", 20),
    TextField("organisation.invoice_email", "invoice_email", "E-postadress för fakturor",
              "Ange en e-postadress för fakturor.", 254),
    TextField("organisation.address.street", "street", "Gatuadress", "Ange gatuadress.", 200),
    TextField("organisation.address.postal_code", "postal_code", "Postnummer", "Ange postnummer.", 10),
    TextField("organisation.address.city", "city", "Ort", "Ange ort.", 100),
    # Required: a Peppol e-invoice must carry the buyer's reference (BuyerReference), and
    # public-sector buyers route incoming invoices by it.
    TextField("organisation.buyer_reference", "buyer_reference", "Er referens",
              "Ange er referens (beställarens namn eller referenskod); den står på fakturan.", 100),
    TextField("contact.name", "contact_name", "Kontaktperson", "Ange kontaktpersonens namn.", 200),
    TextField("contact.email", "contact_email", "Kontaktpersonens e-postadress",
              "Ange kontaktpersonens e-postadress.", 254),
)
FIELD_KEYS: tuple[str, ...] = (*(f.key for f in TEXT_FIELDS), "networks", "year")

BAD_ORG_NUMBER = "Ogiltigt organisationsnummer: ange tio siffror, t.ex. 556677-8899."
BAD_CHECK_DIGIT = "Ogiltigt organisationsnummer: kontrollsiffran stämmer inte. Kontrollera numret."
BAD_EMAIL = "Ogiltig e-postadress. Ange en adress som namn@organisation.se."
BAD_POSTAL_CODE = "Ogiltigt postnummer: ange fem siffror, t.ex. 118 27."
NOT_TEXT = "Ogiltigt värde: ange text."
NO_NETWORK = "Välj minst ett nätverk."
NETWORKS_NOT_LIST = "Ange nätverken som en lista med nätverkskoder."
NO_YEAR = "Välj verksamhetsår."
BAD_YEAR = "Ogiltigt år: ange ett årtal, t.ex. 2018."

_POSTAL_CODE = re.compile(r"^([0-9]{3}) ?([0-9]{2})$")
_YEAR = re.compile(r"^[0-9]{4}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


class SignupInvalid(ValueError):
    """The input has errors; ``errors`` maps each field path to its Swedish message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{key}: {message}" for key, message in errors.items()))
        self.errors = errors


def flatten_json(body: Mapping[str, Any]) -> dict[str, Any]:
    """The API body as the flat, path-keyed mapping the validator takes (missing parts are absent)."""
    flat: dict[str, Any] = {}
    for key in FIELD_KEYS:
        node: Any = body
        for part in key.split("."):
            node = node.get(part) if isinstance(node, Mapping) else None
        if node is not None:
            flat[key] = node
    return flat


def no_policy_message(year: int, policy_years: Collection[int]) -> str:
    open_years = ", ".join(str(y) for y in sorted(policy_years)) or "inget år"
    return (f"Det finns ingen avgiftspolicy för {year}, så anmälan är inte öppen för det året. "
            f"Välj {open_years}.")


def validate_signup(data: Mapping[str, Any], *, networks: Mapping[str, NetworkRef],
                    policy_years: Collection[int]) -> SignupRequest:
    """Check every field and return the cleaned request; raises :class:`SignupInvalid` with all errors."""
    errors: dict[str, str] = {}
    text: dict[str, str] = {}
    for field in TEXT_FIELDS:
        value, error = _text(data.get(field.key), field)
        text[field.key] = value
        if error:
            errors[field.key] = error

    checks = {
        "organisation.org_number": _org_number,
        "organisation.invoice_email": _email,
        "organisation.address.postal_code": _postal_code,
        "contact.email": _email,
    }
    for key, check in checks.items():
        if key in errors:
            continue
        cleaned, error = check(text[key])
        if error:
            errors[key] = error
        text[key] = cleaned

    codes, error = _networks(data.get("networks"), networks)
    if error:
        errors["networks"] = error
    year, error = _year(data.get("year"), policy_years)
    if error:
        errors["year"] = error

    if errors:
        raise SignupInvalid({key: errors[key] for key in FIELD_KEYS if key in errors})
    assert year is not None
    return SignupRequest(
        org_name=text["organisation.name"],
        org_number=text["organisation.org_number"],
        invoice_email=text["organisation.invoice_email"],
        street=text["organisation.address.street"],
        postal_code=text["organisation.address.postal_code"],
        city=text["organisation.address.city"],
        buyer_reference=text["organisation.buyer_reference"],
        contact_name=text["contact.name"],
        contact_email=text["contact.email"],
        networks=codes,
        year=year,
    )


def _text(raw: Any, field: TextField) -> tuple[str, str]:
    if raw is None:
        raw = ""
    if not isinstance(raw, str):
        return "", NOT_TEXT
    value = raw.strip()
    if not value and field.required_message:
        return value, field.required_message
    if len(value) > field.max_length:
        return value, f"{field.label} får vara högst {field.max_length} tecken."
    if _CONTROL.search(value):
        # Every field is one line; a NUL would also make PostgreSQL refuse the row (a 500).
        return value, f"{field.label} innehåller otillåtna tecken (radbrytningar eller styrtecken)."
    return value, ""


def _org_number(value: str) -> tuple[str, str]:
    """Ten digits with a valid Luhn check digit; stored compact (``5566778899``)."""
    try:
        return orgnr.validate(value), ""
    except InvalidChecksum:
        return value, BAD_CHECK_DIGIT
    except ValidationError:
        return value, BAD_ORG_NUMBER


def _email(value: str) -> tuple[str, str]:
    try:
        return validate_email(value, check_deliverability=False).normalized, ""
    except EmailNotValidError:
        return value, BAD_EMAIL


def _postal_code(value: str) -> tuple[str, str]:
    match = _POSTAL_CODE.match(value)
    if match is None:
        return value, BAD_POSTAL_CODE
    return f"{match[1]} {match[2]}", ""


def _networks(raw: Any, networks: Mapping[str, NetworkRef]) -> tuple[tuple[str, ...], str]:
    if raw is None or raw == "":
        return (), NO_NETWORK
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list | tuple) or not all(isinstance(code, str) for code in raw):
        return (), NETWORKS_NOT_LIST
    # Order kept, duplicates dropped: the same network twice in one sign-up is one membership.
    codes = tuple(dict.fromkeys(code.strip() for code in raw if code.strip()))
    if not codes:
        return (), NO_NETWORK
    return codes, network_problems(codes, networks)


def network_problems(codes: tuple[str, ...], networks: Mapping[str, NetworkRef]) -> str:
    """Unknown codes and networks not open for sign-up (proposed ones), as one message; empty if none."""
    unknown = [code for code in codes if code not in networks]
    closed = [networks[code].name for code in codes if code in networks and networks[code].status != ACTIVE]
    problems = []
    if unknown:
        problems.append(f"Okänt nätverk: {', '.join(unknown)}.")
    if closed:
        problems.append(f"Inte öppet för anmälan: {', '.join(closed)}.")
    return " ".join(problems)


def _year(raw: Any, policy_years: Collection[int]) -> tuple[int | None, str]:
    if raw is None or raw == "":
        return None, NO_YEAR
    if isinstance(raw, str) and _YEAR.match(raw.strip()):
        raw = int(raw.strip())
    if isinstance(raw, bool) or not isinstance(raw, int):
        return None, BAD_YEAR
    if raw not in policy_years:
        return raw, no_policy_message(raw, policy_years)
    return raw, ""
