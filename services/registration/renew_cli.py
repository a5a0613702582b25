"""``python -m services.registration renew --from 2018 --to 2019``: the yearly run from the command line.

Starts the run (or resumes the unfinished one for the same years) and drives
it batch by batch, printing a progress line per batch. Needs only the
registration database (``REGISTRATION_DATABASE_URL``) and the fee policies:
the events it stages in the outbox are published by the running
registration service's relay. Exit codes: 0 done, 1 refused (no policy for
the new year, not consecutive years, a broken policy file), 2 bad usage.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Sequence

from services.registration.catalogue import NETWORKS
from services.registration.lifecycle_models import RenewalRun
from services.registration.renewal_rules import RenewalRefused, progress_percent
from services.registration.renewals import run_to_end, start_or_resume
from services.registration.settings import RegistrationSettings
from shared.db import make_engine
from shared.events import utc_now
from shared.logs import configure_logging
from shared.migrations import migrate_service
from shared.policy import PolicyError, load_policies


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m services.registration renew",
                                     description="Förnya årets medlemskap till nästa år.")
    parser.add_argument("--from", dest="from_year", type=int, required=True,
                        help="året som förnyas, t.ex. 2018")
    parser.add_argument("--to", dest="to_year", type=int, required=True, help="det nya året, t.ex. 2019")
    parser.add_argument("--by", default="", help="vem som kör förnyelsen (loggas); standard: användarnamnet")
    parser.add_argument("--batch-size", type=int, default=None, help="organisationer per transaktion")
    return parser.parse_args(list(argv))


def progress_line(run: RenewalRun) -> str:
    percent = progress_percent(run.organisations_done, run.organisations_total)
    return (f"Förnyelse {run.from_year} → {run.to_year}: {run.organisations_done}/{run.organisations_total} "
            f"organisationer ({percent} %), {run.memberships_created} medlemskap")


def run(argv: Sequence[str]) -> int:
    """The command as ``__main__`` runs it: only warnings are logged (to stderr), progress goes to stdout."""
    configure_logging("registration", fmt=os.environ.get("LOG_FORMAT", "console"), level="WARNING")
    return main(argv)


def main(argv: Sequence[str], settings: RegistrationSettings | None = None) -> int:
    try:
        args = parse(argv)
    except SystemExit as exit_:
        return 0 if exit_.code == 0 else 2
    settings = settings or RegistrationSettings()
    actor = args.by or f"kommando:{getpass.getuser()}"
    try:
        # The same check as the service's start, network codes included: a broken file bills nobody.
        policies = load_policies(settings.fee_policy_dir, network_codes={n.code for n in NETWORKS})
    except PolicyError as error:
        print(f"Förnyelsen kan inte starta: {error}", file=sys.stderr)
        return 1
    engine = make_engine(settings.database_url)
    try:
        from services.registration.app import SERVICE_MODELS  # the app's tables, not just the renewal's

        migrate_service(engine, "registration", SERVICE_MODELS)
        try:
            run, created = start_or_resume(engine, args.from_year, args.to_year, policies=policies,
                                           actor=actor, now=utc_now())
        except RenewalRefused as refused:
            print(f"Förnyelsen kan inte starta: {refused}", file=sys.stderr)
            return 1
        assert run.id is not None
        print(("Startar" if created else "Fortsätter") + f" förnyelse {run.id}: " + progress_line(run),
              flush=True)
        finished = run_to_end(engine, run.id, policies=policies,
                              batch_size=args.batch_size or settings.renewal_batch_size, actor=actor,
                              clock=utc_now, on_progress=lambda done: print(progress_line(done), flush=True))
        print(f"Klar: {finished.organisations_done} organisationer, "
              f"{finished.memberships_created} medlemskap förnyade till {finished.to_year}.", flush=True)
        return 0
    finally:
        engine.dispose()
