"""``python -m services.registration``: the sign-up service; ``... dead-letters`` for its dead letters;
``... renew --from 2018 --to 2019`` for the yearly renewal run; ``... users`` / ``... tokens`` for staff
accounts and API tokens (shared/users_cli.py)."""

from __future__ import annotations

import sys

from services.registration.app import create_app
from services.registration.renew_cli import run as renew
from services.registration.settings import RegistrationSettings
from shared.entrypoint import run_service
from shared.users_cli import dispatch


def main() -> None:
    if sys.argv[1:2] == ["renew"]:
        sys.exit(renew(sys.argv[2:]))
    dispatch("registration", RegistrationSettings, sys.argv)
    run_service("registration", RegistrationSettings, create_app)


if __name__ == "__main__":
    main()
