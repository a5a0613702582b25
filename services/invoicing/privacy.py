"""Invoicing's part of GDPR: invoices are kept (Bokföringslagen 7 kap.), so an erasure keeps and says so.

An issued invoice (and a credit note) is a snapshot of what was printed, the
buyer's invoice address and reference included, and part of the accounting
records that must be kept for seven years after the end of the financial year.
It is never edited, so ``person.erased`` changes nothing here; the export shows
what is kept, and the erasure is audited with the count and the reason.
Tables that hold personal data without that obligation register their own part.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from services.invoicing.models import InvInvoice
from shared.privacy import Erasure, Outcome, PrivacyRegistry

BOOKKEEPING = "räkenskapsinformation, Bokföringslagen 7 kap.: sparas 7 år"


def _invoices(session: Session, email: str) -> list[InvInvoice]:
    return list(session.exec(select(InvInvoice).where(func.lower(InvInvoice.buyer_email) == email)
                             .order_by(col(InvInvoice.id))).all())


def export_invoices(session: Session, email: str) -> list[dict[str, Any]]:
    return [{"number": i.number, "kind": i.kind, "issue_date": i.issue_date.isoformat(),
             "buyer_name": i.buyer_name, "buyer_org_number": i.buyer_org_number, "buyer_email": i.buyer_email,
             "total": str(i.total), "kept_because": BOOKKEEPING} for i in _invoices(session, email)]


def keep_invoices(session: Session, erasure: Erasure) -> Outcome:
    return Outcome(erased=0, kept=len(_invoices(session, erasure.email)), kept_because=BOOKKEEPING)


def invoicing_privacy() -> PrivacyRegistry:
    registry = PrivacyRegistry("invoicing")
    registry.register("invoices", export=export_invoices, erase=keep_invoices)
    return registry
