"""The yearly run: renew year Y's memberships into Y+1, one consolidated event per organisation.

A :class:`RenewalRun` row tracks the run. Organisations are processed in id
order, a batch at a time, each batch one transaction: the new memberships,
one ``memberships.renewed`` event per organisation (the outbox) and the run's
progress commit together. A crash loses at most the batch in flight, and
resuming continues after the last committed organisation. Memberships are
unique per (organisation, network, year) and a network the organisation
already has in Y+1 is never renewed again, so a second run finds nothing.
The run's row is locked per batch, so the page and the command can both
drive the same run without doing anything twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

import structlog
from sqlalchemy import Engine, Table, and_, exists, func
from sqlalchemy import select as core_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, col, select

from services.registration.cancellations import organisation_snapshot
from services.registration.lifecycle_models import RenewalOptOut, RenewalRun, RenewedMembership
from services.registration.meetings.contacts import invite_new_members
from services.registration.models import Membership, Network, Organisation, Signup
from services.registration.renewal_rules import Candidate, RenewalRefused, renewal_problem, to_renew
from shared.audit import record_act
from shared.db import transaction
from shared.events import Contact, MembershipInfo, MembershipsRenewed
from shared.outbox import add_event
from shared.policy import FeePolicy, fee_for

log = structlog.get_logger(__name__)

RUNNING = "running"
FINISHED = "finished"
STATUS_LABELS = {RUNNING: "Pågår", FINISHED: "Klar"}
RETRY_ATTEMPTS = 3


def _table(model: type[SQLModel]) -> Table:
    table: Table = model.__table__  # type: ignore[attr-defined]
    return table


_M = _table(Membership)
_NEXT = _M.alias("next_year")
_OPT = _table(RenewalOptOut)


def _renewable(from_year: int, to_year: int) -> object:
    """Memberships of from_year that the run renews (the SQL form of ``renewal_rules.to_renew``)."""
    return and_(
        _M.c.year == from_year, _M.c.status == "active",
        ~exists().where(_OPT.c.membership_id == _M.c.id),
        ~exists().where(_NEXT.c.organisation_id == _M.c.organisation_id,
                        _NEXT.c.network_id == _M.c.network_id, _NEXT.c.year == to_year),
    )


def pending_organisations(session: Session, from_year: int, to_year: int, *, after: int = 0,
                          limit: int | None = None) -> list[int]:
    query = (core_select(_M.c.organisation_id).where(_renewable(from_year, to_year),  # type: ignore[arg-type]
                                                     _M.c.organisation_id > after)
             .group_by(_M.c.organisation_id).order_by(_M.c.organisation_id))
    if limit is not None:
        query = query.limit(limit)
    return [int(org_id) for org_id in session.connection().execute(query).scalars()]


def count_pending(session: Session, from_year: int, to_year: int) -> int:
    query = core_select(func.count(func.distinct(_M.c.organisation_id))).where(
        _renewable(from_year, to_year))  # type: ignore[arg-type]
    return int(session.connection().execute(query).scalar_one())


# --- Starting ---

def start_run(session: Session, from_year: int, to_year: int, *, policies: Mapping[int, FeePolicy],
              actor: str, now: datetime, remote_addr: str = "") -> tuple[RenewalRun, bool]:
    """A new run, or the unfinished one for the same years (resumed). Returns (run, created).

    Refuses (``RenewalRefused``) a jump of more than a year, or a year without a fee policy.
    """
    problem = renewal_problem(from_year, to_year, policies.keys())
    if problem:
        raise RenewalRefused(problem)
    unfinished = session.exec(select(RenewalRun).where(RenewalRun.from_year == from_year,
                                                       RenewalRun.to_year == to_year,
                                                       RenewalRun.status == RUNNING)
                              .order_by(col(RenewalRun.id))).first()
    if unfinished is not None:
        return unfinished, False
    run = RenewalRun(from_year=from_year, to_year=to_year, status=RUNNING,
                     organisations_total=count_pending(session, from_year, to_year), started_by=actor,
                     started_at=now)
    session.add(run)
    session.flush()  # a concurrent start of the same years fails here (IntegrityError): retry to resume it
    record_act(session, actor=actor, action="renewal.start", subject=f"renewal:{run.id}",
               detail=f"Förnyelse {from_year} → {to_year}: {run.organisations_total} organisationer.",
               remote_addr=remote_addr, at=now)
    log.info("renewal run started", run_id=run.id, from_year=from_year, to_year=to_year,
             organisations=run.organisations_total, actor=actor)
    return run, True


def start_or_resume(engine: Engine, from_year: int, to_year: int, *, policies: Mapping[int, FeePolicy],
                    actor: str, now: datetime, remote_addr: str = "") -> tuple[RenewalRun, bool]:
    """:func:`start_run` in its own transaction; a start that races another one resumes the winner's run."""
    for attempt in range(1, RETRY_ATTEMPTS + 1):
        try:
            with transaction(engine) as session:
                return start_run(session, from_year, to_year, policies=policies, actor=actor, now=now,
                                 remote_addr=remote_addr)
        except IntegrityError:
            if attempt == RETRY_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


# --- Batches ---

def run_batch(engine: Engine, run_id: int, *, policies: Mapping[int, FeePolicy], batch_size: int, actor: str,
              clock: Callable[[], datetime]) -> RenewalRun:
    """Renew the next ``batch_size`` organisations in one transaction; finish the run when none are left.

    A batch that loses a race (a sign-up created one of its memberships meanwhile)
    is rolled back and tried again; the retry no longer renews that membership.
    """
    for attempt in range(1, RETRY_ATTEMPTS + 1):
        try:
            with transaction(engine) as session:
                return _batch(session, run_id, policies=policies, batch_size=batch_size, actor=actor,
                              now=clock())
        except IntegrityError:
            if attempt == RETRY_ATTEMPTS:
                raise
            log.info("renewal batch raced with a sign-up; retrying", run_id=run_id, attempt=attempt)
    raise AssertionError("unreachable")


