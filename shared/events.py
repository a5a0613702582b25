"""Event contracts: frozen, versioned pydantic models, the only code services share about each other.

Every event travels as one JSON envelope: ``event_id``, ``type``, ``version``,
``occurred_at``, ``correlation_id`` and the event's own fields. A consumer parses
it with :func:`parse_event`, which picks the model by ``type``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, ClassVar, Literal
from uuid import UUID, uuid4

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter

REGISTRATION_STREAM = "reglab.registration"
INVOICING_STREAM = "reglab.invoicing"
# Events about the system itself (a dead letter recorded), for staff.
OPERATIONS_STREAM = "reglab.operations"
ALL_STREAMS = (REGISTRATION_STREAM, INVOICING_STREAM, OPERATIONS_STREAM)


class Contract(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Address(Contract):
    street: str
    postal_code: str
    city: str


class OrganisationSnapshot(Contract):
    id: int
    name: str
    org_number: str
    invoice_email: str
    address: Address
    buyer_reference: str = ""


class Contact(Contract):
    name: str
    email: str


class MembershipInfo(Contract):
    membership_id: int
    network_code: str
    network_name: str
    year: int
    # False when the membership already existed: signing up twice is one membership, one fee.
    created: bool
    fee_exempt: bool
    exemption_reason: str = ""
    fee: Decimal | None = None


class EventBase(Contract):
    stream: ClassVar[str]
    event_id: UUID = Field(default_factory=uuid4)
    occurred_at: AwareDatetime
    correlation_id: str


class SignupCompleted(EventBase):
    """An organisation signed up for one or more networks for a year."""

    stream: ClassVar[str] = REGISTRATION_STREAM
    type: Literal["signup.completed"] = "signup.completed"
    version: Literal[1] = 1
    signup_id: int
    organisation: OrganisationSnapshot
    contact: Contact
    year: int
    memberships: tuple[MembershipInfo, ...]


class InvoiceLineInfo(Contract):
    network_code: str
    description: str
    amount: Decimal


class InvoiceIssued(EventBase):
    """An invoice (or credit note) was issued; ``pdf_base64`` is the document sent to the buyer."""

    stream: ClassVar[str] = INVOICING_STREAM
    type: Literal["invoice.issued"] = "invoice.issued"
    version: Literal[1] = 1
    number: str
    kind: Literal["invoice", "credit_note"] = "invoice"
    signup_id: int | None = None
    organisation: OrganisationSnapshot
    issue_date: date
    due_date: date
    currency: str = "SEK"
    lines: tuple[InvoiceLineInfo, ...]
    net: Decimal
    vat: Decimal
    total: Decimal
    ocr: str
    pdf_base64: str
    # For a credit note: the number of the invoice it credits.
    credited_number: str | None = None
    # What the buyer pays: total plus any öresavrundning (INVOICE_ROUND_TO_KRONA). Absent in
    # events from before it existed, where it equals total. Match payments against this.
    payable: Decimal | None = None


class MembershipCancelled(EventBase):
    """Staff cancelled a membership; invoicing credits its fee if one was invoiced."""

    stream: ClassVar[str] = REGISTRATION_STREAM
    type: Literal["membership.cancelled"] = "membership.cancelled"
    version: Literal[1] = 1
    membership_id: int
    organisation: OrganisationSnapshot
    network_code: str
    network_name: str
    year: int
    reason: str = ""
    cancelled_by: str = ""


class MembershipsRenewed(EventBase):
    """The yearly run renewed an organisation's memberships into a new year (one event per organisation)."""

    stream: ClassVar[str] = REGISTRATION_STREAM
    type: Literal["memberships.renewed"] = "memberships.renewed"
    version: Literal[1] = 1
    renewal_run_id: int
    organisation: OrganisationSnapshot
    contact: Contact
    from_year: int
    year: int
    memberships: tuple[MembershipInfo, ...]


class InvoicePaid(EventBase):
    """Payments registered against an invoice now cover its total (``status`` paid or overpaid)."""

    stream: ClassVar[str] = INVOICING_STREAM
    type: Literal["invoice.paid"] = "invoice.paid"
    version: Literal[1] = 1
    number: str
    organisation: OrganisationSnapshot
    status: Literal["paid", "overpaid"]
    total: Decimal
    paid_amount: Decimal
    paid_on: date


class InvoiceOverdue(EventBase):
    """Published once a day for each invoice past its due date with money outstanding."""

    stream: ClassVar[str] = INVOICING_STREAM
    type: Literal["invoice.overdue"] = "invoice.overdue"
    version: Literal[1] = 1
    number: str
    organisation: OrganisationSnapshot
    issue_date: date
    due_date: date
    as_of: date
    total: Decimal
    outstanding: Decimal
    ocr: str


class MeetingInfo(Contract):
    """A meeting as invitations and reminders show it."""

    meeting_id: int
    network_code: str
    network_name: str
    title: str
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    venue: str = ""
    address: str = ""
    agenda: str = ""
    capacity: int
    registration_deadline: date
    # Bumped on every change: the .ics SEQUENCE.
    sequence: int = 0


class Invitee(Contract):
    contact_id: int
    name: str
    email: str
    organisation_id: int
    organisation_name: str


class MeetingScheduled(EventBase):
    stream: ClassVar[str] = REGISTRATION_STREAM
    type: Literal["meeting.scheduled"] = "meeting.scheduled"
    version: Literal[1] = 1
    meeting: MeetingInfo
    invitees: tuple[Invitee, ...]


