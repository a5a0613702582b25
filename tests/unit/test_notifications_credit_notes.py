"""A credit note's emails: the subject names it, the text refers to the invoice it credits."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage

from services.notifications import domain
from shared.events import InvoiceIssued
from tests.unit.test_notifications_messages import FINANCE, invoice_event


def credit_note_event() -> InvoiceIssued:
    issued = invoice_event()
    return issued.model_copy(update={"kind": "credit_note", "number": "2018-00007", "total": -issued.total,
                                     "credited_number": "2018-00001"})


def test_a_credit_note_goes_to_the_organisation_and_finance_and_refers_to_the_original() -> None:
    note, copy = domain.invoice_emails(credit_note_event(), finance_email=FINANCE)

    assert note.subject == "Kreditfaktura 2018-00007 från Reglab"
    assert note.to_address == credit_note_event().organisation.invoice_email
    assert "Kreditfakturan avser faktura 2018-00001" in note.text
    assert note.html is not None and "<strong>2018-00001</strong>" in note.html
    assert "OCR" not in note.text, "nothing to pay, so no payment reference"

    assert copy.to_address == FINANCE
    assert copy.subject.startswith("Kopia: Kreditfaktura 2018-00007")
    assert "Den krediterar faktura 2018-00001." in copy.text
    assert [part.filename for part in note.attachments] == ["kreditfaktura-2018-00007.pdf"]


def test_an_invoice_says_nothing_about_crediting() -> None:
    invoice, copy = domain.invoice_emails(invoice_event(), finance_email=FINANCE)
    assert "krediterar" not in copy.text and "avser faktura" not in invoice.text
    message = message_from_bytes(domain.render(invoice, sender="Reglab <natverk@reglab.example>",
                                               event_id="0b0c8f8e-4b7e-4a8e-9a43-2a4d1f0e0001",
                                               date=invoice_event().occurred_at).raw,
                                 policy=policy.default)
    assert isinstance(message, EmailMessage)
    assert [part.get_filename() for part in message.iter_attachments()] == ["faktura-2018-00001.pdf"]
