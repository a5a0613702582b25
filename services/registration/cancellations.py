"""Staff acts on one membership: cancel it, or keep it out of the yearly renewal.

Each act, its audit entry and the event it causes commit in the caller's
transaction. Cancelling twice changes nothing (no second event, no second
entry); the membership row stays, with status ``cancelled``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlmodel import Session, col, select

from services.registration.lifecycle_models import MembershipCancellation, RenewalOptOut
from services.registration.meetings.contacts import publish_invitee_lists
from services.registration.models import Membership, Network, Organisation
from shared.audit import AuditEntry, entries_for, record_act
from shared.digits import only_digits
from shared.events import Address, MembershipCancelled, OrganisationSnapshot
from shared.outbox import add_event

log = structlog.get_logger(__name__)

ACTIVE = "active"
CANCELLED = "cancelled"
REASON_MAX = 300
STATUS_LABELS = {ACTIVE: "Aktivt", CANCELLED: "Avslutat"}


class MembershipNotFound(LookupError):
    def __init__(self, membership_id: int) -> None:
        super().__init__(f"Medlemskapet {membership_id} finns inte.")


class ActInvalid(ValueError):
    """Bad input for a staff act; the message is Swedish."""


@dataclass(frozen=True)
class MembershipRow:
    id: int
    year: int
    status: str
    network_code: str
    network_name: str
    organisation_id: int
    organisation_name: str
    org_number: str
    renewal_opt_out: bool
    cancellation_reason: str

    @property
    def subject(self) -> str:
        return subject_of(self.id)


@dataclass(frozen=True)
class ActResult:
    membership: MembershipRow
    changed: bool


def subject_of(membership_id: int) -> str:
    return f"membership:{membership_id}"


def organisation_snapshot(organisation: Organisation) -> OrganisationSnapshot:
    """The organisation as its latest sign-up left it."""
    assert organisation.id is not None
    return OrganisationSnapshot(
        id=organisation.id, name=organisation.name, org_number=organisation.org_number,
        invoice_email=organisation.invoice_email,
        address=Address(street=organisation.street, postal_code=organisation.postal_code,
                        city=organisation.city),
        buyer_reference=organisation.buyer_reference)


def clean_reason(reason: str) -> str:
    cleaned = " ".join(reason.split())
    if len(cleaned) > REASON_MAX:
        raise ActInvalid(f"Anledningen får vara högst {REASON_MAX} tecken.")
    return cleaned


# --- Reading ---

_ROWS = (
    select(Membership, Network, Organisation)
    .join(Network, col(Network.id) == Membership.network_id)
    .join(Organisation, col(Organisation.id) == Membership.organisation_id)
)


def _rows(session: Session, found: list[tuple[Membership, Network, Organisation]]) -> list[MembershipRow]:
    ids = [membership.id for membership, _network, _organisation in found]
    opted_out = set(session.exec(select(RenewalOptOut.membership_id)
                                 .where(col(RenewalOptOut.membership_id).in_(ids))))
    reasons = dict(session.exec(select(MembershipCancellation.membership_id, MembershipCancellation.reason)
                                .where(col(MembershipCancellation.membership_id).in_(ids))).all())
    rows = []
    for membership, network, organisation in found:
        assert membership.id is not None and organisation.id is not None
        rows.append(MembershipRow(membership.id, membership.year, membership.status, network.code,
                                  network.name, organisation.id, organisation.name, organisation.org_number,
                                  membership.id in opted_out, reasons.get(membership.id, "")))
    return rows


def list_memberships(session: Session, *, year: int | None = None, org_number: str = "",
                     limit: int = 1000) -> list[MembershipRow]:
    """Memberships newest year first, then by organisation and network, for staff and the API."""
    query = _ROWS
    if year is not None:
        query = query.where(Membership.year == year)
    digits = only_digits(org_number)
    if digits:
        query = query.where(Organisation.org_number == digits)
    query = query.order_by(col(Membership.year).desc(), col(Organisation.name),
                           col(Network.position)).limit(limit)
    return _rows(session, list(session.exec(query)))


def get_membership(session: Session, membership_id: int) -> MembershipRow:
    found = list(session.exec(_ROWS.where(Membership.id == membership_id)))
    if not found:
        raise MembershipNotFound(membership_id)
    return _rows(session, found)[0]


def audit_of(session: Session, membership_id: int) -> list[AuditEntry]:
    return list(entries_for(session, subject_of(membership_id)))


def _locked(session: Session, membership_id: int) -> Membership:
    membership = session.exec(select(Membership).where(Membership.id == membership_id)
                              .with_for_update()).first()
    if membership is None:
        raise MembershipNotFound(membership_id)
    return membership


# --- Acts ---

def cancel_membership(session: Session, membership_id: int, *, actor: str, reason: str, now: datetime,
                      remote_addr: str = "") -> ActResult:
    """Cancel the membership and publish ``membership.cancelled``; a second cancel changes nothing."""
    reason = clean_reason(reason)
    membership = _locked(session, membership_id)
    if membership.status == CANCELLED:
        return ActResult(get_membership(session, membership_id), changed=False)
    membership.status = CANCELLED
    session.add(membership)
    session.add(MembershipCancellation(membership_id=membership_id, reason=reason, cancelled_by=actor,
                                       cancelled_at=now))
    network = session.get(Network, membership.network_id)
    organisation = session.get(Organisation, membership.organisation_id)
    assert network is not None and organisation is not None
    add_event(session, MembershipCancelled(
        occurred_at=now, correlation_id=str(uuid.uuid4()), membership_id=membership_id,
        organisation=organisation_snapshot(organisation), network_code=network.code,
        network_name=network.name,
        year=membership.year, reason=reason, cancelled_by=actor))
    session.flush()
    # Its contacts are no longer invited to the network's open meetings of that year.
    publish_invitee_lists(session, {membership.network_id}, now=now, correlation_id=str(uuid.uuid4()),
                          year=membership.year)
    record_act(session, actor=actor, action="membership.cancel", subject=subject_of(membership_id),
               detail=f"{organisation.name}, {network.name} {membership.year}. {reason}".strip(),
               remote_addr=remote_addr, at=now)
    session.flush()
    log.info("membership cancelled", membership_id=membership_id, actor=actor)
    return ActResult(get_membership(session, membership_id), changed=True)


def set_renewal_opt_out(session: Session, membership_id: int, opted_out: bool, *, actor: str, now: datetime,
                        remote_addr: str = "") -> ActResult:
    """Keep the membership out of the yearly renewal (or put it back); setting it as it is changes nothing."""
    _locked(session, membership_id)
    row = session.exec(select(RenewalOptOut).where(RenewalOptOut.membership_id == membership_id)).first()
    if (row is not None) == opted_out:
        return ActResult(get_membership(session, membership_id), changed=False)
    if opted_out:
        session.add(RenewalOptOut(membership_id=membership_id, opted_out_by=actor, opted_out_at=now))
    else:
        session.delete(row)
    action = "membership.renewal_opt_out" if opted_out else "membership.renewal_opt_in"
    record_act(session, actor=actor, action=action,
               subject=subject_of(membership_id),
               detail="Förnyas inte nästa år." if opted_out else "Förnyas nästa år.",
               remote_addr=remote_addr, at=now)
    session.flush()
    return ActResult(get_membership(session, membership_id), changed=True)