def _batch(session: Session, run_id: int, *, policies: Mapping[int, FeePolicy], batch_size: int, actor: str,
           now: datetime) -> RenewalRun:
    run = session.exec(select(RenewalRun).where(RenewalRun.id == run_id).with_for_update()
                       .execution_options(populate_existing=True)).one()
    if run.status == FINISHED:
        return run
    policy = policies.get(run.to_year)
    if policy is None:
        raise RenewalRefused(renewal_problem(run.from_year, run.to_year, policies.keys()) or "")
    organisations = pending_organisations(session, run.from_year, run.to_year, after=run.last_organisation_id,
                                          limit=batch_size)
    created = sum(renew_organisation(session, run, organisation_id, policy, now)
                  for organisation_id in organisations)
    run.memberships_created += created
    if created:
        # The renewed members are invited to the new year's meetings already open for sign-up:
        # one list per meeting and batch, not per organisation.
        network_ids = list(session.exec(select(Network.id)).all())
        invite_new_members(session, [n for n in network_ids if n is not None], run.to_year, now=now,
                           correlation_id=f"renewal-{run.id}")
    if organisations:
        run.organisations_done += len(organisations)
        run.last_organisation_id = organisations[-1]
    if len(organisations) < batch_size or not pending_organisations(
            session, run.from_year, run.to_year, after=run.last_organisation_id, limit=1):
        run.status = FINISHED
        run.finished_at = now
        run.finished_by = actor
        # Organisations that signed up for from_year while the run went on are counted too.
        run.organisations_total = max(run.organisations_total, run.organisations_done)
        record_act(session, actor=actor, action="renewal.finish", subject=f"renewal:{run.id}",
                   detail=f"{run.organisations_done} organisationer, {run.memberships_created} medlemskap.",
                   at=now)
    session.add(run)
    log.info("renewal batch done", run_id=run.id, organisations=len(organisations),
             done=run.organisations_done, total=run.organisations_total, status=run.status)
    return run


def renew_organisation(session: Session, run: RenewalRun, organisation_id: int, policy: FeePolicy,
                       now: datetime) -> int:
    """Create the organisation's memberships for the new year and stage its one event; returns how many."""
    assert run.id is not None
    organisation = session.get(Organisation, organisation_id)
    latest = session.exec(select(Signup).where(Signup.organisation_id == organisation_id)
                          .order_by(col(Signup.id).desc())).first()
    assert organisation is not None and latest is not None and latest.id is not None
    rows = list(session.exec(
        select(Membership, Network).join(Network, col(Network.id) == Membership.network_id)
        .where(Membership.organisation_id == organisation_id, Membership.year == run.from_year)
        .order_by(col(Network.position))))
    opted_out = set(session.exec(select(RenewalOptOut.membership_id).where(
        col(RenewalOptOut.membership_id).in_([m.id for m, _n in rows]))))
    next_year = set(session.exec(select(Membership.network_id).where(
        Membership.organisation_id == organisation_id, Membership.year == run.to_year)))
    networks = {network.id: network for _m, network in rows}
    chosen = to_renew([Candidate(m.id, m.network_id, m.status, m.id in opted_out)  # type: ignore[arg-type]
                       for m, _n in rows], next_year)
    if not chosen:
        return 0
    created = session.connection().execute(
        _M.insert().returning(_M.c.id, sort_by_parameter_order=True),
        [{"organisation_id": organisation_id, "network_id": c.network_id, "year": run.to_year,
          "status": "active", "signup_id": latest.id, "created_at": now} for c in chosen],
    ).scalars().all()
    session.connection().execute(_table(RenewedMembership).insert(), [
        {"membership_id": new_id, "from_membership_id": c.membership_id, "renewal_run_id": run.id}
        for new_id, c in zip(created, chosen, strict=True)])
    infos = []
    for new_id, candidate in zip(created, chosen, strict=True):
        network = networks[candidate.network_id]
        fee = fee_for(policy, network.code)
        infos.append(MembershipInfo(membership_id=new_id, network_code=network.code,
                                    network_name=network.name, year=run.to_year, created=True,
                                    fee_exempt=fee.exempt, exemption_reason=fee.exemption_reason,
                                    fee=fee.amount))
    add_event(session, MembershipsRenewed(
        occurred_at=now, correlation_id=f"renewal-{run.id}-{organisation_id}", renewal_run_id=run.id,
        organisation=organisation_snapshot(organisation),
        # The contact of the organisation's latest sign-up speaks for it.
        contact=Contact(name=latest.contact_name, email=latest.contact_email),
        from_year=run.from_year, year=run.to_year, memberships=tuple(infos)))
    return len(chosen)


def run_to_end(engine: Engine, run_id: int, *, policies: Mapping[int, FeePolicy], batch_size: int, actor: str,
               clock: Callable[[], datetime],
               on_progress: Callable[[RenewalRun], None] | None = None) -> RenewalRun:
    """Batches until the run is finished; ``on_progress`` hears of each committed batch."""
    while True:
        run = run_batch(engine, run_id, policies=policies, batch_size=batch_size, actor=actor, clock=clock)
        if on_progress is not None:
            on_progress(run)
        if run.status == FINISHED:
            return run


def list_runs(session: Session, limit: int = 20) -> list[RenewalRun]:
    return list(session.exec(select(RenewalRun).order_by(col(RenewalRun.id).desc()).limit(limit)))


def get_run(session: Session, run_id: int) -> RenewalRun | None:
    return session.get(RenewalRun, run_id)
