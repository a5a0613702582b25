"""The reminder rules, as data: what each counts from, its offset, its audience and its template.

Pure functions, no I/O and no clock: :func:`due_rows` turns the read models
(a :class:`Snapshot`) and ``now`` into the ledger rows that are due, and
:func:`build_email` turns one ledger row into its email, or None when it is no
longer wanted (the invoice was paid, the participant cancelled, the contact
unsubscribed, the meeting was cancelled...).

A row is due when ``anchor + offset <= now``; it is never created when that
time lies before the rule's ``effective_from`` (a new rule never mails the
past) or once the reminder has gone stale (``anchor + stale_after``: the
meeting began, the deadline passed, a later reminder took over).

A meeting rule's source key carries the time it counts from
(``meeting:12@20270316T0900Z``), so a meeting that moves gets new rows for
its new time: an unsent row of the old time is skipped ("mötet ändrat"), and
a reminder already sent is not sent again unless its new due time is later
than the one sent (the scheduler records such a row as skipped).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from services.notifications import digest, domain, meetings, timefmt
from services.notifications.domain import EmailKind, OutgoingEmail
from services.notifications.readmodels import InviteeView, InvoiceView, MeetingView, ParticipantView
from shared.digits import is_digits
from shared.privacy import is_erased_address

# The day the reminder rules were introduced: nothing due before it is ever sent.
INTRODUCED = datetime(2026, 11, 27, tzinfo=UTC)


@dataclass(frozen=True)
class Snapshot:
    """What the rules read: the read models as they are now."""

    meetings: tuple[MeetingView, ...] = ()
    invitees: tuple[InviteeView, ...] = ()
    participants: tuple[ParticipantView, ...] = ()
    unsubscribed: frozenset[int] = frozenset()
    invoices: tuple[InvoiceView, ...] = ()
    staff_email: str = ""
    # Only loaded when a digest is to be sent.
    digest: digest.Digest | None = None

    # Indexes, built once per snapshot: a tick looks up every ledger row it sends.
    @functools.cached_property
    def _meetings(self) -> dict[int, MeetingView]:
        return {m.meeting_id: m for m in self.meetings}

    @functools.cached_property
    def _participants(self) -> dict[int, ParticipantView]:
        return {p.participant_id: p for p in self.participants}

    @functools.cached_property
    def _invoices(self) -> dict[str, InvoiceView]:
        return {i.number: i for i in self.invoices}

    @functools.cached_property
    def by_meeting(self) -> dict[int, tuple[list[ParticipantView], list[InviteeView]]]:
        """Each meeting's participants and invitees."""
        index: dict[int, tuple[list[ParticipantView], list[InviteeView]]] = {}
        for participant in self.participants:
            index.setdefault(participant.meeting_id, ([], []))[0].append(participant)
        for invitee in self.invitees:
            index.setdefault(invitee.meeting_id, ([], []))[1].append(invitee)
        return index

    def meeting(self, meeting_id: int) -> MeetingView | None:
        return self._meetings.get(meeting_id)

    def participant(self, participant_id: int) -> ParticipantView | None:
        return self._participants.get(participant_id)

    def invoice(self, number: str) -> InvoiceView | None:
        return self._invoices.get(number)

    def participants_of(self, meeting_id: int) -> list[ParticipantView]:
        return self.by_meeting.get(meeting_id, ([], []))[0]

    def invitees_of(self, meeting_id: int) -> list[InviteeView]:
        return self.by_meeting.get(meeting_id, ([], []))[1]


@dataclass(frozen=True)
class DueRow:
    """A ledger row to record: unique by (rule, source_key, recipient)."""

    rule: str
    source_key: str
    recipient: str
    recipient_name: str
    ref: str
    subject: str
    due_at: datetime


@dataclass(frozen=True)
class Target:
    """One occurrence a rule counts from, and who it goes to."""

    source_key: str
    anchor: datetime
    recipient: str
    recipient_name: str
    ref: str
    subject: str


@dataclass(frozen=True)
class Context:
    links: meetings.Links
    organizer: str


Targets = Callable[["Rule", Snapshot, datetime], Iterator[Target]]
Builder = Callable[["Rule", DueRow, Snapshot, Context], OutgoingEmail | None]


