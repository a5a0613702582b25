"""Invoicing rules, pure: fee decisions, invoice numbers, dates and the invoice document.

Amounts are computed by ``shared.money`` (``compute_totals``), OCR references
by ``services.invoicing.ocr``; both are re-exported here for the handlers.

No I/O, no clock, no environment: the handler passes in today's date, the
loaded policies and what the database already knows. So every rule here is
tested without a database.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum

from services.invoicing.document import (
    Buyer,
    DocumentLine,
    InvoiceDocument,
    Seller,
    VatGroupLine,
)
from services.invoicing.ocr import ocr_reference as ocr_reference
from services.invoicing.ocr import valid_ocr as valid_ocr
from shared.digits import only_digits
from shared.events import MembershipInfo
from shared.money import Totals as Totals
from shared.money import VatGroup as VatGroup
from shared.money import compute_totals, money
from shared.policy import FeePolicy, fee_for


class Outcome(StrEnum):
    INVOICED = "invoiced"
    EXEMPT = "exempt"
    # No policy for the membership's year: nothing billed, and finance sees it on
    # the invoices page. A later sign-up listing the membership decides again.
    NO_POLICY = "no_policy"
    # Cancelled before its sign-up or renewal reached invoicing (events out of order):
    # never invoiced, so there is nothing to credit either.
    CANCELLED = "cancelled"


CANCELLED_BEFORE_INVOICING = "Medlemskapet avslutades innan det fakturerades"


@dataclass(frozen=True)
class FeeDecision:
    membership: MembershipInfo
    outcome: Outcome
    amount: Decimal | None = None
    vat_rate: Decimal | None = None
    reason: str = ""
    # Printed with the totals, e.g. the legal text when the fee is outside the scope of VAT.
    vat_note: str = ""


def decide_fees(
    policies: Mapping[int, FeePolicy],
    memberships: Iterable[MembershipInfo],
    already_decided: Collection[int] = (),
    cancelled: Collection[int] = (),
) -> list[FeeDecision]:
    """One decision per membership not yet decided, from our own policy (never the event's fee fields).

    The VAT rate is the policy's, and only the policy's: registration's receipt
    reads the same file, so the receipt and the invoice always agree.
    ``cancelled``: memberships whose cancellation arrived first; they are recorded, never invoiced.
    """
    decisions: list[FeeDecision] = []
    seen = set(already_decided)
    for membership in memberships:
        if membership.membership_id in seen:
            continue  # one fee per membership: already billed or already exempted
        seen.add(membership.membership_id)
        if membership.membership_id in cancelled:
            decisions.append(FeeDecision(membership, Outcome.CANCELLED, reason=CANCELLED_BEFORE_INVOICING))
            continue
        policy = policies.get(membership.year)
        if policy is None:
            decisions.append(FeeDecision(membership, Outcome.NO_POLICY,
                                         reason=f"Ingen avgiftspolicy för {membership.year}"))
            continue
        fee = fee_for(policy, membership.network_code)
        if fee.exempt:
            decisions.append(FeeDecision(membership, Outcome.EXEMPT, reason=fee.exemption_reason))
            continue
        decisions.append(FeeDecision(
            membership, Outcome.INVOICED, amount=fee.amount,
            vat_rate=policy.effective_vat_rate,
            vat_note=policy.vat_note if policy.vat_treatment == "outside_scope" else "",
        ))
    return decisions


def format_rate(rate: Decimal) -> str:
    """``Decimal("0.25")`` → ``"25 %"``, ``Decimal("0.125")`` → ``"12,5 %"``."""
    percent = (rate * 100).normalize()
    text = f"{percent:f}".replace(".", ",")
    return f"{text}\u00a0%"


# --- Numbers, OCR and dates ---

def series_for(issue_date: date) -> str:
    """One number series per issue year, so numbers read like ``2026-00001``."""
    return str(issue_date.year)


def next_sequence(last: int) -> int:
    """The next number in a series: no gaps, so always exactly one more."""
    if last < 0:
        raise ValueError("a series' last number cannot be negative")
    return last + 1


def format_invoice_number(series: str, sequence: int) -> str:
    if sequence < 1:
        raise ValueError("invoice numbers start at 1")
    return f"{series}-{sequence:05d}"


def format_org_number(org_number: str) -> str:
    """``5566778899`` → ``556677-8899``, the way it is printed; anything else is kept as given."""
    digits = only_digits(org_number)
    return f"{digits[:6]}-{digits[6:]}" if len(digits) == 10 else org_number


def due_date(issue_date: date, payment_terms_days: int) -> date:
    return issue_date + timedelta(days=payment_terms_days)


def membership_period(year: int) -> tuple[date, date]:
    """A membership is for a calendar year: the period the fee pays for."""
    return date(year, 1, 1), date(year, 12, 31)


def fee_description(year: int) -> str:
    return f"Medlemsavgift {year}"


# --- The document ---

def build_invoice(
    *,
    number: str,
    issue_date: date,
    payment_terms_days: int,
    seller: Seller,
    buyer: Buyer,
    decisions: Sequence[FeeDecision],
    round_to_krona: bool = False,
) -> InvoiceDocument:
    """The snapshot of an invoice for the invoiced decisions, totals checked.

    ``round_to_krona`` rounds what is payable to whole kronor and states the
    difference as öresavrundning (printed, and UBL PayableRoundingAmount).
    """
    lines: list[DocumentLine] = []
    notes: list[str] = []
    for decision in decisions:
        if decision.outcome is not Outcome.INVOICED or decision.amount is None or decision.vat_rate is None:
            raise ValueError(f"membership {decision.membership.membership_id} is not to be invoiced")
        membership = decision.membership
        start, end = membership_period(membership.year)
        lines.append(DocumentLine(
            membership_id=membership.membership_id, network_code=membership.network_code,
            network_name=membership.network_name, year=membership.year,
            description=fee_description(membership.year), period_start=start, period_end=end,
            vat_rate=decision.vat_rate, amount=money(decision.amount),
        ))
        if decision.vat_note and decision.vat_note not in notes:
            notes.append(decision.vat_note)
    if not lines:
        raise ValueError("an invoice needs at least one line")
    totals = compute_totals([(line.amount, line.vat_rate) for line in lines], round_to_krona=round_to_krona)
    return InvoiceDocument(
        number=number, kind="invoice", issue_date=issue_date,
        due_date=due_date(issue_date, payment_terms_days), payment_terms_days=payment_terms_days,
        ocr=ocr_reference(number), seller=seller, buyer=buyer, lines=tuple(lines),
        vat_groups=tuple(VatGroupLine(rate=g.rate, net=g.net, vat=g.vat) for g in totals.groups),
        net=totals.net, vat=totals.vat, total=totals.total, notes=tuple(notes), rounding=totals.rounding,
        vat_exemption_reason=" ".join(notes),
    )
