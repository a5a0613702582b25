"""Registration's use cases: seed the networks, register a sign-up, read receipts and overviews.

Each takes a ``Session`` and runs inside the caller's transaction; a sign-up
stages its ``SignupCompleted`` event in the same transaction (the outbox).
"""

from __future__ import annotations

import secrets
import threading
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import Engine, Table
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, col, select

from services.registration.catalogue import NETWORKS, NetworkSeed
from services.registration.domain import FeeLine, FeeSummary, NetworkRef, SignupRequest, fee_summary
from services.registration.meetings.contacts import invite_new_members
from services.registration.models import Membership, Network, Organisation, Signup, SignupLine
from services.registration.validation import SignupInvalid, network_problems, validate_signup
from shared.db import transaction
from shared.events import Address, Contact, MembershipInfo, OrganisationSnapshot, SignupCompleted
from shared.outbox import add_event
from shared.policy import FeePolicy, fee_for

log = structlog.get_logger(__name__)

RETRY_ATTEMPTS = 3


# --- Networks ---

def seed_networks(session: Session, seeds: tuple[NetworkSeed, ...] = NETWORKS) -> int:
    """Insert the networks that are missing (by code); existing rows are left as they are."""
    existing = set(session.exec(select(Network.code)))
    added = 0
    for position, seed in enumerate(seeds):
        if seed.code in existing:
            continue
        session.add(Network(code=seed.code, name=seed.name, status=seed.status, partners=seed.partners,
                            description=seed.description, position=position))
        added += 1
    return added


def seed(engine: Engine) -> None:
    """Seed at startup; a second instance starting at the same moment may win the race, which is fine."""
    for attempt in range(1, RETRY_ATTEMPTS + 1):
        try:
            with transaction(engine) as session:
                added = seed_networks(session)
            log.info("networks seeded", added=added)
            return
        except IntegrityError:
            if attempt == RETRY_ATTEMPTS:
                raise


def list_networks(session: Session) -> list[Network]:
    return list(session.exec(select(Network).order_by(col(Network.position), col(Network.id))))


def network_refs(session: Session) -> dict[str, NetworkRef]:
    return {n.code: NetworkRef(n.code, n.name, n.status) for n in list_networks(session)}


@dataclass(frozen=True)
class CachedNetwork:
    """What a sign-up needs of a network row: its id, code, name and status."""

    id: int
    code: str
    name: str
    status: str

    @property
    def ref(self) -> NetworkRef:
        return NetworkRef(self.code, self.name, self.status)


# The networks are seed data: rows are added at start-up (``seed``) and never
# changed at run time, so each process reads them once per database instead of
# twice per sign-up. Keyed by the engine's connection pool (shared by its
# ``execution_options`` copies, replaced by ``dispose``). A code the cache does
# not know makes it read the table again, so a network added later is found.
_network_cache: weakref.WeakKeyDictionary[Any, dict[str, CachedNetwork]] = weakref.WeakKeyDictionary()
_network_cache_lock = threading.Lock()


def cached_networks(session: Session, codes: tuple[str, ...] = ()) -> dict[str, CachedNetwork]:
    """Every network by code, from this process's cache; read again if one of ``codes`` is unknown."""
    key = session.get_bind().engine.pool
    with _network_cache_lock:
        cached = _network_cache.get(key)
    if cached is not None and all(code in cached for code in codes):
        return cached
    loaded = {n.code: CachedNetwork(n.id, n.code, n.name, n.status)  # type: ignore[arg-type]
              for n in list_networks(session)}
    if loaded:  # an unseeded database is not worth remembering
        with _network_cache_lock:
            _network_cache[key] = loaded
    return loaded


# --- Sign-ups ---

@dataclass(frozen=True)
class MembershipResult:
    id: int
    network_code: str
    year: int
    status: str
    created: bool


@dataclass(frozen=True)
class SignupResult:
    signup_id: int
    organisation_id: int
    token: str
    memberships: tuple[MembershipResult, ...]