@dataclass(frozen=True)
class Rule:
    name: str
    title: str  # Swedish, for the staff pages
    counts_from: str  # Swedish: the date it counts from
    offset: timedelta
    audience: str  # Swedish: who receives it
    template: str
    kind: EmailKind
    effective_from: datetime
    stale_after: timedelta | None
    targets: Targets = field(repr=False)
    build: Builder = field(repr=False)
    # Swedish, on the ledger when a due row is not sent after all (its builder returned None).
    skip_reason: str = "inte längre aktuell"
    # Meeting rules: the meeting's time this rule counts from (its source keys carry it).
    anchor_of: Callable[[MeetingView], datetime] | None = field(default=None, repr=False)

    def due_at(self, anchor: datetime) -> datetime:
        return anchor + self.offset

    @property
    def when(self) -> str:
        days = self.offset.days
        if days < 0:
            return f"{-days} dagar före"
        if days > 0:
            return f"{days} dagar efter"
        return "på dagen"


def due_rows(rules: tuple[Rule, ...], snapshot: Snapshot, now: datetime) -> list[DueRow]:
    """Every row due by ``now`` that is neither before its rule's effective-from nor stale."""
    rows: list[DueRow] = []
    for rule in rules:
        for target in rule.targets(rule, snapshot, now):
            if is_erased_address(target.recipient):  # an erased person's place or invitation
                continue
            due = rule.due_at(target.anchor)
            if due > now or due < rule.effective_from:
                continue
            if rule.stale_after is not None and now >= target.anchor + rule.stale_after:
                continue
            rows.append(
                DueRow(
                    rule=rule.name,
                    source_key=target.source_key,
                    recipient=domain.recipient_key(target.recipient),
                    recipient_name=target.recipient_name,
                    ref=target.ref,
                    subject=domain.one_line(target.subject, 500),
                    due_at=due,
                )
            )
    return rows


# --- Meetings: 7 days and 1 day before, to registered participants ------------------


def _ref_id(ref: str, prefix: str) -> int | None:
    kind, _, value = ref.partition(":")
    value = value.partition("@")[0]
    return int(value) if kind == prefix and is_digits(value) else None


MOVED = "mötet ändrat"
SENT_BEFORE_MOVE = "redan skickad för mötets tidigare tid"


def meeting_source_key(meeting_id: int, anchor: datetime) -> str:
    return f"meeting:{meeting_id}@{anchor.astimezone(UTC):%Y%m%dT%H%MZ}"


def source_meeting_id(source_key: str) -> int | None:
    """The meeting a source key names, with or without its time (rows from before it had one)."""
    return _ref_id(source_key, "meeting")


def moved(rule: Rule, row: DueRow, snapshot: Snapshot) -> bool:
    """Whether the row counts from a time the meeting no longer has."""
    meeting_id = source_meeting_id(row.source_key)
    if rule.anchor_of is None or "@" not in row.source_key or meeting_id is None:
        return False
    meeting = snapshot.meeting(meeting_id)
    return meeting is not None and row.source_key != meeting_source_key(meeting_id, rule.anchor_of(meeting))


def starts(meeting: MeetingView) -> datetime:
    return meeting.starts_at


def _live_meetings(snapshot: Snapshot, now: datetime) -> Iterator[MeetingView]:
    return (m for m in snapshot.meetings if not m.cancelled and m.starts_at > now)


def meeting_targets(rule: Rule, snapshot: Snapshot, now: datetime) -> Iterator[Target]:
    for meeting in _live_meetings(snapshot, now):
        for participant in snapshot.participants_of(meeting.meeting_id):
            if participant.status == "registered":
                yield Target(
                    source_key=meeting_source_key(meeting.meeting_id, meeting.starts_at),
                    anchor=meeting.starts_at,
                    recipient=participant.email,
                    recipient_name=participant.name,
                    ref=f"participant:{participant.participant_id}",
                    subject=f"Påminnelse: {meeting.title} {timefmt.swedish_datetime(meeting.starts_at)}",
                )


def build_meeting_reminder(
    rule: Rule, row: DueRow, snapshot: Snapshot, context: Context
) -> OutgoingEmail | None:
    participant_id = _ref_id(row.ref, "participant")
    participant = snapshot.participant(participant_id) if participant_id is not None else None
    meeting = snapshot.meeting(participant.meeting_id) if participant is not None else None
    if participant is None or meeting is None or participant.status != "registered" or meeting.cancelled:
        return None
    info = meeting.info()
    email_context = {
        **meetings.meeting_context(info),
        "name": domain.one_line(participant.name),
        "days_before": -rule.offset.days,
        "cancel_url": context.links.cancel(info, participant.participant_id),
    }
    return OutgoingEmail(
        kind=rule.kind,
        to_address=participant.email,
        to_name=participant.name,
        subject=row.subject,
        text=domain.render_template(rule.template, email_context),
    )


