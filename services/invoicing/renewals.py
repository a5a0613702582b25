"""The yearly run, invoicing's side: ``memberships.renewed`` is invoiced exactly like a sign-up.

Registration publishes one event per organisation with its renewed
memberships; :func:`services.invoicing.handlers.invoice_signup` makes one
invoice with a line per fee-liable network under the new year's policy and
records the exemptions (and a membership cancelled before its renewal was
invoiced is not invoiced).
"""

from __future__ import annotations

from sqlmodel import Session

from services.invoicing.handlers import InvoicingContext, invoice_signup
from shared.consumer import EventHandler
from shared.events import MembershipsRenewed


def make_renewal_handler(context: InvoicingContext) -> EventHandler:
    def handle(session: Session, event: MembershipsRenewed) -> None:
        invoice_signup(session, event, context)

    return handle