def register_signup(session: Session, request: SignupRequest, *, policy: FeePolicy, now: datetime,
                    correlation_id: str, token: str) -> SignupResult:
    """Record the sign-up, its memberships and the ``SignupCompleted`` event in the caller's transaction."""
    networks = _networks_for(session, request.networks)
    organisation_id, is_new = _upsert_organisation(session, request, now)
    # The sign-up, its memberships and lines are only written here, never read back in this
    # transaction: plain INSERTs on the session's connection, no ORM objects to track.
    connection = session.connection()
    signup_id: int = connection.execute(_table(Signup).insert().returning(_table(Signup).c.id), {
        "token": token, "organisation_id": organisation_id, "year": request.year,
        "org_name": request.org_name, "org_number": request.org_number,
        "invoice_email": request.invoice_email, "street": request.street,
        "postal_code": request.postal_code, "city": request.city,
        "buyer_reference": request.buyer_reference, "contact_name": request.contact_name,
        "contact_email": request.contact_email, "vat_rate": policy.effective_vat_rate,
        "vat_note": policy.vat_note, "correlation_id": correlation_id, "created_at": now,
    }).scalar_one()

    # A new organisation has no memberships yet: only an existing one needs the lookup.
    memberships = _memberships(session, organisation_id, networks, request.year, signup_id, now,
                               existing=not is_new)
    results: list[MembershipResult] = []
    infos: list[MembershipInfo] = []
    lines: list[dict[str, object]] = []
    for network, (membership_id, status, created) in zip(networks, memberships, strict=True):
        fee = fee_for(policy, network.code)
        lines.append({"signup_id": signup_id, "membership_id": membership_id, "network_code": network.code,
                      "network_name": network.name, "created": created, "fee": fee.amount,
                      "exemption_reason": fee.exemption_reason})
        results.append(MembershipResult(membership_id, network.code, request.year, status, created))
        infos.append(MembershipInfo(
            membership_id=membership_id, network_code=network.code, network_name=network.name,
            year=request.year, created=created, fee_exempt=fee.exempt,
            exemption_reason=fee.exemption_reason, fee=fee.amount,
        ))
    connection.execute(_table(SignupLine).insert(), lines)
    # A member that joins after a meeting was scheduled is invited to it too.
    invite_new_members(session, [n.id for n in networks], request.year, now=now,
                       correlation_id=correlation_id)

    add_event(session, SignupCompleted(
        occurred_at=now,
        correlation_id=correlation_id,
        signup_id=signup_id,
        organisation=_snapshot(organisation_id, request),
        contact=Contact(name=request.contact_name, email=request.contact_email),
        year=request.year,
        memberships=tuple(infos),
    ))
    log.info("signup registered", signup_id=signup_id, organisation_id=organisation_id,
             year=request.year, new=sum(r.created for r in results), correlation_id=correlation_id)
    return SignupResult(signup_id, organisation_id, token, tuple(results))


def register_signup_retrying(engine: Engine, request: SignupRequest, *, policy: FeePolicy, now: datetime,
                             correlation_id: str) -> SignupResult:
    """One transaction per attempt: a concurrent duplicate sign-up loses a unique-constraint race
    (same organisation or membership), and on retry finds the other's rows instead of failing."""
    for attempt in range(1, RETRY_ATTEMPTS + 1):
        try:
            with transaction(engine) as session:
                return register_signup(session, request, policy=policy, now=now,
                                       correlation_id=correlation_id, token=secrets.token_urlsafe(24))
        except IntegrityError:
            if attempt == RETRY_ATTEMPTS:
                raise
            log.info("signup raced with another; retrying", attempt=attempt, correlation_id=correlation_id)
    raise AssertionError("unreachable")


def _networks_for(session: Session, codes: tuple[str, ...]) -> list[CachedNetwork]:
    """The requested networks, checked again (validation may have been given other networks)."""
    found = cached_networks(session, codes)
    problem = network_problems(codes, {c: n.ref for c, n in found.items() if c in codes})
    if problem:
        raise SignupInvalid({"networks": problem})
    return [found[code] for code in codes]


def _upsert_organisation(session: Session, request: SignupRequest, now: datetime) -> tuple[int, bool]:
    """The id of the organisation with this organisationsnummer, updated or created; True if created."""
    table = _table(Organisation)
    connection = session.connection()
    # Signing up again reuses the organisation; its invoice details follow the latest sign-up.
    details = {"name": request.org_name, "invoice_email": request.invoice_email, "street": request.street,
               "postal_code": request.postal_code, "city": request.city,
               "buyer_reference": request.buyer_reference, "updated_at": now}
    found: int | None = connection.execute(
        select(table.c.id).where(table.c.org_number == request.org_number)).scalar_one_or_none()
    if found is None:
        created: int = connection.execute(table.insert().returning(table.c.id), {
            "org_number": request.org_number, "created_at": now, **details}).scalar_one()
        return created, True
    connection.execute(table.update().where(table.c.id == found).values(details))
    return found, False


