"""``python -m services.registration``: the sign-up service; ``... dead-letters`` for its dead letters;
``... renew --from 2018 --to 2019`` for the yearly renewal run."""

from __future__ import annotations

import sys

from services.registration.app import create_app
from services.registration.renew_cli import run as renew
from services.registration.settings import RegistrationSettings
from shared.entrypoint import run_service


def main() -> None:
    if sys.argv[1:2] == ["renew"]:
        sys.exit(renew(sys.argv[2:]))
    run_service("registration", RegistrationSettings, create_app)


if __name__ == "__main__":
    main()
