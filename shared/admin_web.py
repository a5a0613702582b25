"""Admin pages: the audit log of this service (every service) and, in registration, users and tokens.

``GET /admin/audit`` lists the service's audit log (admin only), newest
first, filterable by subject prefix and actor. ``GET /admin/users`` (admin
only, registration) creates, disables and enables users and creates and
revokes API tokens; a new token is shown once. Every form carries the CSRF
token and every act is audited.
"""

# No "from __future__ import annotations": FastAPI resolves the Annotated aliases at runtime.

from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Query, Request, Response
from sqlmodel import Session

from shared import useradmin
from shared.accounts import ROLE_LABELS, ROLES, AccountError, AccountStore
from shared.audit import recent_entries
from shared.auth import client_address, staff_page
from shared.deadletters_web import swedish_time
from shared.events import utc_now
from shared.runtime import ServiceRuntime
from shared.settings import CommonSettings
from shared.web import SHARED_TEMPLATES, csrf_token, csrf_valid, make_templates, set_csrf_cookie

EXPIRED = "Formuläret har gått ut. Ladda om sidan och försök igen."
USERS_SERVICE = "registration"


def admin_router(settings: CommonSettings, runtime: ServiceRuntime) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    templates = make_templates(SHARED_TEMPLATES)
    templates.env.filters["swedish_time"] = swedish_time
    templates.env.globals["role_labels"] = ROLE_LABELS
    AdminUser = Annotated[str, Depends(staff_page(settings, "admin"))]
    engine = runtime.engine

    @router.get("/admin/audit")
    async def audit_page(request: Request, user: AdminUser,
                         subject: Annotated[str, Query(max_length=200)] = "",
                         actor: Annotated[str, Query(max_length=200)] = "") -> Response:
        def load() -> Any:
            with Session(engine) as session:
                return recent_entries(session, 500, subject_prefix=subject.strip(), actor=actor.strip())

        entries = await anyio.to_thread.run_sync(load)
        return templates.TemplateResponse(request, "admin_audit.html", {
            "user": user, "service": runtime.service, "entries": entries, "subject": subject,
            "actor": actor, "users_here": runtime.service == USERS_SERVICE})

    if runtime.service != USERS_SERVICE:
        return router

    def store_of(request: Request) -> AccountStore:
        store: AccountStore = request.app.state.accounts
        return store

    async def render(request: Request, user: str, *, notice: str = "", error: str = "",
                     new_token: str = "", status: int = 200) -> Response:
        store = store_of(request)

        def load() -> Any:
            with Session(engine) as session:
                return recent_entries(session, 100, subject_prefix="user:")

        token = csrf_token(request)
        response = templates.TemplateResponse(request, "admin_users.html", {
            "user": user, "users": await store.list_users(), "tokens": await store.tokens(),
            "roles": ROLES, "bootstrap_admin": settings.admin_user, "notice": notice, "error": error,
            "new_token": new_token, "entries": await anyio.to_thread.run_sync(load), "csrf_token": token,
        }, status_code=status, headers={"Cache-Control": "no-store"})
        set_csrf_cookie(response, token, settings)
        return response

    @router.get("/admin/users")
    async def users_page(request: Request, user: AdminUser) -> Response:
        return await render(request, user)

    @router.post("/admin/users")
    async def users_act(request: Request, user: AdminUser) -> Response:
        form = await request.form()
        if not csrf_valid(request, str(form.get("csrf_token") or "")):
            return await render(request, user, error=EXPIRED, status=400)

        def field(name: str) -> str:
            value = form.get(name)
            return value if isinstance(value, str) else ""

        actor = useradmin.Actor(user, client_address(request))
        store, action, name = store_of(request), field("action"), field("name")
        new_token = ""
        try:
            if action == "create":
                created = await useradmin.create_user(store, engine, actor, name, field("role"),
                                                      field("password"), utc_now())
                notice = f"Användaren {created.name} är skapad ({ROLE_LABELS[created.role]})."
            elif action == "disable":
                disabled = await useradmin.disable_user(store, engine, actor, name)
                notice = f"Användaren {disabled.name} är avstängd; alla sessioner och token slutar gälla."
            elif action == "enable":
                enabled = await useradmin.enable_user(store, engine, actor, name)
                notice = f"Användaren {enabled.name} är aktiv igen."
            elif action == "create-token":
                new_token, info = await useradmin.create_token(store, engine, actor, name, field("label"),
                                                               utc_now())
                notice = f"Token {info.id} för {info.user} är skapad. Kopiera den nu: den visas bara en gång."
            elif action == "revoke-token":
                revoked = await useradmin.revoke_token(store, engine, actor, field("token_id"))
                notice = f"Token {revoked.id} för {revoked.user} är återkallad."
            else:
                return await render(request, user, error="Okänd åtgärd.", status=400)
        except AccountError as error:
            return await render(request, user, error=str(error), status=422)
        return await render(request, user, notice=notice, new_token=new_token)

    return router
