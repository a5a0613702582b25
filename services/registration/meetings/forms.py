"""Validation of what staff and participants type: a meeting, a participant's sign-up, a contact.

Pure: input is a flat mapping of strings (the web form, or the JSON API mapped
to the same keys), output a value object or :class:`FormInvalid` with a Swedish
message per field. Nothing is written on an error.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation

from email_validator import EmailNotValidError, validate_email

from services.registration.meetings.rules import STOCKHOLM, local_date
from shared.digits import is_digits
from shared.money import money

MAX_CAPACITY = 10_000


class FormInvalid(ValueError):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class MeetingDraft:
    network_code: str
    title: str
    starts_at: datetime
    ends_at: datetime
    venue: str
    address: str
    agenda: str
    capacity: int
    registration_deadline: date
    cost_venue: Decimal
    cost_food: Decimal
    cost_speakers: Decimal
    outside_weeks_reason: str
    extra_meeting_reason: str

    def shown(self) -> dict[str, object]:
        """The fields an invitation shows, for the change list."""
        return {
            "title": self.title,
            "starts_at": self.starts_at,
            "ends_at": self.ends_at,
            "venue": self.venue,
            "address": self.address,
            "agenda": self.agenda,
            "capacity": self.capacity,
            "registration_deadline": self.registration_deadline,
        }


def _text(data: Mapping[str, object], key: str) -> str:
    value = data.get(key)
    if value is None:
        return ""
    return str(value).strip()


def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _time(text: str) -> time | None:
    try:
        parsed = time.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is None else None


MAX_COST = Decimal("100000000")  # 100 miljoner kronor: far beyond any meeting, well within money()


def _amount(text: str) -> Decimal | None:
    cleaned = text.replace("\u00a0", "").replace(" ", "").replace(",", ".").removesuffix("kr")
    if not cleaned:
        return Decimal("0.00")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return None
    # Bounded before rounding: a huge exponent ("1E+30") is more digits than money() can quantize.
    if not value.is_finite() or value < 0 or value > MAX_COST or value != money(value):
        return None
    return money(value)


def validate_meeting(
    data: Mapping[str, object], *, networks: Collection[str], now: datetime, check_past: bool = True
) -> MeetingDraft:
    """A meeting from the staff form (or the API): date, Stockholm times, place, capacity, costs."""
    errors: dict[str, str] = {}
    network = _text(data, "network")
    if network not in networks:
        errors["network"] = "Välj ett aktivt nätverk."
    title = _text(data, "title")
    if not title:
        errors["title"] = "Ange en rubrik för mötet."
    elif len(title) > 200:
        errors["title"] = "Rubriken får vara högst 200 tecken."
    day = _date(_text(data, "date"))
    if day is None:
        errors["date"] = "Ange datum som ÅÅÅÅ-MM-DD, t.ex. 2018-02-07."
    start = _time(_text(data, "start_time"))
    end = _time(_text(data, "end_time"))
    if start is None:
        errors["start_time"] = "Ange starttid som TT:MM, t.ex. 10:00."
    if end is None:
        errors["end_time"] = "Ange sluttid som TT:MM, t.ex. 16:00."
    starts_at = ends_at = None
    if day is not None and start is not None and end is not None:
        starts_at = datetime.combine(day, start, tzinfo=STOCKHOLM)
        ends_at = datetime.combine(day, end, tzinfo=STOCKHOLM)
        if ends_at <= starts_at:
            errors["end_time"] = "Sluttiden måste vara efter starttiden."
        elif check_past and starts_at <= now:
            errors["date"] = "Mötet kan inte läggas i det förflutna."
    # Optional: a meeting is often planned before its venue is booked (the staff digest lists those).
    venue = _text(data, "venue")
    address = _text(data, "address")
    agenda = _text(data, "agenda")
    for key, value, limit in (("venue", venue, 200), ("address", address, 300), ("agenda", agenda, 5000)):
        if len(value) > limit and key not in errors:
            errors[key] = f"Högst {limit} tecken."
    capacity_text = _text(data, "capacity")
    capacity = int(capacity_text) if is_digits(capacity_text) else 0
    if not 1 <= capacity <= MAX_CAPACITY:
        errors["capacity"] = f"Ange antal platser som ett heltal 1–{MAX_CAPACITY}."
    deadline = _date(_text(data, "registration_deadline"))
    if deadline is None:
        errors["registration_deadline"] = "Ange sista anmälningsdag som ÅÅÅÅ-MM-DD."
    elif starts_at is not None and deadline > local_date(starts_at):
        errors["registration_deadline"] = "Sista anmälningsdag kan inte vara efter mötesdagen."
    costs: dict[str, Decimal] = {}
    for key in ("cost_venue", "cost_food", "cost_speakers"):
        amount = _amount(_text(data, key))
        if amount is None:
            errors[key] = "Ange ett belopp i kronor (högst 100 000 000), t.ex. 12 500,00."
        else:
            costs[key] = amount
    reasons = {key: _text(data, key) for key in ("outside_weeks_reason", "extra_meeting_reason")}
    for key, value in reasons.items():
        if len(value) > 1000:
            errors[key] = "Högst 1000 tecken."
    if errors:
        raise FormInvalid(errors)
    assert starts_at is not None and ends_at is not None and deadline is not None
    return MeetingDraft(
        network_code=network,
        title=title,
        starts_at=starts_at,
        ends_at=ends_at,
        venue=venue,
        address=address,
        agenda=agenda,
        capacity=capacity,
        registration_deadline=deadline,
        cost_venue=costs["cost_venue"],
        cost_food=costs["cost_food"],
        cost_speakers=costs["cost_speakers"],
        **reasons,
    )


def meeting_form_values(api: Mapping[str, object]) -> dict[str, object]:
    """The JSON API's body (``starts_at``/``ends_at`` as ISO times) in the staff form's keys."""
    values: dict[str, object] = {
        key: api.get(key, "")
        for key in (
            "network",
            "title",
            "venue",
            "address",
            "agenda",
            "capacity",
            "registration_deadline",
            "outside_weeks_reason",
            "extra_meeting_reason",
        )
    }
    costs = api.get("costs")
    costs = costs if isinstance(costs, dict) else {}
    for key in ("venue", "food", "speakers"):
        values[f"cost_{key}"] = costs.get(key, "")
    for key, date_key, time_key in (("starts_at", "date", "start_time"), ("ends_at", None, "end_time")):
        try:
            at = datetime.fromisoformat(str(api.get(key, "")))
        except ValueError:
            values[time_key] = ""
            continue
        at = at.replace(tzinfo=STOCKHOLM) if at.tzinfo is None else at.astimezone(STOCKHOLM)
        if date_key:
            values[date_key] = at.date().isoformat()
        values[time_key] = at.strftime("%H:%M")
    return values


@dataclass(frozen=True)
class PersonDraft:
    name: str
    email: str
    organisation: str
    dietary: str


def normalise_email(email: str) -> str:
    return email.strip().lower()


def validate_person(data: Mapping[str, object], *, need_organisation: bool = True) -> PersonDraft:
    """A participant (or a contact staff add): name, e-mail, organisation, dietary needs."""
    errors: dict[str, str] = {}
    name = _text(data, "name")
    if not name:
        errors["name"] = "Ange namn."
    elif len(name) > 200:
        errors["name"] = "Namnet får vara högst 200 tecken."
    email = _text(data, "email")
    if not email:
        errors["email"] = "Ange e-postadress."
    else:
        try:
            email = validate_email(email, check_deliverability=False).normalized
        except EmailNotValidError:
            errors["email"] = "Ogiltig e-postadress. Ange en adress som namn@organisation.se."
    organisation = _text(data, "organisation")
    if need_organisation and not organisation:
        errors["organisation"] = "Ange organisation."
    elif len(organisation) > 200:
        errors["organisation"] = "Högst 200 tecken."
    dietary = _text(data, "dietary")
    if len(dietary) > 500:
        errors["dietary"] = "Högst 500 tecken."
    if errors:
        raise FormInvalid(errors)
    return PersonDraft(name=name, email=normalise_email(email), organisation=organisation, dietary=dietary)