# --- Invitations: 7 days before the deadline, to invitees not signed up ------------


def deadline_anchor(meeting: MeetingView) -> datetime:
    """The deadline day at 09:00 Stockholm time: reminders go out in the morning."""
    return timefmt.at_local(meeting.registration_deadline, 9)


def _signed_up(snapshot: Snapshot, meeting_id: int) -> set[int]:
    return {p.contact_id for p in snapshot.participants_of(meeting_id) if p.contact_id is not None}


def invitation_targets(rule: Rule, snapshot: Snapshot, now: datetime) -> Iterator[Target]:
    for meeting in _live_meetings(snapshot, now):
        signed_up = _signed_up(snapshot, meeting.meeting_id)
        for invitee in snapshot.invitees_of(meeting.meeting_id):
            if invitee.contact_id not in snapshot.unsubscribed and invitee.contact_id not in signed_up:
                yield Target(
                    source_key=meeting_source_key(meeting.meeting_id, deadline_anchor(meeting)),
                    anchor=deadline_anchor(meeting),
                    recipient=invitee.email,
                    recipient_name=invitee.name,
                    ref=f"contact:{invitee.contact_id}",
                    subject=f"Påminnelse: sista anmälningsdag "
                    f"{timefmt.swedish_date(meeting.registration_deadline)} – {meeting.title}",
                )


def build_invitation_reminder(
    rule: Rule, row: DueRow, snapshot: Snapshot, context: Context
) -> OutgoingEmail | None:
    contact_id = _ref_id(row.ref, "contact")
    meeting_id = source_meeting_id(row.source_key)
    meeting = snapshot.meeting(meeting_id) if meeting_id is not None else None
    if contact_id is None or meeting is None or meeting.cancelled or contact_id in snapshot.unsubscribed:
        return None
    if contact_id in _signed_up(snapshot, meeting.meeting_id):
        return None
    invitee = next(
        (i for i in snapshot.invitees_of(meeting.meeting_id) if i.contact_id == contact_id),
        None,
    )
    if invitee is None:
        return None
    recipient = meetings.Recipient(
        name=invitee.name, email=invitee.email, organisation=invitee.organisation_name, contact_id=contact_id
    )
    return meetings.invitation(
        meeting.info(),
        recipient,
        links=context.links,
        organizer=context.organizer,
        sent_at=row.due_at,
        reminder=True,
    )


# --- Payments: due + 7 and due + 21 days, to the invoice address, until paid or credited ---


def payment_anchor(invoice: InvoiceView) -> datetime:
    return timefmt.at_local(invoice.due_date, 9)


def _unpaid(invoice: InvoiceView | None) -> bool:
    return (
        invoice is not None
        and invoice.overdue_as_of is not None
        and not invoice.paid
        and not invoice.credited
    )


def payment_targets(rule: Rule, snapshot: Snapshot, now: datetime) -> Iterator[Target]:
    for invoice in snapshot.invoices:
        if _unpaid(invoice):
            yield Target(
                source_key=f"invoice:{invoice.number}",
                anchor=payment_anchor(invoice),
                recipient=invoice.email,
                recipient_name=invoice.organisation,
                ref=f"invoice:{invoice.number}",
                subject=f"Påminnelse: faktura {invoice.number} från Reglab är obetald",
            )


def build_payment_reminder(
    rule: Rule, row: DueRow, snapshot: Snapshot, context: Context
) -> OutgoingEmail | None:
    invoice = snapshot.invoice(row.ref.partition(":")[2])
    if invoice is None or not _unpaid(invoice):
        return None
    email_context = {
        "number": invoice.number,
        "organisation": invoice.organisation,
        "due_date": timefmt.swedish_date(invoice.due_date),
        "outstanding": invoice.outstanding,
        "ocr": invoice.ocr,
        "second": rule.offset.days > 7,
    }
    return OutgoingEmail(
        kind=rule.kind,
        to_address=invoice.email,
        to_name=invoice.organisation,
        subject=row.subject,
        text=domain.render_template(rule.template, email_context),
    )


# --- The weekly staff digest: Mondays 07:00 Stockholm -------------------------------


