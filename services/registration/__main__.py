"""``python -m services.registration``: the sign-up service; ``... dead-letters`` for its dead letters."""

from __future__ import annotations

from services.registration.app import create_app
from services.registration.settings import RegistrationSettings
from shared.entrypoint import run_service


def main() -> None:
    run_service("registration", RegistrationSettings, create_app)


if __name__ == "__main__":
    main()
