"""The staff digest's content, and every email template rendered with its sample data (the previews)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from services.notifications import digest, meetings, previews
from services.notifications.readmodels import DeadLetterSeen, InvoiceView, MeetingView

NOW = datetime(2027, 3, 1, 6, 0, tzinfo=UTC)  # Monday 07.00 in Stockholm, week 9


def meeting(
    meeting_id: int,
    *,
    venue: str = "Reglab",
    deadline: date = date(2027, 3, 9),
    capacity: int = 30,
    starts: datetime = datetime(2027, 3, 16, 9, 0, tzinfo=UTC),
    cancelled: bool = False,
) -> MeetingView:
    return MeetingView(
        meeting_id=meeting_id,
        network_code="n",
        network_name="Analytikernätverket",
        title=f"Möte {meeting_id}",
        starts_at=starts,
        ends_at=starts + timedelta(hours=4),
        venue=venue,
        capacity=capacity,
        registration_deadline=deadline,
        cancelled=cancelled,
    )


def collect(**overrides: object) -> digest.Digest:
    arguments: dict[str, object] = {
        "now": NOW,
        "weeks_by_year": {},
        "meetings": [],
        "registered": {},
        "invoices": [],
        "failed_emails": [],
        "failed_total": 0,
        "dead_letters": [],
        "few_share": 0.3,
    }
    arguments.update(overrides)
    return digest.collect(**arguments)  # type: ignore[arg-type]


def test_the_digest_lists_network_weeks_within_the_next_six_weeks_only() -> None:
    result = collect(weeks_by_year={2027: [8, 9, 14, 15, 38]})
    assert result.network_weeks == ["vecka 9 (1 mars–7 mars 2027)", "vecka 14 (5 april–11 april 2027)"]


def test_the_digest_lists_upcoming_meetings_without_a_venue_but_not_cancelled_or_past_ones() -> None:
    result = collect(
        meetings=[
            meeting(1, venue=""),
            meeting(2),
            meeting(3, venue="", cancelled=True),
            meeting(4, venue="", starts=NOW - timedelta(days=1)),
        ]
    )
    assert [m.title for m in result.without_venue] == ["Möte 1"]


def test_few_signups_means_under_the_share_of_capacity_with_the_deadline_within_14_days() -> None:
    result = collect(
        meetings=[
            meeting(1),
            meeting(2),
            meeting(3, deadline=date(2027, 3, 20)),
            meeting(4, deadline=date(2027, 2, 27)),
        ],
        registered={1: 8, 2: 9, 3: 0, 4: 0},
    )
    # 8 < 0.3 · 30 = 9; meeting 3's deadline is 19 days away; meeting 4's has passed.
    assert [(m.title, m.registered, m.capacity) for m in result.few_signups] == [("Möte 1", 8, 30)]


def test_the_digest_lists_overdue_unpaid_invoices_failed_emails_and_last_weeks_dead_letters() -> None:
    def invoice(number: str, **changes: object) -> InvoiceView:
        row = InvoiceView(
            number=number,
            organisation="Region Värmland",
            email="f@r.example",
            due_date=date(2027, 2, 1),
            outstanding=Decimal("5000.00"),
            overdue_as_of=date(2027, 2, 2),
        )
        for name, value in changes.items():
            setattr(row, name, value)
        return row

    def letter(letter_id: str, days_ago: int) -> DeadLetterSeen:
        return DeadLetterSeen(
            dead_letter_id=letter_id,
            recorded_at=NOW - timedelta(days=days_ago),
            source_stream="s",
            group="invoicing",
            event_type="signup.completed",
            error="boom",
        )

    failed = [digest.FailedEmailLine(id=3, recipient="x@y.example", subject="Inbjudan", error="550")]
    result = collect(
        invoices=[invoice("A"), invoice("B", paid=True), invoice("C", credited=True)],
        failed_emails=failed,
        failed_total=1,
        dead_letters=[letter("new", 2), letter("old", 9)],
    )
    text = digest.digest_email(result, staff_email="kansliet@reglab.example").text

    assert [i.number for i in result.overdue] == ["A"]
    assert "A Region Värmland: 5\u00a0000,00\u00a0kr" in text
    assert "Misslyckad e-post (1)" in text and "#3 till x@y.example: Inbjudan (550)" in text
    assert [d.event_type for d in result.dead_letters] == ["signup.completed"]
    assert not result.empty


def test_an_empty_digest_says_nothing_needs_doing() -> None:
    email = digest.digest_email(collect(), staff_email="kansliet@reglab.example")
    assert "Inget behöver åtgärdas just nu." in email.text
    assert email.subject == "Veckosammanställning vecka 9: Reglab Nätverk"


@pytest.mark.parametrize("name", previews.template_names())
def test_every_email_template_renders_with_its_sample_data(name: str) -> None:
    assert name in previews.PREVIEWS, f"{name} has no sample data in services/notifications/previews.py"
    email = previews.render_preview(
        name,
        meetings.Links("preview-secret-0123456789", "http://reg.test"),
        "Reglab <natverk@reglab.example>",
    )
    body = email.html if name.endswith(".html") else email.text
    assert email.subject and body
    assert "{{" not in body and "{%" not in body
