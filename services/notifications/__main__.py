"""``python -m services.notifications``: the service; ``... dead-letters`` for its dead letters."""

from __future__ import annotations

from services.notifications.app import SERVICE, create_app
from services.notifications.settings import NotificationsSettings
from shared.entrypoint import run_service


def main() -> None:
    run_service(SERVICE, NotificationsSettings, create_app)


if __name__ == "__main__":
    main()
