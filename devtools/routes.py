"""``python -m devtools.routes``: every route of every service with the roles it needs (the Security table).

Builds the three apps without starting them (no Redis or database needed) and
prints one line per (service, method, path): ``page``/``api`` with the roles
that pass (admin always), ``public`` for routes in ``shared.routes.PUBLIC_ROUTES``,
and ``UNDECIDED`` for a route that made no decision (exit code 1).
"""

from __future__ import annotations

import sys

from fastapi import FastAPI

from shared.routes import RouteDecision, route_decisions


def all_apps() -> dict[str, FastAPI]:
    from services.invoicing.app import create_app as invoicing
    from services.notifications.app import create_app as notifications
    from services.registration.app import create_app as registration

    return {"registration": registration(), "invoicing": invoicing(), "notifications": notifications()}


def all_decisions() -> list[RouteDecision]:
    return [decision for service, app in all_apps().items() for decision in route_decisions(app, service)]


def main() -> int:
    decisions = all_decisions()
    print(f"{'service':<14} {'method':<6} {'path':<48} {'kind':<6} roles")
    for decision in decisions:
        print(decision.line)
    return 1 if any(d.kind == "undecided" for d in decisions) else 0


if __name__ == "__main__":
    sys.exit(main())
