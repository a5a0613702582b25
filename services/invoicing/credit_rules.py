"""Credit-note rules, pure: what a cancellation leads to, a credit note's document, a reissue's.

No I/O and no clock: the handler passes in the original document, the lines
to credit, today's date and the number it took.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from services.invoicing.document import Buyer, DocumentLine, InvoiceDocument, Seller, VatGroupLine
from services.invoicing.domain import Outcome, due_date
from services.invoicing.ocr import ocr_reference
from shared.digits import is_digits
from shared.money import compute_totals

# The source_event_id of a reissue's credit note and new invoice: this prefix and the original's number.
REISSUE_SOURCE = "reissue:"


class CancellationOutcome(StrEnum):
    CREDITED = "credited"
    EXEMPT = "exempt"
    NOT_INVOICED = "not_invoiced"
    ALREADY_CREDITED = "already_credited"
    BEFORE_INVOICING = "before_invoicing"


class CreditRefused(ValueError):
    """A credit or reissue that cannot be made; the message is Swedish, for finance."""


def cancellation_outcome(decision: str | None, *, line_exists: bool, line_open: bool) -> CancellationOutcome:
    """What a cancelled membership gets, from its fee decision and its latest invoice line.

    Only a membership with an invoice line not yet credited gets a credit note.
    Exempt or never-invoiced memberships get none; a membership invoicing has
    not decided on yet (the cancellation overtook its sign-up) is marked so
    that the sign-up, when it arrives, does not invoice it.
    """
    if line_open:
        return CancellationOutcome.CREDITED
    if line_exists:
        return CancellationOutcome.ALREADY_CREDITED
    if decision is None:
        return CancellationOutcome.BEFORE_INVOICING
    if decision == Outcome.EXEMPT.value:
        return CancellationOutcome.EXEMPT
    return CancellationOutcome.NOT_INVOICED


def open_lines(document: InvoiceDocument, credited_memberships: Collection[int]) -> list[DocumentLine]:
    """The original's lines not credited yet, in printed order."""
    return [line for line in document.lines if line.membership_id not in credited_memberships]


def credit_note_document(*, number: str, issue_date: date, seller: Seller, original: InvoiceDocument,
                         lines: Sequence[DocumentLine], round_to_krona: bool = False) -> InvoiceDocument:
    """A credit note for ``lines`` of ``original``: each line negated, totals from the negated lines.

    The buyer is the original's (a credit note goes to whom the invoice went).
    There is nothing to pay, so the due date is the issue date. An original
    with öresavrundning is credited with it too (half away from zero, so a
    full credit's payable is exactly the original's, negated).
    """
    if not lines:
        raise CreditRefused("Det finns inga rader kvar att kreditera på fakturan.")
    if original.kind != "invoice":
        raise CreditRefused("En kreditfaktura kan inte krediteras.")
    unknown = {line.membership_id for line in lines} - {line.membership_id for line in original.lines}
    if unknown:
        raise ValueError(f"lines {sorted(unknown)} are not on invoice {original.number}")
    negated = tuple(line.model_copy(update={"amount": -line.amount}) for line in lines)
    return _document(number=number, kind="credit_note", issue_date=issue_date, payment_terms_days=0,
                     seller=seller, buyer=original.buyer, lines=negated, original=original, credited=True,
                     round_to_krona=round_to_krona or original.rounding != 0)


@dataclass(frozen=True)
class BuyerCorrection:
    """The invoice details finance may correct when reissuing: address, email and reference."""

    name: str
    invoice_email: str
    street: str
    postal_code: str
    city: str
    reference: str

    @classmethod
    def of(cls, buyer: Buyer) -> BuyerCorrection:
        return cls(buyer.name, buyer.invoice_email, buyer.street, buyer.postal_code, buyer.city,
                   buyer.reference)

    def applied_to(self, buyer: Buyer) -> Buyer:
        return buyer.model_copy(update={
            "name": self.name, "invoice_email": self.invoice_email, "street": self.street,
            "postal_code": self.postal_code, "city": self.city, "reference": self.reference})


def correction_problems(correction: BuyerCorrection, current: Buyer) -> dict[str, str]:
    """Swedish messages per field; empty when the correction can be used."""
    problems: dict[str, str] = {}
    for key, label in (("name", "Namn"), ("invoice_email", "E-post för fakturor"), ("street", "Gatuadress"),
                       ("postal_code", "Postnummer"), ("city", "Ort")):
        if not getattr(correction, key).strip():
            problems[key] = f"{label} måste anges."
    email = correction.invoice_email.strip()
    if "invoice_email" not in problems and (
            email.count("@") != 1 or "." not in email.split("@")[1] or any(c.isspace() for c in email)):
        problems["invoice_email"] = "Ange en giltig e-postadress, t.ex. faktura@kommun.se."
    digits = correction.postal_code.replace(" ", "")
    if "postal_code" not in problems and not (is_digits(digits) and len(digits) == 5):
        problems["postal_code"] = "Postnumret ska vara fem siffror, t.ex. 111 22."
    limits = {"name": 300, "invoice_email": 320, "street": 200, "postal_code": 10, "city": 100,
              "reference": 100}
    for key, limit in limits.items():
        if len(getattr(correction, key)) > limit and key not in problems:
            problems[key] = f"Högst {limit} tecken."
    if not problems and correction == BuyerCorrection.of(current):
        problems["form"] = "Inget är ändrat: rätta adressen, e-posten eller referensen."
    return problems


def reissued_document(*, number: str, issue_date: date, payment_terms_days: int, seller: Seller,
                      original: InvoiceDocument, lines: Sequence[DocumentLine], buyer: Buyer,
                      round_to_krona: bool = False) -> InvoiceDocument:
    """The new invoice that replaces ``original``: the same lines, the corrected buyer, new dates."""
    if not lines:
        raise CreditRefused("Det finns inga rader kvar att fakturera på nytt.")
    return _document(number=number, kind="invoice", issue_date=issue_date,
                     payment_terms_days=payment_terms_days, seller=seller, buyer=buyer,
                     lines=tuple(lines), original=original, credited=False, round_to_krona=round_to_krona)


def _document(*, number: str, kind: str, issue_date: date, payment_terms_days: int, seller: Seller,
              buyer: Buyer, lines: tuple[DocumentLine, ...], original: InvoiceDocument, credited: bool,
              round_to_krona: bool) -> InvoiceDocument:
    totals = compute_totals([(line.amount, line.vat_rate) for line in lines], round_to_krona=round_to_krona)
    return InvoiceDocument(
        number=number, kind="credit_note" if kind == "credit_note" else "invoice", issue_date=issue_date,
        due_date=due_date(issue_date, payment_terms_days), payment_terms_days=payment_terms_days,
        ocr=ocr_reference(number), seller=seller, buyer=buyer, lines=lines,
        vat_groups=tuple(VatGroupLine(rate=g.rate, net=g.net, vat=g.vat) for g in totals.groups),
        net=totals.net, vat=totals.vat, total=totals.total, rounding=totals.rounding,
        notes=original.notes, vat_exemption_reason=original.vat_exemption_reason,
        credited_number=original.number if credited else None,
        credited_issue_date=original.issue_date if credited else None,
    )