def _memberships(session: Session, organisation_id: int, networks: list[CachedNetwork], year: int,
                 signup_id: int, now: datetime, *, existing: bool) -> list[tuple[int, str, bool]]:
    """Each network's membership for the year as (id, status, created), created where missing,
    in one read and one multi-row INSERT."""
    found: dict[int, tuple[int, str]] = {}
    if existing:
        for membership_id, status, network_id in session.exec(
                select(Membership.id, Membership.status, Membership.network_id).where(
                    Membership.organisation_id == organisation_id,
                    Membership.year == year,
                    col(Membership.network_id).in_([n.id for n in networks]),
                )):
            assert membership_id is not None
            found[network_id] = (membership_id, status)
    missing = [n for n in networks if n.id not in found]
    new_ids: dict[int, int] = {}
    if missing:
        table = _table(Membership)
        created = session.connection().execute(
            table.insert().returning(table.c.id, sort_by_parameter_order=True),
            [{"organisation_id": organisation_id, "network_id": network.id, "year": year, "status": "active",
              "signup_id": signup_id, "created_at": now} for network in missing],
        ).scalars().all()
        new_ids = dict(zip((n.id for n in missing), created, strict=True))
    result: list[tuple[int, str, bool]] = []
    for network in networks:
        if network.id in found:
            membership_id, status = found[network.id]
            result.append((membership_id, status, False))
        else:
            result.append((new_ids[network.id], "active", True))
    return result


def _table(model: type[SQLModel]) -> Table:
    table: Table = model.__table__  # type: ignore[attr-defined]
    return table


def _snapshot(organisation_id: int, request: SignupRequest) -> OrganisationSnapshot:
    """The organisation as this sign-up left it (its details follow the latest sign-up)."""
    return OrganisationSnapshot(
        id=organisation_id, name=request.org_name, org_number=request.org_number,
        invoice_email=request.invoice_email,
        address=Address(street=request.street, postal_code=request.postal_code, city=request.city),
        buyer_reference=request.buyer_reference,
    )


# --- Reading ---

@dataclass(frozen=True)
class Receipt:
    signup: Signup
    lines: tuple[FeeLine, ...]
    summary: FeeSummary


def load_receipt(session: Session, token: str) -> Receipt | None:
    signup = session.exec(select(Signup).where(Signup.token == token)).first()
    if signup is None:
        return None
    rows = session.exec(select(SignupLine).where(SignupLine.signup_id == signup.id)
                        .order_by(col(SignupLine.id)))
    lines = tuple(FeeLine(network_code=r.network_code, network_name=r.network_name, year=signup.year,
                          created=r.created, fee=r.fee, exemption_reason=r.exemption_reason) for r in rows)
    return Receipt(signup=signup, lines=lines, summary=fee_summary(lines, signup.vat_rate))


@dataclass(frozen=True)
class MemberRow:
    year: int
    network_name: str
    organisation_name: str
    org_number: str
    invoice_email: str
    registered_at: datetime
    # "active" or "cancelled": a cancelled membership stays listed, marked as such.
    status: str = "active"
    membership_id: int = 0


def membership_overview(session: Session) -> list[MemberRow]:
    """Every membership, newest year first, then by network and organisation, for the staff page."""
    query = (
        select(Membership, Network, Organisation)
        .join(Network, col(Network.id) == Membership.network_id)
        .join(Organisation, col(Organisation.id) == Membership.organisation_id)
        .order_by(col(Membership.year).desc(), col(Network.position), col(Organisation.name))
    )
    return [MemberRow(m.year, n.name, o.name, o.org_number, o.invoice_email, m.created_at, m.status,
                      m.id or 0) for m, n, o in session.exec(query)]


def submit_signup(engine: Engine, data: Mapping[str, object], *, policies: dict[int, FeePolicy],
                  now: datetime, correlation_id: str) -> SignupResult:
    """The whole use case behind the form and the API: validate, then register (retrying races).

    Raises :class:`SignupInvalid` with a Swedish message per field.
    """
    with Session(engine) as session:
        refs = {code: network.ref for code, network in cached_networks(session).items()}
    request = validate_signup(data, networks=refs, policy_years=policies.keys())
    return register_signup_retrying(engine, request, policy=policies[request.year], now=now,
                                    correlation_id=correlation_id)
