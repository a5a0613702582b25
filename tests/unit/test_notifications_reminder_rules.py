"""The reminder rules as pure functions: read models and now in, due ledger rows (and their emails) out."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from services.notifications import meetings
from services.notifications.domain import EmailKind
from services.notifications.readmodels import InviteeView, InvoiceView, MeetingView, ParticipantView
from services.notifications.reminders import rules
from services.notifications.reminders.rules import RULES_BY_NAME, Snapshot, due_rows
from tests.support.meeting_events import DEADLINE, PUBLIC_URL, SECRET, STARTS

CONTEXT = rules.Context(links=meetings.Links(SECRET, PUBLIC_URL), organizer="Reglab <natverk@reglab.example>")


def view(
    *, meeting_id: int = 12, starts_at: datetime = STARTS, cancelled: bool = False, deadline: date = DEADLINE
) -> MeetingView:
    return MeetingView(
        meeting_id=meeting_id,
        network_code="analytiker",
        network_name="Analytikernätverket",
        title="Vårträff",
        starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=6),
        venue="Reglab",
        capacity=30,
        registration_deadline=deadline,
        cancelled=cancelled,
    )


def person(
    participant_id: int, status: str, contact_id: int | None = None, meeting_id: int = 12
) -> ParticipantView:
    return ParticipantView(
        participant_id=participant_id,
        meeting_id=meeting_id,
        contact_id=contact_id,
        name=f"Deltagare {participant_id}",
        email=f"p{participant_id}@kommun.example",
        status=status,
    )


def invited(contact_id: int, meeting_id: int = 12) -> InviteeView:
    return InviteeView(
        meeting_id=meeting_id,
        contact_id=contact_id,
        name=f"Kontakt {contact_id}",
        email=f"kontakt{contact_id}@kommun.example",
        organisation_id=1,
        organisation_name="Kommun",
    )


def invoice(**changes: object) -> InvoiceView:
    row = InvoiceView(
        number="2027-00042",
        organisation="Region Värmland",
        email="faktura@region.example",
        due_date=date(2027, 2, 1),
        ocr="123",
        total=Decimal("5000.00"),
        outstanding=Decimal("5000.00"),
        overdue_as_of=date(2027, 2, 2),
    )
    for name, value in changes.items():
        setattr(row, name, value)
    return row


def rows_of(rule: str, snapshot: Snapshot, now: datetime) -> list[rules.DueRow]:
    return due_rows((RULES_BY_NAME[rule],), snapshot, now)


MEETING_PEOPLE = Snapshot(
    meetings=(view(),),
    participants=(
        person(1, "registered"),
        person(2, "waiting"),
        person(3, "cancelled"),
        person(4, "registered"),
    ),
)


def test_the_week_before_reminder_is_due_seven_days_before_the_start_to_registered_participants_only() -> (
    None
):
    assert rows_of("meeting_7d", MEETING_PEOPLE, STARTS - timedelta(days=7, seconds=1)) == []

    rows = rows_of("meeting_7d", MEETING_PEOPLE, STARTS - timedelta(days=7))
    assert [(r.recipient, r.ref) for r in rows] == [
        ("p1@kommun.example", "participant:1"),
        ("p4@kommun.example", "participant:4"),
    ]
    assert {r.due_at for r in rows} == {STARTS - timedelta(days=7)}
    # The meeting's start (UTC) in the key: a moved meeting gets new rows.
    assert {r.source_key for r in rows} == {"meeting:12@20270316T0900Z"}


def test_the_day_before_reminder_is_due_one_day_before_and_the_week_reminder_is_then_stale() -> None:
    now = STARTS - timedelta(hours=23)
    assert rows_of("meeting_7d", MEETING_PEOPLE, now) == []
    assert len(rows_of("meeting_1d", MEETING_PEOPLE, now)) == 2
    assert rows_of("meeting_1d", MEETING_PEOPLE, STARTS) == []


def test_a_cancelled_meeting_has_no_reminders() -> None:
    snapshot = dataclasses.replace(MEETING_PEOPLE, meetings=(view(cancelled=True),))
    assert rows_of("meeting_1d", snapshot, STARTS - timedelta(hours=2)) == []


def test_a_rule_never_creates_rows_due_before_its_effective_from() -> None:
    rule = dataclasses.replace(RULES_BY_NAME["meeting_7d"], effective_from=STARTS - timedelta(days=6))
    assert due_rows((rule,), MEETING_PEOPLE, STARTS - timedelta(days=3)) == []
    earlier = dataclasses.replace(rule, effective_from=STARTS - timedelta(days=8))
    assert len(due_rows((earlier,), MEETING_PEOPLE, STARTS - timedelta(days=3))) == 2


def test_the_invitation_reminder_goes_seven_days_before_the_deadline_to_invitees_not_signed_up() -> None:
    snapshot = Snapshot(
        meetings=(view(),),
        invitees=(invited(1), invited(2), invited(3), invited(4)),
        participants=(person(9, "waiting", contact_id=2), person(10, "cancelled", contact_id=3)),
        unsubscribed=frozenset({4}),
    )
    # 09.00 in Stockholm seven days before the deadline (CET: 08.00 UTC).
    due = datetime(2027, 3, 2, 8, 0, tzinfo=UTC)

    assert rows_of("invitation_7d", snapshot, due - timedelta(seconds=1)) == []
    [row] = rows_of("invitation_7d", snapshot, due)
    assert (row.recipient, row.ref, row.due_at) == ("kontakt1@kommun.example", "contact:1", due)
    # After the deadline day it is stale.
    assert rows_of("invitation_7d", snapshot, datetime(2027, 3, 9, 23, 0, tzinfo=UTC)) == []


def test_the_invitation_reminder_is_not_built_once_the_contact_signed_up_or_unsubscribed() -> None:
    rule = RULES_BY_NAME["invitation_7d"]
    snapshot = Snapshot(meetings=(view(),), invitees=(invited(1),))
    [row] = due_rows((rule,), snapshot, datetime(2027, 3, 3, tzinfo=UTC))

    email = rule.build(rule, row, snapshot, CONTEXT)
    assert email is not None and email.kind is EmailKind.invitation_reminder
    assert f"{PUBLIC_URL}/moten/anmalan/" in email.text and f"{PUBLIC_URL}/avregistrera/" in email.text
    signed_up = dataclasses.replace(snapshot, participants=(person(5, "registered", contact_id=1),))
    assert rule.build(rule, row, signed_up, CONTEXT) is None
    assert rule.build(rule, row, dataclasses.replace(snapshot, unsubscribed=frozenset({1})), CONTEXT) is None


def test_a_meeting_reminder_is_not_built_for_a_participant_who_cancelled_meanwhile() -> None:
    rule = RULES_BY_NAME["meeting_1d"]
    [row, _] = due_rows((rule,), MEETING_PEOPLE, STARTS - timedelta(hours=20))

    email = rule.build(rule, row, MEETING_PEOPLE, CONTEXT)
    assert email is not None and "I morgon" in email.text and f"{PUBLIC_URL}/moten/avboka/" in email.text
    gone = dataclasses.replace(MEETING_PEOPLE, participants=(person(1, "cancelled"),))
    assert rule.build(rule, row, gone, CONTEXT) is None


def test_payment_reminders_go_at_due_plus_7_and_plus_21_days_to_the_invoice_address() -> None:
    snapshot = Snapshot(invoices=(invoice(),))
    first_due = datetime(2027, 2, 8, 8, 0, tzinfo=UTC)  # 09.00 Stockholm, due date + 7
    second_due = datetime(2027, 2, 22, 8, 0, tzinfo=UTC)

    assert rows_of("payment_7d", snapshot, first_due - timedelta(minutes=1)) == []
    [first] = rows_of("payment_7d", snapshot, first_due)
    assert (first.recipient, first.source_key, first.due_at) == (
        "faktura@region.example",
        "invoice:2027-00042",
        first_due,
    )
    assert rows_of("payment_21d", snapshot, second_due - timedelta(minutes=1)) == []
    [second] = rows_of("payment_21d", snapshot, second_due)
    assert second.due_at == second_due
    # Once the second is due, the first is stale: a late start sends one reminder, not both.
    assert rows_of("payment_7d", snapshot, second_due) == []


def test_payment_reminders_stop_when_the_invoice_is_paid_or_credited_or_was_never_overdue() -> None:
    now = datetime(2027, 2, 9, tzinfo=UTC)
    for stopped in (invoice(paid=True), invoice(credited=True), invoice(overdue_as_of=None)):
        assert rows_of("payment_7d", Snapshot(invoices=(stopped,)), now) == []
    rule = RULES_BY_NAME["payment_7d"]
    [row] = due_rows((rule,), Snapshot(invoices=(invoice(),)), now)
    email = rule.build(rule, row, Snapshot(invoices=(invoice(),)), CONTEXT)
    assert email is not None and "2027-00042" in email.text and "5\u00a0000,00\u00a0kr" in email.text
    assert rule.build(rule, row, Snapshot(invoices=(invoice(paid=True),)), CONTEXT) is None


def test_the_staff_digest_is_due_mondays_at_seven_stockholm_time_once_per_week() -> None:
    snapshot = Snapshot(staff_email="kansliet@reglab.example")
    monday_winter = datetime(2027, 3, 1, 6, 0, tzinfo=UTC)  # 07.00 CET
    monday_summer = datetime(2027, 4, 5, 5, 0, tzinfo=UTC)  # 07.00 CEST

    assert rows_of("staff_digest", snapshot, monday_winter - timedelta(seconds=1)) == []
    [row] = rows_of("staff_digest", snapshot, monday_winter)
    assert (row.source_key, row.recipient, row.due_at) == (
        "week:2027-W09",
        "kansliet@reglab.example",
        monday_winter,
    )
    [summer] = rows_of("staff_digest", snapshot, monday_summer + timedelta(hours=3))
    assert summer.due_at == monday_summer and summer.source_key == "week:2027-W14"
    # Missed for more than a day (the service was down): that week's digest is skipped.
    assert rows_of("staff_digest", snapshot, monday_winter + timedelta(days=1)) == []


def test_every_rule_has_a_template_an_audience_and_an_effective_from() -> None:
    for rule in rules.RULES:
        assert rule.template.endswith(".txt") and rule.audience and rule.counts_from
        assert rule.effective_from.tzinfo is not None
