"""Events, a real PDF and a publisher for the notifications tests."""

from __future__ import annotations

import asyncio
import base64
import io
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal

from faststream.redis import RedisBroker
from pypdf import PdfWriter
from sqlalchemy import Engine

from shared.db import make_engine
from shared.events import (
    Address,
    Contact,
    EventBase,
    InvoiceIssued,
    InvoiceLineInfo,
    MembershipInfo,
    OrganisationSnapshot,
    SignupCompleted,
)
from shared.migrations import migrate_service

OCCURRED = datetime(2018, 1, 15, 9, 30, tzinfo=UTC)


def organisation(invoice_email: str = "faktura@region-varmland.example") -> OrganisationSnapshot:
    return OrganisationSnapshot(
        id=7, name="Region Värmland", org_number="2321000222", invoice_email=invoice_email,
        address=Address(street="Box 1022", postal_code="651 15", city="Karlstad"),
        buyer_reference="Anna Svensson")


def signup_event(*, contact_name: str = "Anna Svensson", contact_email: str = "anna@region-varmland.example",
                 signup_id: int = 1) -> SignupCompleted:
    return SignupCompleted(
        occurred_at=OCCURRED, correlation_id=f"corr-signup-{signup_id}", signup_id=signup_id,
        organisation=organisation(), contact=Contact(name=contact_name, email=contact_email), year=2018,
        memberships=(
            MembershipInfo(membership_id=1, network_code="analytiker", network_name="Analytikernätverket",
                           year=2018, created=True, fee_exempt=True,
                           exemption_reason="Samarrangemang med Tillväxtverket"),
            MembershipInfo(membership_id=2, network_code="ung-region", network_name="Ung region",
                           year=2018, created=True, fee_exempt=False, fee=Decimal("4000.00")),
            MembershipInfo(membership_id=3, network_code="rus", network_name="RUS-nätverket",
                           year=2018, created=False, fee_exempt=False, fee=Decimal("4000.00")),
        ))


def small_pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def invoice_event(*, number: str = "2018-00001", pdf: bytes | None = None,
                  invoice_email: str = "faktura@region-varmland.example") -> InvoiceIssued:
    return InvoiceIssued(
        occurred_at=OCCURRED, correlation_id=f"corr-invoice-{number}", number=number, signup_id=1,
        organisation=organisation(invoice_email), issue_date=date(2018, 1, 15), due_date=date(2018, 2, 14),
        lines=(InvoiceLineInfo(network_code="ung-region", description="Ung region 2018",
                               amount=Decimal("4000.00")),),
        net=Decimal("4000.00"), vat=Decimal("1000.00"), total=Decimal("5000.00"), ocr="100012018",
        pdf_base64=base64.b64encode(pdf if pdf is not None else small_pdf()).decode())


async def publish_async(redis_url: str, *events: EventBase) -> None:
    """Publish like the outbox relay does: the payload, the event id as message_id, the correlation id."""
    broker = RedisBroker(redis_url)
    await broker.connect()
    try:
        for event in events:
            await broker.publish(event.model_dump_json(), stream=event.stream,
                                 headers={"message_id": str(event.event_id)},
                                 correlation_id=event.correlation_id)
    finally:
        await broker.stop()


def publish(redis_url: str, *events: EventBase) -> None:
    asyncio.run(publish_async(redis_url, *events))


@contextmanager
def migrated_engine(database_url: str) -> Iterator[Engine]:
    """Notifications' database as the service builds it (its tables and the common ones, by migration)."""
    from services.notifications.app import SERVICE_MODELS  # the app's import stays out of the other helpers

    engine = make_engine(database_url)
    try:
        migrate_service(engine, "notifications", SERVICE_MODELS)
        yield engine
    finally:
        engine.dispose()
