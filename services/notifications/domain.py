"""Pure rules: which emails an event calls for, how each is rendered, and when a failed one is retried.

No I/O, no clock, no environment: the event, the sender and ``now``/jitter are
passed in. The rendered message is final: its ``Message-ID`` and ``Date``
come from the event, so the same (event, recipient) always renders to the same
identity, and the stored bytes are what every attempt sends.
"""

from __future__ import annotations

import base64
import email.utils
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

import jinja2

from services.notifications import mime, timefmt
from shared.events import InvoiceIssued, SignupCompleted
from shared.money import format_sek

TEMPLATES = Path(__file__).parent / "templates" / "email"
# Fixed namespace: Message-IDs must stay the same across restarts and instances.
MESSAGE_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_DNS, "notifications.reglab-natverk")
MESSAGE_ID_DOMAIN = "reglab-natverk"


class EmailKind(StrEnum):
    signup_confirmation = "signup_confirmation"
    invoice = "invoice"
    invoice_copy = "invoice_copy"
    # To STAFF_EMAIL (see alerts.py); a failed alert raises no further alert.
    dead_letter_alert = "dead_letter_alert"
    mail_failed_alert = "mail_failed_alert"
    # Meetings (see meetings.py) and the reminder ledger (see reminders/).
    meeting_invitation = "meeting_invitation"
    meeting_updated = "meeting_updated"
    meeting_cancelled = "meeting_cancelled"
    participant_registered = "participant_registered"
    participant_waiting = "participant_waiting"
    participant_promoted = "participant_promoted"
    participant_cancelled = "participant_cancelled"
    meeting_reminder = "meeting_reminder"
    invitation_reminder = "invitation_reminder"
    payment_reminder = "payment_reminder"
    staff_digest = "staff_digest"


class EmailStatus(StrEnum):
    queued = "queued"
    sent = "sent"
    failed = "failed"


@dataclass(frozen=True)
class OutgoingEmail:
    """One email an event calls for, before it is turned into RFC 5322 bytes."""

    kind: EmailKind
    to_address: str
    to_name: str
    subject: str
    text: str
    html: str | None = None
    attachments: tuple[mime.Part, ...] = ()


@dataclass(frozen=True)
class RenderedEmail:
    """What is stored and sent: the envelope and the final message bytes."""

    kind: EmailKind
    recipient: str
    envelope_from: str
    subject: str
    message_id: str
    raw: bytes


# --- Templates -------------------------------------------------------------

def _amount(value: Decimal, currency: str = "SEK") -> str:
    return format_sek(value) if currency == "SEK" else f"{value:.2f} {currency}"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        # HTML parts are escaped; plain-text parts are not HTML, so escaping would garble them.
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # Templates ship with the code: no stat() per render to check for edits.
        auto_reload=False,
    )
    env.filters["sek"] = format_sek
    env.filters["amount"] = _amount
    env.filters["datetime_sv"] = timefmt.swedish_datetime
    env.filters["date_sv"] = timefmt.swedish_date
    env.filters["clock"] = timefmt.clock_time
    return env


_env = _environment()


def _render(name: str, context: dict[str, Any]) -> str:
    return _env.get_template(name).render(context)


def render_template(name: str, context: dict[str, Any]) -> str:
    """An email template from ``templates/email`` (for modules beside this one)."""
    return _render(name, context)


# --- Which emails an event calls for ---------------------------------------

@dataclass(frozen=True)
class FeeRow:
    network: str
    fee: str
    note: str


def one_line(text: str, limit: int = 200) -> str:
    """User text made safe for a header: control characters and line breaks become spaces."""
    cleaned = re.sub(r"[\x00-\x1f\x7f\u0085\u2028\u2029\s]+", " ", text).strip()
    return cleaned[:limit]


def fee_rows(event: SignupCompleted) -> tuple[list[FeeRow], Decimal]:
    """One row per membership, and what the organisation will be invoiced for this sign-up."""
    rows: list[FeeRow] = []
    due = Decimal("0.00")
    for membership in event.memberships:
        again = "" if membership.created else "Redan anmält sedan tidigare – ingen ny avgift."
        if membership.fee_exempt:
            reason = membership.exemption_reason or "avgiftsfritt nätverk"
            rows.append(FeeRow(membership.network_name, "Avgiftsfri", f"{reason}. {again}".strip()))
        elif membership.fee is None:
            rows.append(FeeRow(membership.network_name, "Avgift meddelas senare", again))
        else:
            rows.append(FeeRow(membership.network_name, format_sek(membership.fee), again))
            if membership.created:
                due += membership.fee
    return rows, due


