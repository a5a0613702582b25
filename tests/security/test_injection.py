"""Injection: user text can never add an email header or a recipient, nor a CSV row, column or formula."""

from __future__ import annotations

import csv
import email
import email.policy
import io
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.notifications.domain import invoice_emails, render, signup_emails
from shared.csv_export import write_csv
from tests.support.notifications import invoice_event, organisation, signup_event

SENDER = "Reglab <natverk@reglab.example>"
WHEN = datetime(2026, 11, 27, 9, tzinfo=UTC)
EXPECTED_HEADERS = {"from", "to", "subject", "date", "message-id", "auto-submitted", "mime-version",
                    "content-type"}
HOSTILE = ["Anna\r\nBcc: evil@attacker.example", "Anna\nSubject: hej", "Anna\rX-Evil: 1",
           "Anna\u2028Bcc: evil@attacker.example", "=?utf-8?q?Bcc=3A_evil=40x?=", "Anna\x00\x1b[31m",
           "\r\n\r\n<html>body injection</html>", "Örjan \"Bcc:\" <evil@attacker.example>"]


def parse(raw: bytes) -> email.message.EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, email.message.EmailMessage)
    return message


def assert_only_our_headers(raw: bytes, recipient: str) -> email.message.EmailMessage:
    message = parse(raw)
    assert {key.lower() for key in message} == EXPECTED_HEADERS, list(message)
    assert [address.addr_spec for address in message["To"].addresses] == [recipient]
    assert "\n" not in str(message["Subject"]) and "\r" not in str(message["Subject"])
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert not any(line.lower().startswith((b"bcc:", b"x-evil:", b"cc:")) for line in head.split(b"\r\n"))
    return message


@pytest.mark.parametrize("name", HOSTILE)
def test_a_contact_name_with_line_breaks_cannot_add_a_header_or_a_recipient(name: str) -> None:
    [outgoing] = signup_emails(signup_event(contact_name=name, contact_email="anna@region.example"))
    rendered = render(outgoing, sender=SENDER, event_id="e1", date=WHEN)
    assert rendered.recipient == "anna@region.example"
    assert_only_our_headers(rendered.raw, "anna@region.example")


@pytest.mark.parametrize("name", HOSTILE)
def test_an_organisation_name_in_an_invoice_subject_cannot_add_a_header(name: str) -> None:
    hostile = organisation().model_copy(update={"name": name})
    event = invoice_event().model_copy(update={"organisation": hostile})
    for outgoing in invoice_emails(event, finance_email="ekonomi@reglab.example"):
        rendered = render(outgoing, sender=SENDER, event_id="e2", date=WHEN)
        assert_only_our_headers(rendered.raw, rendered.recipient)


@pytest.mark.parametrize("address", ["anna@region.example\r\nBcc: evil@attacker.example",
                                     "anna@region.example, evil@attacker.example",
                                     "anna@region.example\nevil@attacker.example",
                                     "Anna <anna@region.example>\r\nBcc: x@y.example",
                                     "<evil@x>anna@y.example"])
def test_a_recipient_address_with_a_second_address_or_a_line_break_is_refused(address: str) -> None:
    [outgoing] = signup_emails(signup_event(contact_email=address))
    with pytest.raises(ValueError):
        render(outgoing, sender=SENDER, event_id="e3", date=WHEN)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_any_contact_name_at_all_leaves_exactly_our_headers(name: str) -> None:
    [outgoing] = signup_emails(signup_event(contact_name=name, contact_email="anna@region.example"))
    rendered = render(outgoing, sender=SENDER, event_id="e4", date=WHEN)
    assert_only_our_headers(rendered.raw, "anna@region.example")


def read_csv(data: bytes) -> list[list[str]]:
    text = data.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:], newline=""), delimiter=";"))


cells = st.one_of(st.text(max_size=60), st.sampled_from(
    ["=1+1", "+46 8 123", "-2+3", "@SUM(A1)", "\t=x", "\r=x", "a;b", 'a"b', "a\r\nb", "=HYPERLINK(\"x\")",
     "-4000.00", "4000,00", "x\n=1+1"]))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(cells, min_size=3, max_size=3), max_size=8))
def test_a_csv_export_keeps_every_cell_in_its_row_and_column_and_never_starts_a_formula(
        rows: list[list[str]]) -> None:
    data = write_csv(["namn", "e-post", "belopp"], rows)
    parsed = read_csv(data)
    assert len(parsed) == len(rows) + 1, "a line break or a quote in a cell cannot add a row"
    assert all(len(row) == 3 for row in parsed), "a semicolon in a cell cannot add a column"
    for original, written in zip(rows, parsed[1:], strict=True):
        for cell, out in zip(original, written, strict=True):
            assert out in (cell, "'" + cell), "the value is kept (at most defused with an apostrophe)"
            if out and out[0] in "=+-@\t\r":
                assert out.lstrip("-").replace(".", "").replace(",", "").isdigit(), f"formula: {out!r}"
