"""The sign-up rules the form and the API share: one Swedish message per field."""

from __future__ import annotations

from typing import Any

import pytest

from services.registration.catalogue import NETWORKS
from services.registration.domain import NetworkRef
from services.registration.validation import (
    BAD_CHECK_DIGIT,
    BAD_EMAIL,
    BAD_ORG_NUMBER,
    NO_NETWORK,
    SignupInvalid,
    flatten_json,
    validate_signup,
)

REFS = {n.code: NetworkRef(n.code, n.name, n.status) for n in NETWORKS}
YEARS = {2018}


def valid(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "organisation.name": "Region Exempel",
        "organisation.org_number": "556677-8899",
        "organisation.invoice_email": "faktura@region.example",
        "organisation.address.street": "Storgatan 1",
        "organisation.address.postal_code": "111 22",
        "organisation.address.city": "Stockholm",
        "organisation.buyer_reference": "Anna Andersson",
        "contact.name": "Anna Andersson",
        "contact.email": "anna@region.example",
        "networks": ["rus"],
        "year": 2018,
    }
    data.update(changes)
    return data


def errors_of(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(SignupInvalid) as caught:
        validate_signup(data, networks=REFS, policy_years=YEARS)
    return caught.value.errors


def test_a_complete_signup_is_cleaned() -> None:
    request = validate_signup(valid(**{"organisation.name": "  Region Exempel ", "year": "2018",
                                       "organisation.address.postal_code": "11122"}),
                              networks=REFS, policy_years=YEARS)
    assert request.org_name == "Region Exempel"
    assert request.org_number == "5566778899"
    assert request.postal_code == "111 22"
    assert request.year == 2018
    assert request.networks == ("rus",)


@pytest.mark.parametrize("number", ["556677-8899", "5566778899", " 556677-8899 ", "212000-0142"])
def test_org_numbers_with_a_valid_check_digit_are_accepted_and_stored_compact(number: str) -> None:
    request = validate_signup(valid(**{"organisation.org_number": number}), networks=REFS, policy_years=YEARS)
    assert len(request.org_number) == 10 and request.org_number.isdigit()


@pytest.mark.parametrize(("number", "message"), [
    ("556677-8898", BAD_CHECK_DIGIT),  # Luhn check digit off by one
    ("5566778890", BAD_CHECK_DIGIT),
    ("55667788", BAD_ORG_NUMBER),
    ("556677-88991", BAD_ORG_NUMBER),
    ("ABCDEF-GHIJ", BAD_ORG_NUMBER),
])
def test_bad_org_numbers_are_refused_with_a_reason(number: str, message: str) -> None:
    errors = errors_of(valid(**{"organisation.org_number": number}))
    assert errors == {"organisation.org_number": message}
    assert message.startswith("Ogiltigt organisationsnummer")


@pytest.mark.parametrize("field", ["organisation.invoice_email", "contact.email"])
@pytest.mark.parametrize("address", ["anna", "anna@", "anna@region", "an na@region.se", "a@foo.test"])
def test_bad_email_addresses_are_refused(field: str, address: str) -> None:
    assert errors_of(valid(**{field: address})) == {field: BAD_EMAIL}


def test_every_required_field_has_its_own_message_the_buyers_reference_included() -> None:
    blank = {key: "" for key in valid() if key not in ("networks", "year")}
    errors = errors_of(valid(**blank))
    assert set(errors) == set(blank)
    assert errors["organisation.buyer_reference"].startswith("Ange er referens")
    assert errors["organisation.name"] == "Ange organisationens namn."
    assert errors["contact.email"] == "Ange kontaktpersonens e-postadress."
    assert len(set(errors.values())) == len(errors), "each field says what is missing"


def test_missing_fields_and_wrong_types_are_errors_not_crashes() -> None:
    errors = errors_of({"organisation.name": 42, "networks": "rus", "year": True})
    assert errors["organisation.name"] == "Ogiltigt värde: ange text."
    assert "organisation.org_number" in errors
    assert "networks" not in errors  # a single code is taken as a list of one
    assert errors["year"].startswith("Ogiltigt år")


def test_at_least_one_network_is_needed() -> None:
    assert errors_of(valid(networks=[])) == {"networks": NO_NETWORK}
    assert errors_of(valid(networks=None)) == {"networks": NO_NETWORK}
    assert errors_of(valid(networks=["  "])) == {"networks": NO_NETWORK}


def test_unknown_and_proposed_networks_are_refused() -> None:
    errors = errors_of(valid(networks=["rus", "golf", "kommunikation"]))
    assert errors == {"networks": "Okänt nätverk: golf. Inte öppet för anmälan: Kommunikation."}


def test_networks_must_be_a_list_of_codes() -> None:
    assert "networks" in errors_of(valid(networks=[1, 2]))
    assert "networks" in errors_of(valid(networks={"rus": True}))


def test_the_same_network_twice_is_one_membership() -> None:
    request = validate_signup(valid(networks=["rus", "ung-region", "rus"]), networks=REFS, policy_years=YEARS)
    assert request.networks == ("rus", "ung-region")


def test_a_year_without_a_fee_policy_is_refused_with_the_open_years() -> None:
    errors = errors_of(valid(year=2030))
    assert errors == {"year": "Det finns ingen avgiftspolicy för 2030, så anmälan är inte öppen för "
                              "det året. Välj 2018."}
    assert errors_of(valid(year=None)) == {"year": "Välj verksamhetsår."}
    assert errors_of(valid(year="tjugo")) == {"year": "Ogiltigt år: ange ett årtal, t.ex. 2018."}


def test_too_long_text_is_refused() -> None:
    errors = errors_of(valid(**{"organisation.buyer_reference": "x" * 101}))
    assert errors == {"organisation.buyer_reference": "Er referens får vara högst 100 tecken."}


def test_errors_come_in_the_form_s_order() -> None:
    errors = errors_of(valid(**{"organisation.org_number": "1", "contact.name": ""}, networks=[], year=1999))
    assert list(errors) == ["organisation.org_number", "contact.name", "networks", "year"]


def test_the_api_body_is_flattened_to_field_paths() -> None:
    body = {
        "organisation": {"name": "R", "org_number": "556677-8899", "invoice_email": "a@b.se",
                         "address": {"street": "S", "postal_code": "11122", "city": "C"}},
        "contact": {"name": "N", "email": "n@b.se"},
        "networks": ["rus"],
        "year": 2018,
        "extra": "ignored",
    }
    flat = flatten_json(body)
    assert flat["organisation.address.city"] == "C"
    assert "organisation.buyer_reference" not in flat
    assert "extra" not in flat
    assert flatten_json({"organisation": "not an object"}) == {}