def signup_emails(event: SignupCompleted) -> list[OutgoingEmail]:
    """The confirmation to the contact who signed the organisation up."""
    rows, due = fee_rows(event)
    context = {
        "contact_name": one_line(event.contact.name),
        "organisation": event.organisation,
        "year": event.year,
        "rows": rows,
        "due": due,
        "fee_due": due > 0,
    }
    subject = f"Bekräftelse: anmälan till Reglabs nätverk {event.year}"
    return [OutgoingEmail(
        kind=EmailKind.signup_confirmation,
        to_address=event.contact.email,
        to_name=event.contact.name,
        subject=subject,
        text=_render("signup_confirmation.txt", context),
        html=_render("signup_confirmation.html", context),
    )]


def invoice_emails(event: InvoiceIssued, *, finance_email: str) -> list[OutgoingEmail]:
    """The invoice to the buyer's invoice address, and a copy to finance (unless that is the same)."""
    credit = event.kind == "credit_note"
    title = "Kreditfaktura" if credit else "Faktura"
    pdf = mime.Part(content_type="application/pdf", content=base64.b64decode(event.pdf_base64),
                    filename=f"{'kreditfaktura' if credit else 'faktura'}-{event.number}.pdf")
    context = {
        "title": title,
        "credit": credit,
        "invoice": event,
        "organisation": event.organisation,
        # A credit note's total is negative: it is money owed to the buyer, shown as a positive amount.
        "to_pay": abs(event.total),
    }
    emails = [OutgoingEmail(
        kind=EmailKind.invoice,
        to_address=event.organisation.invoice_email,
        to_name=event.organisation.name,
        subject=f"{title} {event.number} från Reglab",
        text=_render("invoice.txt", context),
        html=_render("invoice.html", context),
        attachments=(pdf,),
    )]
    if recipient_key(finance_email) != recipient_key(event.organisation.invoice_email):
        emails.append(OutgoingEmail(
            kind=EmailKind.invoice_copy,
            to_address=finance_email,
            to_name="",
            subject=f"Kopia: {title} {event.number} till {event.organisation.name}",
            text=_render("invoice_copy.txt", context),
            attachments=(pdf,),
        ))
    return emails


# --- Rendering to RFC 5322 bytes --------------------------------------------

def recipient_key(address: str) -> str:
    """The form of an address that identifies a recipient (unique per event): ``Name <a@b>`` is ``a@b``."""
    bare = email.utils.parseaddr(address)[1] or address
    return bare.strip().casefold()


def message_id_for(event_id: uuid.UUID | str, recipient: str) -> str:
    """Stable per (event, recipient): a retry, or a second instance, reuses the same identity."""
    name = f"{event_id}|{recipient_key(recipient)}"
    return f"<{uuid.uuid5(MESSAGE_ID_NAMESPACE, name)}@{MESSAGE_ID_DOMAIN}>"


def render(outgoing: OutgoingEmail, *, sender: str, event_id: uuid.UUID | str,
           date: datetime) -> RenderedEmail:
    """Build the final message; raises ``ValueError`` if the recipient or sender is no address."""
    from_box = mime.parse_mailbox(sender)
    to_box = mime.parse_mailbox(outgoing.to_address, one_line(outgoing.to_name))
    message_id = message_id_for(event_id, to_box.addr_spec)
    subject = one_line(outgoing.subject, limit=300)
    headers = [
        ("From", mime.Mailbox(one_line(from_box.display_name), from_box.addr_spec).header()),
        ("To", to_box.header()),
        ("Subject", subject),
        ("Date", email.utils.format_datetime(date)),
        ("Message-ID", message_id),
        ("Auto-Submitted", "auto-generated"),
    ]
    raw = mime.build(headers, text=outgoing.text, html=outgoing.html, attachments=outgoing.attachments,
                     seed=message_id)
    return RenderedEmail(kind=outgoing.kind, recipient=to_box.addr_spec, envelope_from=from_box.addr_spec,
                         subject=subject, message_id=message_id, raw=raw)


# --- Retries ----------------------------------------------------------------

def retry_delay(attempts: int, *, base: float, ceiling: float, jitter: float) -> float:
    """Seconds to wait after the ``attempts``-th failure.

    Exponential (base · 2^(attempts−1)), capped at ``ceiling``, then jittered
    into the upper half [d/2, d] so that emails failing together do not all
    come back in the same instant, while the delay still grows every attempt.
    ``jitter`` is a random number in [0, 1].
    """
    if not 0.0 <= jitter <= 1.0:
        raise ValueError("jitter must be in [0, 1]")
    exponent = min(max(attempts - 1, 0), 64)  # 2**64 · base is far past any ceiling
    delay = min(ceiling, base * 2.0**exponent)
    return delay / 2 + delay / 2 * jitter


def next_attempt_at(now: datetime, attempts: int, *, base: float, ceiling: float,
                    jitter: float) -> datetime:
    return now + timedelta(seconds=retry_delay(attempts, base=base, ceiling=ceiling, jitter=jitter))


def status_after_failure(attempts: int, max_attempts: int) -> EmailStatus:
    """Still queued unless a positive ``max_attempts`` is reached (0 means retry for ever)."""
    return EmailStatus.failed if max_attempts and attempts >= max_attempts else EmailStatus.queued