class MeetingUpdated(EventBase):
    stream: ClassVar[str] = REGISTRATION_STREAM
    type: Literal["meeting.updated"] = "meeting.updated"
    version: Literal[1] = 1
    meeting: MeetingInfo
    # Field name → (before, after), in Swedish labels, for the change notice.
    changes: tuple[tuple[str, str, str], ...] = ()
    invitees: tuple[Invitee, ...]


class MeetingCancelled(EventBase):
    stream: ClassVar[str] = REGISTRATION_STREAM
    type: Literal["meeting.cancelled"] = "meeting.cancelled"
    version: Literal[1] = 1
    meeting: MeetingInfo
    reason: str = ""
    invitees: tuple[Invitee, ...]


class MeetingInviteesChanged(EventBase):
    """Who is invited to an upcoming meeting changed: the full current list, not a difference.

    Registration publishes it, in the same transaction as the change, for each
    of the network's meetings that is scheduled and still open for sign-up,
    when a contact is added, removed or unsubscribes, a membership is cancelled,
    or a sign-up makes a new member's contact. Notifications replaces its copy
    (so a removed contact gets no invitation reminder) and invites the new ones.
    """

    stream: ClassVar[str] = REGISTRATION_STREAM
    type: Literal["meeting.invitees_changed"] = "meeting.invitees_changed"
    version: Literal[1] = 1
    meeting: MeetingInfo
    invitees: tuple[Invitee, ...]


class Participant(Contract):
    participant_id: int
    name: str
    email: str
    organisation_name: str
    contact_id: int | None = None


class ParticipantRegistered(EventBase):
    """Someone signed up for a meeting: ``status`` registered, or waiting when it is full."""

    stream: ClassVar[str] = REGISTRATION_STREAM
    type: Literal["participant.registered"] = "participant.registered"
    version: Literal[1] = 1
    meeting: MeetingInfo
    participant: Participant
    status: Literal["registered", "waiting"]


class ParticipantCancelled(EventBase):
    stream: ClassVar[str] = REGISTRATION_STREAM
    type: Literal["participant.cancelled"] = "participant.cancelled"
    version: Literal[1] = 1
    meeting: MeetingInfo
    participant: Participant


class ParticipantPromoted(EventBase):
    """A freed place went to the first on the waiting list."""

    stream: ClassVar[str] = REGISTRATION_STREAM
    type: Literal["participant.promoted"] = "participant.promoted"
    version: Literal[1] = 1
    meeting: MeetingInfo
    participant: Participant


class NetworkWeeksSet(EventBase):
    """Staff set a year's network weeks (ISO week numbers); the staff digest looks ahead over them."""

    stream: ClassVar[str] = REGISTRATION_STREAM
    type: Literal["network_weeks.set"] = "network_weeks.set"
    version: Literal[1] = 1
    year: int
    weeks: tuple[int, ...]


class ContactUnsubscribed(EventBase):
    """A contact asked for no more invitations (through the signed link in one)."""

    stream: ClassVar[str] = REGISTRATION_STREAM
    type: Literal["contact.unsubscribed"] = "contact.unsubscribed"
    version: Literal[1] = 1
    contact_id: int
    email: str


class PersonErased(EventBase):
    """Staff erased a person's data on request (GDPR art. 17), found by email address.

    Registration publishes it after erasing its own data, in the same
    transaction; invoicing and notifications erase theirs when they consume it
    (keeping what bookkeeping law requires). ``erasure_id`` names the request
    in every service's audit log.
    """

    stream: ClassVar[str] = REGISTRATION_STREAM
    type: Literal["person.erased"] = "person.erased"
    version: Literal[1] = 1
    erasure_id: UUID
    email: str
    requested_by: str


class DeadLetterRecorded(EventBase):
    """A consumer gave up on a stream entry and moved it to ``<stream>.dead-letters``.

    Published by the consumer that dead-lettered it, so staff hear of it. The
    event id is derived from (stream, group, entry id): the same entry
    dead-lettered twice (a crash before its ack) is one event, one email.
    ``event_type``/``source_event_id`` are empty when the payload did not parse.
    """

    stream: ClassVar[str] = OPERATIONS_STREAM
    type: Literal["dead_letter.recorded"] = "dead_letter.recorded"
    version: Literal[1] = 1
    dead_letter_id: str
    source_stream: str
    group: str
    entry_id: str
    error: str
    event_type: str = ""
    source_event_id: str = ""


AnyEventModel = (
    SignupCompleted
    | MembershipCancelled
    | MembershipsRenewed
    | MeetingScheduled
    | MeetingUpdated
    | MeetingCancelled
    | MeetingInviteesChanged
    | ParticipantRegistered
    | ParticipantCancelled
    | ParticipantPromoted
    | NetworkWeeksSet
    | ContactUnsubscribed
    | PersonErased
    | InvoiceIssued
    | InvoicePaid
    | InvoiceOverdue
    | DeadLetterRecorded
)
AnyEvent = Annotated[AnyEventModel, Field(discriminator="type")]
_event_adapter: TypeAdapter[AnyEventModel] = TypeAdapter(AnyEvent)


def parse_event(data: bytes | str | dict[str, object]) -> AnyEventModel:
    """Validate a wire payload into its event model; raises ``pydantic.ValidationError``."""
    if isinstance(data, dict):
        return _event_adapter.validate_python(data)
    return _event_adapter.validate_json(data)


def dump_event(event: EventBase) -> str:
    return event.model_dump_json()


def utc_now() -> datetime:
    return datetime.now(UTC)
