"""The yearly run on the web: ``/staff/renewals`` to start a run and watch it, and its JSON API.

Roles: finance and staff. A started run is driven by this process's
background runner, a batch per transaction; the page refreshes itself
(``<meta http-equiv="refresh">``, no script) while a run is going. A run that
stopped midway (the service was restarted) is resumed with "Fortsätt", or by
the command ``python -m services.registration renew``.
"""

# No "from __future__ import annotations": FastAPI must resolve the Annotated
# dependency aliases defined inside the router factory at runtime.

import asyncio
from collections.abc import Mapping
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import anyio
import structlog
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel, Field
from sqlmodel import Session

from services.registration.lifecycle_models import RenewalRun
from services.registration.membership_routes import remote
from services.registration.renewal_rules import RenewalRefused, progress_percent
from services.registration.renewals import (
    FINISHED,
    STATUS_LABELS,
    get_run,
    list_runs,
    run_batch,
    start_or_resume,
)
from services.registration.settings import RegistrationSettings
from shared.digits import is_digits
from shared.events import utc_now
from shared.policy import FeePolicy
from shared.runtime import ServiceRuntime
from shared.threads import finish_in_thread
from shared.web import csrf_token, csrf_valid, make_templates, set_csrf_cookie, staff_api, staff_page

log = structlog.get_logger(__name__)
TEMPLATES = Path(__file__).parent / "templates"
EXPIRED = "Formuläret har gått ut. Försök igen."
REFRESH_SECONDS = 2


class RunOut(BaseModel):
    id: int
    from_year: int
    to_year: int
    status: str = Field(description="running eller finished")
    organisations_total: int
    organisations_done: int
    memberships_created: int
    percent: int
    started_by: str
    started_at: datetime
    finished_by: str
    finished_at: datetime | None
    active: bool = Field(description="true medan en process kör förnyelsen")


class RenewIn(BaseModel):
    from_year: int
    to_year: int


def run_out(run: RenewalRun, active: bool) -> RunOut:
    assert run.id is not None
    return RunOut(id=run.id, from_year=run.from_year, to_year=run.to_year, status=run.status,
                  organisations_total=run.organisations_total, organisations_done=run.organisations_done,
                  memberships_created=run.memberships_created,
                  percent=progress_percent(run.organisations_done, run.organisations_total),
                  started_by=run.started_by, started_at=run.started_at, finished_by=run.finished_by,
                  finished_at=run.finished_at, active=active)


class RenewalRunner:
    """Drives runs in this process, batch by batch, as one of the runtime's background tasks."""

    def __init__(self, runtime: ServiceRuntime, policies: Mapping[int, FeePolicy], batch_size: int) -> None:
        self.runtime = runtime
        self.policies = policies
        self.batch_size = batch_size
        self.active: set[int] = set()
        self._queue: asyncio.Queue[tuple[int, str]] | None = None

    def queue(self) -> asyncio.Queue[tuple[int, str]]:
        if self._queue is None:
            self._queue = asyncio.Queue()
        return self._queue

    def request(self, run_id: int, actor: str) -> None:
        if run_id not in self.active:
            self.active.add(run_id)
            self.queue().put_nowait((run_id, actor))

    async def run(self) -> None:
        """The background task: one run at a time; a failing run is logged and stays resumable."""
        while True:
            run_id, actor = await self.queue().get()
            try:
                await self._drive(run_id, actor)
            except Exception:
                log.exception("renewal run stopped; resume it from the page or the command", run_id=run_id)
            finally:
                self.active.discard(run_id)

    async def _drive(self, run_id: int, actor: str) -> None:
        while True:
            run = await finish_in_thread(partial(
                run_batch, self.runtime.engine, run_id, policies=self.policies, batch_size=self.batch_size,
                actor=actor, clock=utc_now))
            self.runtime.relay.notify()
            if run.status == FINISHED:
                return


