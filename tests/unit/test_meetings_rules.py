"""The pure rules of meetings: network weeks, two a year, places and the waiting list, deadlines, forms."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from services.registration.meetings.dashboard import bar_chart, fee_text
from services.registration.meetings.forms import (
    FormInvalid,
    meeting_form_values,
    validate_meeting,
    validate_person,
)
from services.registration.meetings.rules import (
    WeeksInvalid,
    changes,
    end_of_day,
    in_network_week,
    parse_weeks,
    places_to_promote,
    reasons_needed,
    registration_open,
    signup_status,
    waiting_order,
    week_span,
    weeks_in_iso_year,
)
from shared.policy import load_policies

STHLM = ZoneInfo("Europe/Stockholm")
NOW = datetime(2018, 1, 15, 9, 0, tzinfo=UTC)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=STHLM)


# --- Network weeks ---


def test_weeks_are_parsed_sorted_and_without_repeats() -> None:
    assert parse_weeks(2018, "45, 6 11;6") == (6, 11, 45)
    assert parse_weeks(2018, "") == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0", "Vecka 0 finns inte: veckonummer går från 1 till 53."),
        ("54", "Vecka 54 finns inte: veckonummer går från 1 till 53."),
        ("53", "Vecka 53 finns inte år 2018, som har 52 veckor."),
        ("v6", "”v6” är inget veckonummer. Skriv veckonummer 1–53, t.ex. 6, 11, 38."),
        ("-1", "”-1” är inget veckonummer. Skriv veckonummer 1–53, t.ex. 6, 11, 38."),
    ],
)
def test_a_week_outside_1_to_53_or_missing_from_the_iso_year_is_refused(text: str, message: str) -> None:
    with pytest.raises(WeeksInvalid) as refused:
        parse_weeks(2018, text)
    assert str(refused.value) == message


def test_week_53_exists_in_a_long_iso_year() -> None:
    assert weeks_in_iso_year(2020) == 53 and weeks_in_iso_year(2018) == 52
    assert parse_weeks(2020, "53") == (53,)
    assert week_span(2020, 53) == (date(2020, 12, 28), date(2021, 1, 3))


def test_a_meeting_is_in_a_network_week_by_its_stockholm_date() -> None:
    assert in_network_week(at("2018-02-07T10:00"), [6], 2018)
    assert not in_network_week(at("2018-02-12T10:00"), [6], 2018)
    # 23:30 UTC on Sunday of week 5 is already Monday of week 6 in Stockholm.
    assert in_network_week(datetime(2018, 2, 4, 23, 30, tzinfo=UTC), [6], 2018)
    # 31 December 2018 is ISO week 1 of 2019, not a 2018 network week.
    assert not in_network_week(at("2018-12-31T10:00"), [1], 2018)


# --- Two a year, and reasons ---


def test_a_meeting_outside_the_network_weeks_needs_a_reason() -> None:
    needed = reasons_needed(at("2018-03-01T10:00"), [6, 11], other_meetings_that_year=0)
    assert needed.outside_weeks and not needed.beyond_policy


def test_a_third_meeting_for_the_network_and_year_needs_a_reason_but_a_second_does_not() -> None:
    assert not reasons_needed(at("2018-02-07T10:00"), [6], other_meetings_that_year=1).beyond_policy
    third = reasons_needed(at("2018-02-07T10:00"), [6], other_meetings_that_year=2)
    assert third.beyond_policy and not third.outside_weeks


# --- Places and the waiting list ---


def test_a_place_is_given_while_one_is_free_then_the_waiting_list() -> None:
    assert [signup_status(2, taken) for taken in (0, 1, 2, 3)] == [
        "registered",
        "registered",
        "waiting",
        "waiting",
    ]


def test_freed_places_go_to_as_many_waiting_as_there_are_places() -> None:
    assert places_to_promote(capacity=2, registered=1, waiting=3) == 1
    assert places_to_promote(capacity=5, registered=1, waiting=2) == 2
    assert places_to_promote(capacity=2, registered=2, waiting=3) == 0
    assert places_to_promote(capacity=2, registered=3, waiting=1) == 0


def test_the_waiting_list_is_first_come_first_served_with_the_id_breaking_ties() -> None:
    t = datetime(2018, 1, 1, tzinfo=UTC)
    later = datetime(2018, 1, 2, tzinfo=UTC)
    assert waiting_order([(7, later), (9, t), (3, later), (8, t)]) == [8, 9, 3, 7]


# --- Deadlines and link expiry ---


def test_sign_up_is_open_through_the_whole_deadline_day_in_stockholm() -> None:
    deadline = date(2018, 1, 31)
    assert registration_open(deadline, datetime(2018, 1, 31, 22, 59, tzinfo=UTC))  # 23:59 in Stockholm
    assert not registration_open(deadline, datetime(2018, 1, 31, 23, 0, tzinfo=UTC))  # 1 February there
    assert end_of_day(deadline) == datetime(2018, 1, 31, 22, 59, 59, tzinfo=UTC)
    assert end_of_day(date(2018, 6, 1)) == datetime(2018, 6, 1, 21, 59, 59, tzinfo=UTC)  # summer time


# --- Changes in Swedish labels ---


def test_changes_list_only_the_fields_that_differ_in_swedish() -> None:
    before = {"title": "Träff", "starts_at": at("2018-02-07T10:00"), "capacity": 40}
    after = {"title": "Träff", "starts_at": at("2018-02-08T09:30"), "capacity": 50}
    assert changes(before, after) == (
        ("Starttid", "2018-02-07 10:00", "2018-02-08 09:30"),
        ("Antal platser", "40", "50"),
    )


# --- The meeting form ---


def form(**changes: str) -> dict[str, str]:
    values = {
        "network": "rus",
        "title": "RUS-träff",
        "date": "2018-02-07",
        "start_time": "10:00",
        "end_time": "16:00",
        "venue": "Conventum",
        "address": "",
        "capacity": "40",
        "agenda": "",
        "registration_deadline": "2018-01-31",
        "cost_venue": "12 500,00",
        "cost_food": "",
        "cost_speakers": "3000",
    }
    values.update(changes)
    return values


def test_a_valid_meeting_has_aware_stockholm_times_and_decimal_costs() -> None:
    draft = validate_meeting(form(), networks={"rus"}, now=NOW)
    assert draft.starts_at == datetime(2018, 2, 7, 9, 0, tzinfo=UTC)
    assert draft.starts_at.tzinfo is not None
    assert (draft.cost_venue, draft.cost_food, draft.cost_speakers) == (
        Decimal("12500.00"),
        Decimal("0.00"),
        Decimal("3000.00"),
    )


AMOUNT_MESSAGE = "Ange ett belopp i kronor (högst 100 000 000), t.ex. 12 500,00."


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"network": "kommunikation"}, "network", "Välj ett aktivt nätverk."),
        ({"end_time": "09:00"}, "end_time", "Sluttiden måste vara efter starttiden."),
        (
            {"date": "2018-01-10", "registration_deadline": "2018-01-09"},
            "date",
            "Mötet kan inte läggas i det förflutna.",
        ),
        ({"date": "7/2"}, "date", "Ange datum som ÅÅÅÅ-MM-DD, t.ex. 2018-02-07."),
        ({"capacity": "0"}, "capacity", "Ange antal platser som ett heltal 1–10000."),
        (
            {"registration_deadline": "2018-02-08"},
            "registration_deadline",
            "Sista anmälningsdag kan inte vara efter mötesdagen.",
        ),
        ({"cost_food": "-5"}, "cost_food", AMOUNT_MESSAGE),
        ({"cost_food": "1.005"}, "cost_food", AMOUNT_MESSAGE),
        ({"venue": "x" * 201}, "venue", "Högst 200 tecken."),
    ],
)
def test_a_bad_meeting_field_gets_its_own_swedish_message(
    changes: dict[str, str], field: str, message: str
) -> None:
    with pytest.raises(FormInvalid) as invalid:
        validate_meeting(form(**changes), networks={"rus"}, now=NOW)
    assert invalid.value.errors == {field: message}


def test_a_meeting_may_be_planned_before_its_venue_is_booked() -> None:
    draft = validate_meeting(form(venue="", address=""), networks={"rus"}, now=NOW)
    assert (draft.venue, draft.address) == ("", "")


def test_the_api_body_maps_to_the_form_with_times_in_stockholm() -> None:
    values = meeting_form_values(
        {
            "starts_at": "2018-02-07T09:00:00+00:00",
            "ends_at": "2018-02-07T16:00:00",
            "costs": {"venue": "100"},
        }
    )
    assert (values["date"], values["start_time"], values["end_time"], values["cost_venue"]) == (
        "2018-02-07",
        "10:00",
        "16:00",
        "100",
    )


def test_a_participant_needs_name_email_and_organisation_and_the_email_is_lower_case() -> None:
    with pytest.raises(FormInvalid) as invalid:
        validate_person({"name": "", "email": "anna@", "organisation": ""})
    assert set(invalid.value.errors) == {"name", "email", "organisation"}
    person = validate_person({"name": "Anna", "email": "Anna@Region.Example", "organisation": "Region"})
    assert person.email == "anna@region.example"


def test_the_bar_chart_scales_to_the_largest_value_or_the_policy_mark() -> None:
    chart = bar_chart([("A", 1, False), ("B", 3, True)], mark=2)
    assert [b.width for b in chart.bars] == [round(380 / 3, 1), 380.0]
    assert chart.bars[1].flagged and chart.mark_x == round(250 + 2 * 380 / 3, 1)
    assert bar_chart([("A", 0, False)], mark=2).bars[0].width == 0


def test_the_dashboard_shows_the_years_fee_or_the_exemption_and_its_reason() -> None:
    policy = load_policies()[2018]
    assert fee_text(policy, "rus") == ("4\u00a0000\u00a0kr", "")
    assert fee_text(policy, "smart-specialisering") == ("Avgiftsfri", "Marginell verksamhet")
    assert fee_text(None, "rus") == ("Ingen avgiftspolicy", "")
