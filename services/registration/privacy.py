"""Registration's part of GDPR: its tables' export and erasure, and the erasure request that starts it all.

Kept on erasure (Bokföringslagen 7 kap.: the accounting records, invoices
included, are kept for 7 years): the invoice address and buyer reference of a
sign-up that led to an invoice, and an organisation's invoice address while
one of its sign-ups was invoiced. Everything else about the person (the
contact's name and address in every sign-up) is anonymised at once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from services.registration.meetings.contacts import publish_invitee_lists
from services.registration.meetings.models import Contact, MeetingParticipant
from services.registration.models import Organisation, Signup, SignupLine
from shared.audit import record_act
from shared.db import transaction
from shared.events import PersonErased
from shared.outbox import add_event
from shared.privacy import (
    ERASED_NAME,
    Erasure,
    Outcome,
    PrivacyRegistry,
    describe,
    erased_address,
    person_subject,
)

BOOKKEEPING = "underlag för faktura, Bokföringslagen 7 kap.: sparas 7 år"


def _invoiced_signups(session: Session, signup_ids: list[int]) -> set[int]:
    """Sign-ups with a new membership that carries a fee: invoicing issued an invoice for them."""
    if not signup_ids:
        return set()
    rows = session.exec(select(SignupLine.signup_id).where(
        col(SignupLine.signup_id).in_(signup_ids), col(SignupLine.created).is_(True),
        col(SignupLine.fee).is_not(None))).all()
    return set(rows)


def _signups_about(session: Session, email: str) -> list[Signup]:
    return list(session.exec(select(Signup).where(
        (func.lower(Signup.contact_email) == email) | (func.lower(Signup.invoice_email) == email)
    ).order_by(col(Signup.id))).all())


def export_signups(session: Session, email: str) -> list[dict[str, Any]]:
    return [{"signup_id": s.id, "created_at": s.created_at.isoformat(), "year": s.year,
             "organisation": s.org_name, "org_number": s.org_number, "contact_name": s.contact_name,
             "contact_email": s.contact_email, "invoice_email": s.invoice_email,
             "buyer_reference": s.buyer_reference} for s in _signups_about(session, email)]


def erase_signups(session: Session, erasure: Erasure) -> Outcome:
    signups = _signups_about(session, erasure.email)
    invoiced = _invoiced_signups(session, [s.id for s in signups if s.id is not None])
    outcome = Outcome(kept_because=BOOKKEEPING)
    for signup in signups:
        changed = False
        if signup.contact_email.lower() == erasure.email:
            signup.contact_name, signup.contact_email, changed = ERASED_NAME, "", True
        if signup.invoice_email.lower() == erasure.email:
            if signup.id in invoiced:
                outcome.kept += 1
            else:
                signup.invoice_email, signup.buyer_reference, changed = "", "", True
        if changed:
            session.add(signup)
            outcome.erased += 1
    return outcome


def export_organisations(session: Session, email: str) -> list[dict[str, Any]]:
    rows = session.exec(select(Organisation).where(func.lower(Organisation.invoice_email) == email)).all()
    return [{"organisation_id": o.id, "name": o.name, "org_number": o.org_number,
             "invoice_email": o.invoice_email, "buyer_reference": o.buyer_reference} for o in rows]


def erase_organisations(session: Session, erasure: Erasure) -> Outcome:
    outcome = Outcome(kept_because=BOOKKEEPING)
    for organisation in session.exec(select(Organisation).where(
            func.lower(Organisation.invoice_email) == erasure.email)).all():
        signup_ids = session.exec(select(Signup.id).where(Signup.organisation_id == organisation.id)).all()
        if _invoiced_signups(session, [i for i in signup_ids if i is not None]):
            outcome.kept += 1
            continue
        organisation.invoice_email = ""
        organisation.buyer_reference = ""
        session.add(organisation)
        outcome.erased += 1
    return outcome


def export_contacts(session: Session, email: str) -> list[dict[str, Any]]:
    rows = session.exec(select(Contact).where(func.lower(Contact.email) == email)
                        .order_by(col(Contact.id))).all()
    return [{"contact_id": c.id, "organisation_id": c.organisation_id, "network_id": c.network_id,
             "name": c.name, "email": c.email, "active": c.active, "subscribed": c.subscribed} for c in rows]


def erase_contacts(session: Session, erasure: Erasure) -> Outcome:
    """Anonymised and switched off: never invited again (a later sync finds no address to bring back)."""
    rows = session.exec(select(Contact).where(func.lower(Contact.email) == erasure.email)).all()
    invited_in = {contact.network_id for contact in rows if contact.active and contact.subscribed}
    for contact in rows:
        contact.name, contact.email = ERASED_NAME, erased_address(erasure.erasure_id)
        contact.active, contact.subscribed = False, False
        session.add(contact)
    if invited_in:
        # The open meetings' invitee lists drop them (notifications holds no copy of them then).
        session.flush()
        publish_invitee_lists(session, invited_in, now=erasure.now,
                              correlation_id=f"erasure-{erasure.erasure_id}")
    return Outcome(erased=len(rows))


def export_participants(session: Session, email: str) -> list[dict[str, Any]]:
    rows = session.exec(select(MeetingParticipant).where(func.lower(MeetingParticipant.email) == email)
                        .order_by(col(MeetingParticipant.id))).all()
    return [{"participant_id": p.id, "meeting_id": p.meeting_id, "name": p.name, "email": p.email,
             "organisation": p.organisation_name, "dietary": p.dietary, "status": p.status} for p in rows]


def erase_participants(session: Session, erasure: Erasure) -> Outcome:
    """Name, address and dietary needs removed; the row (a place taken, or not) stays for the counts."""
    rows = session.exec(select(MeetingParticipant).where(
        func.lower(MeetingParticipant.email) == erasure.email)).all()
    for participant in rows:
        participant.name, participant.email = ERASED_NAME, erased_address(erasure.erasure_id)
        participant.dietary = ""
        session.add(participant)
    return Outcome(erased=len(rows))


def registration_privacy() -> PrivacyRegistry:
    registry = PrivacyRegistry("registration")
    registry.register("signups", export=export_signups, erase=erase_signups)
    registry.register("organisations", export=export_organisations, erase=erase_organisations)
    registry.register("contacts", export=export_contacts, erase=erase_contacts)
    registry.register("meeting_participants", export=export_participants, erase=erase_participants)
    return registry


@dataclass(frozen=True)
class ErasureReport:
    erasure_id: uuid.UUID
    outcomes: dict[str, Outcome]


def erase_person(engine: Engine, registry: PrivacyRegistry, email: str, *, requested_by: str,
                 remote_addr: str, now: datetime,
                 erased_elsewhere: dict[str, Outcome] | None = None) -> ErasureReport:
    """Erase here and tell the other services, in one transaction: the event goes only if this commits.

    ``erased_elsewhere``: what the caller erased outside the database (dead letters), for the report.
    """
    erasure = Erasure(uuid.uuid4(), email, requested_by, now)
    with transaction(engine) as session:
        outcomes = {**registry.erase(session, erasure), **(erased_elsewhere or {})}
        add_event(session, PersonErased(occurred_at=now, correlation_id=f"erasure-{erasure.erasure_id}",
                                        erasure_id=erasure.erasure_id, email=email,
                                        requested_by=requested_by))
        record_act(session, actor=requested_by, action="person.erase", subject=person_subject(email),
                   remote_addr=remote_addr, detail=f"radering {erasure.erasure_id}: " + describe(outcomes))
    return ErasureReport(erasure.erasure_id, outcomes)
