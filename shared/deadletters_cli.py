"""``python -m services.<name> dead-letters list|replay <id>|replay-all``: dead letters for operators.

Reads ``REDIS_URL``, and ``<SERVICE>_DATABASE_URL`` for the audit log (a replay
is an act of staff, recorded with the operating-system user), so it
runs beside a service (or instead of one) with the service's environment.
Exit codes: 0 done, 1 no such dead letter (or it was replayed meanwhile), 2 bad
usage or an ambiguous id, 3 Redis (or, for a replay, the database) unreachable.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from typing import TextIO

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from shared.audit import AuditEntry, record_act
from shared.db import create_tables, make_engine, transaction
from shared.deadletters import (
    DeadLetter,
    DeadLetterAmbiguous,
    DeadLetterNotFound,
    DeadLetterStore,
    count_text,
)
from shared.logs import configure_logging
from shared.settings import CommonSettings

COMMAND = "dead-letters"
EXIT_OK, EXIT_NOT_FOUND, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3


def redis_url() -> str:
    default = CommonSettings.model_fields["redis_url"].default
    return os.environ.get("REDIS_URL", default)


def database_url(service: str) -> str:
    return os.environ.get(f"{service.upper()}_DATABASE_URL", f"sqlite:///var/{service}.db")


def cli_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def audit_replay(engine: Engine | None, dead_letter_ids: list[str], detail: str) -> None:
    if engine is None or not dead_letter_ids:
        return
    with transaction(engine) as session:
        for dead_letter_id in dead_letter_ids:
            # The same subject as the page's replays, so the page shows these too.
            record_act(session, actor=cli_actor(), action="dead_letter.replay",
                       subject="dead-letters", detail=f"{dead_letter_id}: {detail}", remote_addr="local")


def parser(service: str) -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog=f"python -m services.{service} {COMMAND}",
        description=f"Döda meddelanden (dead letters) för tjänsten {service}: visa och spela upp igen.")
    commands = root.add_subparsers(dest="command", required=True, metavar="list|replay|replay-all")
    listing = commands.add_parser("list", help="visa tjänstens döda meddelanden, äldst först")
    listing.add_argument("--json", action="store_true", help="en JSON-rad per meddelande")
    replay = commands.add_parser("replay", help="publicera ett dött meddelande på sin ström igen")
    replay.add_argument("id", help="det döda meddelandets id, som `list` visar det")
    replay.add_argument("--stream", help="den ursprungliga strömmen, om id:t finns på flera")
    commands.add_parser("replay-all", help="publicera alla tjänstens döda meddelanden igen")
    return root


def describe(letter: DeadLetter) -> str:
    event = f"{letter.event_type} {letter.event_id}" if letter.event_type else "(oläsbar händelse)"
    failed = letter.failed_at.strftime("%Y-%m-%d %H:%M:%S %Z") if letter.failed_at else "okänd tid"
    return (f"{letter.id}  {letter.stream}  post {letter.entry_id}  {failed}\n"
            f"    händelse: {event}\n    fel: {letter.error}")


async def run_command(store: DeadLetterStore, args: argparse.Namespace, out: TextIO,
                      engine: Engine | None = None) -> int:
    if args.command == "list":
        letters = await store.letters()
        if args.json:
            for letter in letters:
                print(letter.model_dump_json(), file=out)
            return EXIT_OK
        if not letters:
            print(f"Inga döda meddelanden för {store.group}.", file=out)
            return EXIT_OK
        print(f"{count_text(len(letters))} för {store.group}:", file=out)
        for letter in letters:
            print(describe(letter), file=out)
        return EXIT_OK
    if args.command == "replay":
        done = await store.replay(args.id, args.stream)
        await asyncio.to_thread(audit_replay, engine, [done.dead_letter.id],
                                f"{done.dead_letter.stream} → {done.new_entry_id}")
        print(f"Uppspelat: {done.dead_letter.id} publicerat på {done.dead_letter.stream} "
              f"som ny post {done.new_entry_id}.", file=out)
        return EXIT_OK
    replayed = await store.replay_all()
    await asyncio.to_thread(audit_replay, engine, [done.dead_letter.id for done in replayed],
                            "spela upp alla")
    for done in replayed:
        print(f"Uppspelat: {done.dead_letter.id} → {done.dead_letter.stream} {done.new_entry_id}",
              file=out)
    print(f"Uppspelade för {store.group}: {count_text(len(replayed))}.", file=out)
    return EXIT_OK


async def _main(service: str, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    redis = Redis.from_url(redis_url(), socket_connect_timeout=5, socket_timeout=10)
    engine: Engine | None = None
    try:
        if args.command != "list":
            # Before acting: a replay that could not be audited is not done.
            engine = make_engine(database_url(service), pool_size=1)
            await asyncio.to_thread(create_tables, engine, [AuditEntry])
        return await run_command(DeadLetterStore(redis, service), args, out, engine)
    except DeadLetterNotFound as missing:
        print(f"Inget dött meddelande {missing} för {service} (fel id, eller redan uppspelat).", file=err)
        return EXIT_NOT_FOUND
    except DeadLetterAmbiguous as ambiguous:
        print(f"Id {ambiguous} finns på flera strömmar; ange vilken med --stream.", file=err)
        return EXIT_USAGE
    except (RedisConnectionError, RedisTimeoutError, OSError) as error:
        print(f"Når inte Redis på {redis_url()}: {error}", file=err)
        return EXIT_UNREACHABLE
    except SQLAlchemyError as error:
        print(f"Når inte databasen för granskningsloggen: {error.__class__.__name__}", file=err)
        return EXIT_UNREACHABLE
    finally:
        await redis.aclose()
        if engine is not None:
            engine.dispose()


def main(service: str, argv: list[str], out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """Run ``dead-letters <argv>`` for ``service``; returns the exit code."""
    try:
        args = parser(service).parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    # Our own lines go to stdout; the log (warnings and worse) to stderr.
    configure_logging(service, fmt=os.environ.get("LOG_FORMAT", "console"), level="WARNING")
    return asyncio.run(_main(service, args, out, err))


def dispatch(service: str, argv: list[str]) -> None:
    """In ``__main__``: exit with the command's code when ``argv[1]`` is ``dead-letters``."""
    if argv[1:2] == [COMMAND]:
        sys.exit(main(service, argv[2:]))

