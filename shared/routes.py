"""Every route's access decision: guarded by ``staff_page`` / ``staff_api`` with roles, or public by name.

A route that is neither guarded nor listed in :data:`PUBLIC_ROUTES` has made
no decision, and ``tests/security/test_route_walk.py`` fails on it. Add a
public route here, with the reason, in the same change that adds it.
``python -m devtools.routes`` prints the table of routes and roles.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import iter_route_contexts

from shared.accounts import ROLES
from shared.auth import RoleGuard

# (service or "*" for every service, "METHOD /path"): public on purpose.
PUBLIC_ROUTES: dict[str, set[str]] = {
    "*": {
        "GET /healthz",  # load balancers and compose health checks
        "GET /metrics",  # Prometheus scrapes it on the internal network; counts only, nothing personal
        "GET /login", "POST /login", "POST /logout",
        "MOUNT /static",  # CSS and JS
        "GET /openapi.json",  # the API description (no /docs or /redoc: see shared.web.service_app)
    },
    "registration": {
        "GET /", "POST /",  # the sign-up form
        "GET /kvitto/{token}",  # the receipt: a secret random link
        "GET /api/v1/networks", "POST /api/v1/signups",  # the public sign-up API
        # Emailed meeting links: a signed token (shared/links.py) is the key, bound to its purpose.
        "GET /moten/anmalan/{token}", "POST /moten/anmalan/{token}",
        "GET /moten/avboka/{token}", "POST /moten/avboka/{token}",
        "GET /avregistrera/{token}", "POST /avregistrera/{token}",
    },
    "invoicing": set(),
    "notifications": set(),
}


@dataclass(frozen=True)
class RouteDecision:
    service: str
    method: str
    path: str
    kind: str  # "api" | "page" | "public" | "undecided"
    roles: tuple[str, ...]  # the roles that pass (admin always, when guarded)

    @property
    def line(self) -> str:
        who = {"public": "public", "undecided": "UNDECIDED"}.get(self.kind, ", ".join(self.roles))
        return f"{self.service:<14} {self.method:<6} {self.path:<48} {self.kind:<6} {who}"


def guards_of(dependant: Dependant) -> list[RoleGuard]:
    found: list[RoleGuard] = []
    for sub in dependant.dependencies:
        if isinstance(sub.call, RoleGuard):
            found.append(sub.call)
        found += guards_of(sub)
    return found


def route_decisions(app: FastAPI, service: str) -> list[RouteDecision]:
    public = PUBLIC_ROUTES.get("*", set()) | PUBLIC_ROUTES.get(service, set())
    decisions: list[RouteDecision] = []
    for route in iter_route_contexts(app.routes):
        path = route.path or ""
        methods = sorted((route.methods or {"MOUNT"}) - {"HEAD"})
        dependant: Dependant | None = getattr(route, "dependant", None)
        guards = guards_of(dependant) if dependant is not None else []
        for method in methods:
            if guards:
                # Several guards (a router's and a route's): a role must pass them all. Computed
                # from the declarations, not with the check the guard runs, so a broken check shows.
                roles = tuple(role for role in ROLES
                              if all(role == "admin" or role in g.roles for g in guards))
                kind = "page" if any(g.kind == "page" for g in guards) else "api"
                decisions.append(RouteDecision(service, method, path, kind, roles))
            else:
                kind = "public" if f"{method} {path}" in public else "undecided"
                decisions.append(RouteDecision(service, method, path, kind, ()))
    return decisions
