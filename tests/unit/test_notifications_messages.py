"""Building the emails an event calls for: recipients, Swedish text, attachment, identity, headers."""

from __future__ import annotations

import email
import email.policy
import io
from email.message import EmailMessage

import pytest
from pypdf import PdfReader

from services.notifications import domain, mime
from services.notifications.domain import EmailKind
from tests.support.notifications import OCCURRED, invoice_event, signup_event, small_pdf

SENDER = "Reglab <natverk@reglab.example>"
FINANCE = "ekonomi@reglab.example"


def parse(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def rendered(outgoing: domain.OutgoingEmail, event_id: str = "0b0c8f8e-4b7e-4a8e-9a43-2a4d1f0e0001"
             ) -> domain.RenderedEmail:
    return domain.render(outgoing, sender=SENDER, event_id=event_id, date=OCCURRED)


def text_of(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return body.get_content()


def test_a_signup_confirmation_goes_to_the_contact_and_lists_networks_and_fees_in_swedish() -> None:
    [outgoing] = domain.signup_emails(signup_event())
    result = rendered(outgoing)
    message = parse(result.raw)

    assert result.kind is EmailKind.signup_confirmation
    assert result.recipient == "anna@region-varmland.example"
    assert message["To"].addresses[0].display_name == "Anna Svensson"
    assert message["Subject"] == "Bekräftelse: anmälan till Reglabs nätverk 2018"
    text = text_of(message)
    assert "Region Värmland" in text and "2321000222" in text and "2018" in text
    assert "Analytikernätverket: Avgiftsfri" in text
    assert "Samarrangemang med Tillväxtverket" in text
    assert "Ung region: 4\u00a0000,00\u00a0kr" in text
    # Already a member: listed, but no new fee and not counted in what is invoiced.
    assert "RUS-nätverket: 4\u00a0000,00\u00a0kr" in text
    assert "Redan anmält sedan tidigare – ingen ny avgift." in text
    assert "Summa avgifter för 2018: 4\u00a0000,00\u00a0kr" in text
    assert "En faktura skickas separat till faktura@region-varmland.example" in text
    html = message.get_body(preferencelist=("html",))
    assert html is not None and "<td>Ung region" in html.get_content()


def test_a_signup_with_only_exempt_or_existing_memberships_says_no_invoice_follows() -> None:
    event = signup_event()
    event = event.model_copy(update={"memberships": (event.memberships[0], event.memberships[2])})
    [outgoing] = domain.signup_emails(event)
    assert "ingen faktura skickas" in outgoing.text
    assert "En faktura skickas separat" not in outgoing.text


def test_html_parts_escape_what_the_organisation_typed() -> None:
    [outgoing] = domain.signup_emails(signup_event(contact_name="<script>alert(1)</script>"))
    assert outgoing.html is not None
    assert "<script>" not in outgoing.html and "&lt;script&gt;" in outgoing.html
    assert "<script>alert(1)</script>" in outgoing.text  # plain text is not HTML: left as typed


def test_an_invoice_goes_to_the_invoice_address_with_the_pdf_and_a_copy_to_finance() -> None:
    pdf = small_pdf()
    invoice, copy = domain.invoice_emails(invoice_event(pdf=pdf), finance_email=FINANCE)

    first = parse(rendered(invoice).raw)
    assert rendered(invoice).recipient == "faktura@region-varmland.example"
    assert first["Subject"] == "Faktura 2018-00001 från Reglab"
    [attachment] = list(first.iter_attachments())
    assert attachment.get_filename() == "faktura-2018-00001.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == pdf
    assert len(PdfReader(io.BytesIO(attachment.get_content())).pages) == 1
    text = text_of(first)
    assert "Att betala:     5\u00a0000,00\u00a0kr" in text
    assert "Förfallodag:    2018-02-14" in text
    assert "OCR-nummer:     100012018" in text

    second = parse(rendered(copy).raw)
    assert copy.kind is EmailKind.invoice_copy
    assert rendered(copy).recipient == FINANCE
    assert "2018-00001" in second["Subject"]
    assert [a.get_content() for a in second.iter_attachments()] == [pdf]
    assert "faktura@region-varmland.example" in text_of(second)


def test_finance_gets_no_separate_copy_when_it_is_itself_the_invoice_address() -> None:
    emails = domain.invoice_emails(invoice_event(invoice_email="Ekonomi@Reglab.example"),
                                   finance_email=f"Ekonomi <{FINANCE}>")
    assert [e.kind for e in emails] == [EmailKind.invoice]


def test_a_credit_note_says_what_is_credited_instead_of_what_to_pay() -> None:
    issued = invoice_event()
    event = issued.model_copy(update={"kind": "credit_note", "total": -issued.total})
    [note, _copy] = domain.invoice_emails(event, finance_email=FINANCE)
    assert note.subject == "Kreditfaktura 2018-00001 från Reglab"
    assert "Belopp att tillgodoräkna: 5\u00a0000,00\u00a0kr" in note.text
    assert "Att betala" not in note.text


def test_the_message_id_is_stable_per_event_and_recipient() -> None:
    [outgoing] = domain.signup_emails(signup_event())
    event_id = "0b0c8f8e-4b7e-4a8e-9a43-2a4d1f0e0001"
    first, again = rendered(outgoing, event_id), rendered(outgoing, event_id)
    assert first.message_id == again.message_id
    assert parse(first.raw)["Message-ID"] == first.message_id
    assert first.message_id.endswith("@reglab-natverk>")

    other_recipient = rendered(domain.signup_emails(signup_event(contact_email="bo@x.example"))[0], event_id)
    other_event = rendered(outgoing, "0b0c8f8e-4b7e-4a8e-9a43-2a4d1f0e0002")
    assert len({first.message_id, other_recipient.message_id, other_event.message_id}) == 3
    # The same address in another case is the same recipient.
    assert domain.message_id_for(event_id, "Anna@Region-Varmland.example") == first.message_id


def test_a_name_with_a_line_break_cannot_add_a_header() -> None:
    [outgoing] = domain.signup_emails(signup_event(contact_name="Anna\r\nBcc: evil@x.example"))
    message = parse(rendered(outgoing).raw)
    assert message["Bcc"] is None
    assert [a.addr_spec for a in message["To"].addresses] == ["anna@region-varmland.example"]
    assert all(name.lower() != "bcc" for name in message.keys())  # noqa: SIM118
    header = rendered(outgoing).raw.split(b"\r\n\r\n", 1)[0]
    assert b"\r\nBcc:" not in header
    assert "Hej Anna Bcc: evil@x.example!" in text_of(message)  # one line in the body too


def test_an_address_with_a_line_break_is_refused_rather_than_sent() -> None:
    [outgoing] = domain.signup_emails(signup_event(contact_email="anna@x.example\r\nBcc: evil@x.example"))
    with pytest.raises(ValueError, match="address"):
        rendered(outgoing)


@pytest.mark.parametrize("address", ["", "anna", "anna@", "@x.example", "a@x.example, b@x.example",
                                     "anna svensson@x.example", "anna@x", "åsa@x.example", "a@b.example>"])
def test_anything_but_one_plain_address_is_refused(address: str) -> None:
    with pytest.raises(ValueError):
        mime.parse_mailbox(address)


def test_a_name_and_address_or_an_internationalised_domain_is_accepted() -> None:
    assert mime.parse_mailbox("Reglab <natverk@reglab.example>") == mime.Mailbox("Reglab",
                                                                                 "natverk@reglab.example")
    assert mime.parse_mailbox("kansliet@Håbo.example").addr_spec == "kansliet@xn--hbo-ula.example"


def test_a_header_value_with_a_line_break_is_refused_whoever_builds_it() -> None:
    with pytest.raises(ValueError):
        mime.header_line("Subject", "Hej\r\nBcc: evil@x.example")


def test_long_and_non_ascii_headers_are_encoded_and_folded_and_read_back_unchanged() -> None:
    name = "Region Värmland, avdelningen för regional utveckling och kompetensförsörjning i länet"
    outgoing = domain.OutgoingEmail(kind=EmailKind.invoice, to_address="a@x.example", to_name=name,
                                    subject="Kopia: Faktura 2018-00001 till " + name, text="Hej.\n")
    raw = rendered(outgoing).raw
    header = raw.split(b"\r\n\r\n", 1)[0]
    assert all(len(line) <= 998 for line in header.split(b"\r\n"))
    message = parse(raw)
    assert message["To"].addresses[0].display_name == name
    assert message["Subject"] == "Kopia: Faktura 2018-00001 till " + name
    assert message.defects == []


def test_bodies_round_trip_through_quoted_printable_with_long_lines_dots_and_trailing_spaces() -> None:
    text = "Hej!\n" + "å" * 120 + "\n.\nslut med mellanslag   \n=3D är ingen kod\n"
    outgoing = domain.OutgoingEmail(kind=EmailKind.invoice, to_address="a@x.example", to_name="",
                                    subject="Test", text=text, html="<p>Hej &amp; hå</p>\n")
    raw = rendered(outgoing).raw
    assert all(len(line) <= 78 for line in raw.split(b"\r\n"))
    message = parse(raw)
    assert text_of(message) == text.replace("\n", "\r\n") or text_of(message) == text
    html = message.get_body(preferencelist=("html",))
    assert html is not None and html.get_content().strip() == "<p>Hej &amp; hå</p>"


def test_rendering_the_same_email_twice_gives_the_same_bytes() -> None:
    [outgoing, _copy] = domain.invoice_emails(invoice_event(), finance_email=FINANCE)
    assert rendered(outgoing).raw == rendered(outgoing).raw


def test_the_rendered_message_uses_crlf_and_only_ascii_headers() -> None:
    [outgoing] = domain.signup_emails(signup_event())
    raw = rendered(outgoing).raw
    header = raw.split(b"\r\n\r\n", 1)[0]
    header.decode("ascii")
    assert b"\n" not in raw.replace(b"\r\n", b"")


def test_the_wire_form_doubles_leading_dots_and_ends_the_data() -> None:
    assert mime.to_wire(b"A\r\n.B\r\n") == b"A\r\n..B\r\n.\r\n"
    assert mime.to_wire(b".A") == b"..A\r\n.\r\n"
    assert mime.to_wire(b"A\r\n.\r\n") == b"A\r\n..\r\n.\r\n"