def renewal_router(runtime: ServiceRuntime, policies: Mapping[int, FeePolicy],
                   settings: RegistrationSettings) -> APIRouter:
    router = APIRouter()
    engine = runtime.engine
    runner = RenewalRunner(runtime, policies, settings.renewal_batch_size)
    runtime.run_in_background("renewal-runner", runner.run)
    templates = make_templates(TEMPLATES)
    templates.env.globals["run_status"] = STATUS_LABELS
    templates.env.globals["percent"] = progress_percent
    ApiUser = Annotated[str, Depends(staff_api(settings, "finance", "staff"))]
    PageUser = Annotated[str, Depends(staff_page(settings, "finance", "staff"))]

    def start(from_year: int, to_year: int, actor: str, remote_addr: str) -> RenewalRun:
        run, _created = start_or_resume(engine, from_year, to_year, policies=policies, actor=actor,
                                        now=utc_now(), remote_addr=remote_addr)
        return run

    def runs() -> list[RenewalRun]:
        with Session(engine) as session:
            return list_runs(session)

    # --- API ---

    @router.post("/api/v1/renewals", status_code=202, response_model=RunOut, tags=["renewals"],
                 responses={422: {"description": "Inget år att förnya till"}})
    async def api_start(body: RenewIn, user: ApiUser, request: Request) -> Any:
        """Start the yearly renewal from_year → to_year (or resume the unfinished one), run in batches."""
        try:
            run = await anyio.to_thread.run_sync(start, body.from_year, body.to_year, user, remote(request))
        except RenewalRefused as refused:
            return JSONResponse({"detail": str(refused), "errors": {"to_year": str(refused)}},
                                status_code=422)
        assert run.id is not None
        if run.status != FINISHED:
            runner.request(run.id, user)
        return run_out(run, run.id in runner.active)

    @router.get("/api/v1/renewals", response_model=list[RunOut], tags=["renewals"])
    async def api_list(user: ApiUser) -> Any:
        return [run_out(run, run.id in runner.active) for run in await anyio.to_thread.run_sync(runs)]

    @router.get("/api/v1/renewals/{run_id}", response_model=RunOut, tags=["renewals"], responses={404: {}})
    async def api_get(run_id: int, user: ApiUser) -> Any:
        def load() -> RenewalRun | None:
            with Session(engine) as session:
                return get_run(session, run_id)

        run = await anyio.to_thread.run_sync(load)
        if run is None:
            return JSONResponse({"detail": f"Förnyelsen {run_id} finns inte.", "errors": {}}, status_code=404)
        return run_out(run, run_id in runner.active)

    # --- Page ---

    async def page(request: Request, user: str, *, error: str = "", status: int = 200,
                   from_year: int | None = None) -> Response:
        listed = await anyio.to_thread.run_sync(runs)
        years = sorted(policies)
        suggested = from_year if from_year is not None else (years[-1] - 1 if years else utc_now().year - 1)
        going = any(run.id in runner.active for run in listed)
        token = csrf_token(request)
        response = templates.TemplateResponse(request, "staff_renewals.html", {
            "user": user, "runs": listed, "active": runner.active, "error": error, "csrf_token": token,
            "from_year": suggested, "to_year": suggested + 1, "refresh": REFRESH_SECONDS if going else 0,
        }, status_code=status)
        set_csrf_cookie(response, token, settings)
        return response

    @router.get("/staff/renewals", include_in_schema=False)
    async def renewals_page(request: Request, user: PageUser) -> Response:
        return await page(request, user)

    @router.post("/staff/renewals", include_in_schema=False)
    async def renewals_start(request: Request, user: PageUser) -> Response:
        form = await request.form()
        if not csrf_valid(request, str(form.get("csrf_token") or "")):
            return await page(request, user, error=EXPIRED, status=400)
        raw_from, raw_to = str(form.get("from_year") or "").strip(), str(form.get("to_year") or "").strip()
        if not (is_digits(raw_from) and is_digits(raw_to)):
            return await page(request, user, error="Ange åren med fyra siffror, t.ex. 2018 och 2019.",
                              status=422)
        try:
            run = await anyio.to_thread.run_sync(start, int(raw_from), int(raw_to), user, remote(request))
        except RenewalRefused as refused:
            return await page(request, user, error=str(refused), status=422, from_year=int(raw_from))
        assert run.id is not None
        if run.status != FINISHED:
            runner.request(run.id, user)
        return RedirectResponse(f"/staff/renewals#run-{run.id}", status_code=303)

    return router