def monday_anchor(now: datetime) -> datetime:
    today = timefmt.local_today(now)
    return timefmt.at_local(today - timedelta(days=today.weekday()), 7)


def digest_targets(rule: Rule, snapshot: Snapshot, now: datetime) -> Iterator[Target]:
    if snapshot.staff_email:
        anchor = monday_anchor(now)
        yield Target(
            source_key=f"week:{digest.iso_week_key(anchor)}",
            anchor=anchor,
            recipient=snapshot.staff_email,
            recipient_name="Reglabs kansli",
            ref="staff",
            subject=f"Veckosammanställning {digest.iso_week_key(anchor)}",
        )


def build_digest(rule: Rule, row: DueRow, snapshot: Snapshot, context: Context) -> OutgoingEmail | None:
    # Nothing to report: no email (staff are not sent "nothing to do" every week).
    if snapshot.digest is None or snapshot.digest.empty:
        return None
    return digest.digest_email(snapshot.digest, staff_email=snapshot.staff_email)


MEETING_SKIP = "deltagaren är inte längre anmäld, eller mötet är inställt"
RULES: tuple[Rule, ...] = (
    Rule(
        name="meeting_7d",
        title="Mötespåminnelse en vecka före",
        counts_from="mötets start",
        offset=timedelta(days=-7),
        audience="anmälda deltagare (inte väntelista eller avbokade)",
        template="meeting_reminder.txt",
        kind=EmailKind.meeting_reminder,
        effective_from=INTRODUCED,
        stale_after=timedelta(days=-1),
        targets=meeting_targets,
        build=build_meeting_reminder,
        skip_reason=MEETING_SKIP,
        anchor_of=starts,
    ),
    Rule(
        name="meeting_1d",
        title="Mötespåminnelse dagen före",
        counts_from="mötets start",
        offset=timedelta(days=-1),
        audience="anmälda deltagare (inte väntelista eller avbokade)",
        template="meeting_reminder.txt",
        kind=EmailKind.meeting_reminder,
        effective_from=INTRODUCED,
        stale_after=timedelta(0),
        targets=meeting_targets,
        build=build_meeting_reminder,
        skip_reason=MEETING_SKIP,
        anchor_of=starts,
    ),
    Rule(
        name="invitation_7d",
        title="Påminnelse om inbjudan",
        counts_from="sista anmälningsdag kl. 09.00",
        offset=timedelta(days=-7),
        audience="inbjudna som inte anmält sig och inte avregistrerat sig",
        template="invitation_reminder.txt",
        kind=EmailKind.invitation_reminder,
        effective_from=INTRODUCED,
        stale_after=timedelta(hours=15),
        targets=invitation_targets,
        build=build_invitation_reminder,
        skip_reason="kontakten har anmält sig eller avregistrerat sig, eller mötet är inställt",
        anchor_of=deadline_anchor,
    ),
    Rule(
        name="payment_7d",
        title="Första betalningspåminnelsen",
        counts_from="fakturans förfallodag kl. 09.00",
        offset=timedelta(days=7),
        audience="fakturaadressen, tills fakturan är betald eller krediterad",
        template="payment_reminder.txt",
        kind=EmailKind.payment_reminder,
        effective_from=INTRODUCED,
        stale_after=timedelta(days=21),
        targets=payment_targets,
        build=build_payment_reminder,
        skip_reason="fakturan är betald eller krediterad",
    ),
    Rule(
        name="payment_21d",
        title="Andra betalningspåminnelsen",
        counts_from="fakturans förfallodag kl. 09.00",
        offset=timedelta(days=21),
        audience="fakturaadressen, tills fakturan är betald eller krediterad",
        template="payment_reminder.txt",
        kind=EmailKind.payment_reminder,
        effective_from=INTRODUCED,
        stale_after=timedelta(days=90),
        targets=payment_targets,
        build=build_payment_reminder,
        skip_reason="fakturan är betald eller krediterad",
    ),
    Rule(
        name="staff_digest",
        title="Veckosammanställning till kansliet",
        counts_from="måndag kl. 07.00",
        offset=timedelta(0),
        audience="kansliet (STAFF_EMAIL)",
        template="staff_digest.txt",
        kind=EmailKind.staff_digest,
        effective_from=INTRODUCED,
        stale_after=timedelta(days=1),
        targets=digest_targets,
        build=build_digest,
        skip_reason="inget att rapportera",
    ),
)
RULES_BY_NAME = {rule.name: rule for rule in RULES}
