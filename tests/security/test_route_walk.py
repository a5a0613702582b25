"""Every route of every service: anonymous and wrong-role callers are refused, the right role gets in.

Walks ``app.routes`` of the three apps. A route is either guarded by
``staff_page`` / ``staff_api`` (whose roles the guard exposes) or listed in
``shared.routes.PUBLIC_ROUTES``; a route with no decision fails here.
Run with ``-s`` to see the table of routes and roles (also
``python -m devtools.routes``).
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Depends, FastAPI

from devtools.routes import all_decisions
from shared.accounts import ROLES
from shared.routes import RouteDecision, route_decisions
from shared.settings import CommonSettings
from shared.web import staff_api
from tests.security.conftest import API_TOKEN, System, with_session

USERS = {"staff": "sara", "finance": "fredrik", "admin": "ada"}


def concrete(path: str) -> str:
    """A path with every parameter filled in with a harmless value."""
    return re.sub(r"\{[^}]+\}", "1", path)


def call(system: System, decision: RouteDecision, *, session: str | None = None,
         token: str | None = None) -> tuple[int, str, str]:
    client = system[decision.service]
    client.cookies.clear()
    if session:
        with_session(client, session)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = client.request(decision.method, concrete(decision.path), headers=headers,
                              data={} if decision.method == "POST" else None)
    return response.status_code, response.headers.get("location", ""), response.text


def test_every_route_of_every_service_has_declared_who_may_call_it() -> None:
    decisions = all_decisions()
    print("\n" + "\n".join(decision.line for decision in decisions))
    undecided = [d.line for d in decisions if d.kind == "undecided"]
    assert not undecided, "routes without a decision (guard them or add them to PUBLIC_ROUTES):\n" + \
        "\n".join(undecided)
    guarded = [d for d in decisions if d.kind in ("api", "page")]
    assert {d.service for d in guarded} == {"registration", "invoicing", "notifications"}
    assert all("admin" in d.roles for d in guarded), "admin may do everything"


def test_a_new_route_without_a_guard_or_a_public_listing_is_reported_undecided() -> None:
    app = FastAPI()
    router = APIRouter()

    @router.get("/staff/secret")
    def secret() -> dict[str, str]:
        return {}

    @router.get("/api/v1/guarded", dependencies=[Depends(staff_api(CommonSettings(), "finance"))])
    def guarded() -> dict[str, str]:
        return {}

    app.include_router(router)
    kinds = {(d.path, d.kind, d.roles) for d in route_decisions(app, "registration")}
    assert ("/staff/secret", "undecided", ()) in kinds
    assert ("/api/v1/guarded", "api", ("finance", "admin")) in kinds


def test_guarded_routes_refuse_anonymous_and_wrong_roles_and_admit_the_right_role(
        sqlite_system: System) -> None:
    system = sqlite_system
    sessions, tokens = {}, {}
    for role, name in USERS.items():
        system.create_user(name, role)
        sessions[role] = system.session_for(name)
        tokens[role] = system.create_token(name)
    guarded = [d for d in all_decisions() if d.kind in ("api", "page")]
    assert len(guarded) > 20
    failures: list[str] = []
    for decision in guarded:
        right = next(role for role in ROLES if role in decision.roles)
        wrong = [role for role in ROLES if role not in decision.roles]
        if decision.kind == "api":
            status, _location, _text = call(system, decision)
            if status != 401:
                failures.append(f"{decision.line}: anonymous got {status}, not 401")
            for role in wrong:
                status, _location, _text = call(system, decision, token=tokens[role])
                if status != 403:
                    failures.append(f"{decision.line}: {role} token got {status}, not 403")
            for credentials in ({"token": tokens[right]}, {"session": sessions[right]}):
                status, _location, _text = call(system, decision, **credentials)
                if status in (401, 403) or status >= 500:
                    failures.append(f"{decision.line}: {right} ({next(iter(credentials))}) got {status}")
        else:
            status, location, _text = call(system, decision)
            if status != 303 or not location.startswith("/login"):
                failures.append(f"{decision.line}: anonymous got {status} {location}, not /login")
            for role in wrong:
                status, _location, text = call(system, decision, session=sessions[role])
                if status != 403 or "Behörighet saknas" not in text:
                    failures.append(f"{decision.line}: {role} got {status}, not the Swedish 403 page")
            # A token is no page login: pages need the session.
            status, location, _text = call(system, decision, token=tokens[right])
            if status != 303:
                failures.append(f"{decision.line}: a bearer token on a page got {status}")
            status, location, _text = call(system, decision, session=sessions[right])
            if status in (401, 403) or status >= 500 or location.startswith("/login"):
                failures.append(f"{decision.line}: {right} got {status} {location}")
    assert not failures, "\n".join(failures)


def test_the_bootstrap_token_from_the_environment_is_admin_everywhere(sqlite_system: System) -> None:
    for decision in [d for d in all_decisions() if d.kind == "api"]:
        status, _location, _text = call(sqlite_system, decision, token=API_TOKEN)
        assert status not in (401, 403) and status < 500, decision.line
