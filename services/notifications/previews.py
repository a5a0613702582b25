"""Sample data for every email template, so staff can preview each one (the /templates pages).

Each template file maps to the email that uses it, built by the same code
that builds the real one, from sample events. A test renders every template
file through this table: a new template without sample data fails it.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from services.notifications import alerts, digest, domain, meetings
from services.notifications.domain import OutgoingEmail
from services.notifications.readmodels import (
    DeadLetterSeen,
    InviteeView,
    InvoiceView,
    MeetingView,
    ParticipantView,
)
from services.notifications.reminders import rules
from shared.events import (
    Address,
    Contact,
    DeadLetterRecorded,
    Invitee,
    InvoiceIssued,
    InvoiceLineInfo,
    MeetingCancelled,
    MeetingInfo,
    MeetingScheduled,
    MeetingUpdated,
    MembershipInfo,
    OrganisationSnapshot,
    Participant,
    SignupCompleted,
)

NOW = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)
ORGANISATION = OrganisationSnapshot(
    id=7,
    name="Region Värmland",
    org_number="2321000222",
    invoice_email="faktura@region-varmland.example",
    address=Address(street="Box 1022", postal_code="651 15", city="Karlstad"),
    buyer_reference="Anna Svensson",
)
MEETING = MeetingInfo(
    meeting_id=12,
    network_code="analytiker",
    network_name="Analytikernätverket",
    title="Vårträff: regional statistik",
    starts_at=datetime(2027, 3, 16, 9, 0, tzinfo=UTC),
    ends_at=datetime(2027, 3, 16, 15, 0, tzinfo=UTC),
    venue="Reglab, Konferensrum Ljuset",
    address="Storgatan 1, 111 22 Stockholm",
    agenda="09.30 Välkommen\n10.00 Regional statistik i praktiken",
    capacity=30,
    registration_deadline=date(2027, 3, 9),
    sequence=1,
)
INVITEE_ANNA = (5, "Anna Svensson", "anna@region-varmland.example")
PARTICIPANT = Participant(
    participant_id=40,
    name="Anna Svensson",
    email="anna@region-varmland.example",
    organisation_name="Region Värmland",
    contact_id=5,
)


@dataclass(frozen=True)
class SampleFailedEmail:
    id: int
    kind: str
    recipient: str
    subject: str
    message_id: str
    attempts: int
    last_error: str | None
    source_event_type: str
    source_event_id: str
    correlation_id: str


@dataclass(frozen=True)
class Preview:
    title: str
    build: Callable[[meetings.Links, str], OutgoingEmail]


def _invitees() -> tuple[Invitee, ...]:
    contact_id, name, email = INVITEE_ANNA
    return (
        Invitee(
            contact_id=contact_id,
            name=name,
            email=email,
            organisation_id=7,
            organisation_name="Region Värmland",
        ),
    )


def _invitation(links: meetings.Links, organizer: str) -> OutgoingEmail:
    event = MeetingScheduled(occurred_at=NOW, correlation_id="preview", meeting=MEETING, invitees=_invitees())
    return meetings.invitation_emails(event, links=links, organizer=organizer, unsubscribed=frozenset())[0]


def _invitation_reminder(links: meetings.Links, organizer: str) -> OutgoingEmail:
    recipient = meetings.invitee_recipient(_invitees()[0])
    return meetings.invitation(
        MEETING, recipient, links=links, organizer=organizer, sent_at=NOW, reminder=True
    )


def _updated(links: meetings.Links, organizer: str) -> OutgoingEmail:
    event = MeetingUpdated(
        occurred_at=NOW,
        correlation_id="preview",
        meeting=MEETING,
        invitees=_invitees(),
        changes=(("Lokal", "Reglab, Konferensrum Mörkret", MEETING.venue),),
    )
    recipients = [meetings.participant_recipient(PARTICIPANT, "registered")]
    return meetings.update_emails(event, recipients, links=links, organizer=organizer)[0]


def _cancelled(links: meetings.Links, organizer: str) -> OutgoingEmail:
    event = MeetingCancelled(
        occurred_at=NOW,
        correlation_id="preview",
        meeting=MEETING,
        invitees=_invitees(),
        reason="För få anmälda.",
    )
    recipients = [meetings.participant_recipient(PARTICIPANT, "registered")]
    return meetings.cancellation_emails(event, recipients, organizer=organizer)[0]


def _participant(what: str) -> Callable[[meetings.Links, str], OutgoingEmail]:
    def build(links: meetings.Links, organizer: str) -> OutgoingEmail:
        return meetings.participant_email(
            what, MEETING, PARTICIPANT, links=links, organizer=organizer, sent_at=NOW
        )

    return build


def _meeting_view() -> MeetingView:
    return MeetingView(**{name: getattr(MEETING, name) for name in MeetingInfo.model_fields})


def _meeting_reminder(links: meetings.Links, organizer: str) -> OutgoingEmail:
    rule = rules.RULES_BY_NAME["meeting_1d"]
    snapshot = rules.Snapshot(
        meetings=(_meeting_view(),),
        participants=(
            ParticipantView(
                participant_id=PARTICIPANT.participant_id,
                meeting_id=MEETING.meeting_id,
                contact_id=5,
                name=PARTICIPANT.name,
                email=PARTICIPANT.email,
                organisation_name="Region Värmland",
                status="registered",
            ),
        ),
        invitees=(
            InviteeView(
                meeting_id=MEETING.meeting_id,
                contact_id=5,
                name="Anna Svensson",
                email=PARTICIPANT.email,
                organisation_id=7,
                organisation_name="Region Värmland",
            ),
        ),
    )
    row = rules.due_rows((rule,), snapshot, MEETING.starts_at - timedelta(hours=20))[0]
    email = rule.build(rule, row, snapshot, rules.Context(links=links, organizer=organizer))
    assert email is not None
    return email


def _invoice_view() -> InvoiceView:
    return InvoiceView(
        number="2027-00042",
        organisation="Region Värmland",
        email="faktura@region-varmland.example",
        due_date=date(2027, 2, 1),
        ocr="2027004204",
        total=Decimal("5000.00"),
        outstanding=Decimal("5000.00"),
        overdue_as_of=date(2027, 2, 2),
    )


def _payment_reminder(links: meetings.Links, organizer: str) -> OutgoingEmail:
    rule = rules.RULES_BY_NAME["payment_7d"]
    snapshot = rules.Snapshot(invoices=(_invoice_view(),))
    row = rules.due_rows((rule,), snapshot, datetime(2027, 2, 9, 12, 0, tzinfo=UTC))[0]
    email = rule.build(rule, row, snapshot, rules.Context(links=links, organizer=organizer))
    assert email is not None
    return email


def _digest(_links: meetings.Links, _organizer: str) -> OutgoingEmail:
    without_venue = _meeting_view()
    without_venue.venue = ""
    content = digest.collect(
        now=NOW,
        weeks_by_year={2027: [11, 20, 38]},
        meetings=[without_venue],
        registered={12: 3},
        invoices=[_invoice_view()],
        failed_emails=[
            digest.FailedEmailLine(
                id=318,
                recipient="fel@exempel.invalid",
                subject="Inbjudan: Vårträff",
                error="550 No such user",
            )
        ],
        failed_total=1,
        dead_letters=[
            DeadLetterSeen(
                dead_letter_id="x",
                recorded_at=NOW - timedelta(days=1),
                source_stream="reglab.registration",
                group="invoicing",
                event_type="signup.completed",
                error="ValueError: ...",
            )
        ],
        few_share=0.3,
    )
    return digest.digest_email(content, staff_email="kansliet@reglab.example")


def _signup() -> SignupCompleted:
    return SignupCompleted(
        occurred_at=NOW,
        correlation_id="preview",
        signup_id=1,
        organisation=ORGANISATION,
        contact=Contact(name="Anna Svensson", email="anna@region-varmland.example"),
        year=2027,
        memberships=(
            MembershipInfo(
                membership_id=1,
                network_code="analytiker",
                network_name="Analytikernätverket",
                year=2027,
                created=True,
                fee_exempt=False,
                fee=Decimal("4000.00"),
            ),
            MembershipInfo(
                membership_id=2,
                network_code="rus",
                network_name="RUS-nätverket",
                year=2027,
                created=True,
                fee_exempt=True,
                exemption_reason="Samarrangemang",
            ),
        ),
    )


def _invoice_event() -> InvoiceIssued:
    return InvoiceIssued(
        occurred_at=NOW,
        correlation_id="preview",
        number="2027-00042",
        signup_id=1,
        organisation=ORGANISATION,
        issue_date=date(2027, 1, 2),
        due_date=date(2027, 2, 1),
        lines=(
            InvoiceLineInfo(
                network_code="analytiker", description="Analytikernätverket 2027", amount=Decimal("4000.00")
            ),
        ),
        net=Decimal("4000.00"),
        vat=Decimal("1000.00"),
        total=Decimal("5000.00"),
        ocr="2027004204",
        pdf_base64=base64.b64encode(b"%PDF-1.4 preview").decode(),
    )


def _invoice(links: meetings.Links, organizer: str) -> OutgoingEmail:
    return domain.invoice_emails(_invoice_event(), finance_email="ekonomi@reglab.example")[0]


def _invoice_copy(links: meetings.Links, organizer: str) -> OutgoingEmail:
    return domain.invoice_emails(_invoice_event(), finance_email="ekonomi@reglab.example")[1]


def _dead_letter(links: meetings.Links, organizer: str) -> OutgoingEmail:
    event = DeadLetterRecorded(
        occurred_at=NOW,
        correlation_id="preview",
        dead_letter_id="1-0",
        source_stream="reglab.registration",
        group="invoicing",
        entry_id="1700000000000-0",
        error="ValueError: okänt nätverk",
        event_type="signup.completed",
        source_event_id="9b2f...",
    )
    return alerts.dead_letter_emails(event, staff_email="kansliet@reglab.example")[0]


def _mail_failed(links: meetings.Links, organizer: str) -> OutgoingEmail:
    failed = SampleFailedEmail(
        id=318,
        kind="meeting_invitation",
        recipient="fel@exempel.invalid",
        subject="Inbjudan: Vårträff",
        message_id="<x@reglab-natverk>",
        attempts=24,
        last_error="550 No such user",
        source_event_type="meeting.scheduled",
        source_event_id="9b2f...",
        correlation_id="preview",
    )
    return alerts.mail_failed_email([failed], staff_email="kansliet@reglab.example")


# Template file → the email that shows it. Included files (facts) preview through their includer.
PREVIEWS: dict[str, Preview] = {
    "meeting_invitation.txt": Preview("Inbjudan till möte", _invitation),
    "meeting_facts.txt": Preview("Mötesuppgifter (ingår i mötesmejlen)", _invitation),
    "invitation_reminder.txt": Preview("Påminnelse om inbjudan", _invitation_reminder),
    "meeting_updated.txt": Preview("Ändrat möte", _updated),
    "meeting_cancelled.txt": Preview("Inställt möte", _cancelled),
    "participant_registered.txt": Preview("Bekräftad mötesanmälan", _participant("registered")),
    "participant_waiting.txt": Preview("Plats på väntelista", _participant("waiting")),
    "participant_promoted.txt": Preview("Plats från väntelistan", _participant("promoted")),
    "participant_cancelled.txt": Preview("Avbokad mötesanmälan", _participant("cancelled")),
    "meeting_reminder.txt": Preview("Påminnelse om möte", _meeting_reminder),
    "payment_reminder.txt": Preview("Betalningspåminnelse", _payment_reminder),
    "staff_digest.txt": Preview("Veckosammanställning till kansliet", _digest),
    "signup_confirmation.txt": Preview(
        "Bekräftelse av anmälan (text)", lambda _l, _o: domain.signup_emails(_signup())[0]
    ),
    "signup_confirmation.html": Preview(
        "Bekräftelse av anmälan (HTML)", lambda _l, _o: domain.signup_emails(_signup())[0]
    ),
    "invoice.txt": Preview("Faktura (text)", _invoice),
    "invoice.html": Preview("Faktura (HTML)", _invoice),
    "invoice_facts.txt": Preview("Fakturauppgifter (ingår i fakturamejlen)", _invoice),
    "invoice_copy.txt": Preview("Fakturakopia till ekonomi", _invoice_copy),
    "dead_letter_alert.txt": Preview("Dött meddelande (till kansliet)", _dead_letter),
    "mail_failed_alert.txt": Preview("Misslyckad e-post (till kansliet)", _mail_failed),
}


def template_names() -> list[str]:
    """Every email template file there is."""
    return sorted(path.name for path in domain.TEMPLATES.iterdir() if path.is_file())


def render_preview(name: str, links: meetings.Links, organizer: str) -> OutgoingEmail:
    """The email that uses template ``name``, built from sample data; KeyError if there is none."""
    return PREVIEWS[name].build(links, organizer)
