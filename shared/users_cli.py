"""``python -m services.registration users|tokens ...``: create, list and disable staff accounts and tokens.

    users create anna --role finance     # the password from stdin (prompted twice on a terminal)
    users list [--json]
    users disable anna | users enable anna
    tokens create anna [--label "skript"]   # prints the token once
    tokens list [--json] | tokens revoke <id>

Reads ``REDIS_URL`` (where accounts live) and registration's database URL (the
audit log). Every act is audited with the operating-system user as actor.
Exit codes: 0 done, 1 refused (bad input, unknown user), 2 bad usage, 3 Redis
or the database unreachable.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from collections.abc import Callable
from dataclasses import asdict
from typing import TextIO

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from shared import useradmin
from shared.accounts import ROLES, AccountError, AccountStore
from shared.audit import AuditEntry
from shared.db import create_tables, make_engine
from shared.deadletters_cli import cli_actor
from shared.events import utc_now
from shared.logs import configure_logging
from shared.settings import CommonSettings

COMMANDS = ("users", "tokens")
EXIT_OK, EXIT_REFUSED, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3


def parser(service: str) -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog=f"python -m services.{service}",
                                   description="Användare och API-token för personal och ekonomi.")
    groups = root.add_subparsers(dest="group", required=True, metavar="users|tokens")
    users = groups.add_parser("users", help="skapa, lista, stänga av och aktivera användare")
    user_commands = users.add_subparsers(dest="command", required=True,
                                         metavar="create|list|disable|enable")
    create = user_commands.add_parser("create", help="skapa en användare (lösenordet läses från stdin)")
    create.add_argument("name")
    create.add_argument("--role", required=True, choices=ROLES)
    listing = user_commands.add_parser("list", help="visa användarna")
    listing.add_argument("--json", action="store_true")
    for verb, text in (("disable", "stäng av (avslutar sessioner; token slutar gälla)"),
                       ("enable", "aktivera")):
        user_commands.add_parser(verb, help=text).add_argument("name")
    tokens = groups.add_parser("tokens", help="skapa, lista och återkalla API-token")
    token_commands = tokens.add_subparsers(dest="command", required=True, metavar="create|list|revoke")
    token_create = token_commands.add_parser("create", help="ny token för en användare (visas en gång)")
    token_create.add_argument("name")
    token_create.add_argument("--label", default="")
    token_list = token_commands.add_parser("list", help="visa token (utan själva token)")
    token_list.add_argument("--json", action="store_true")
    token_commands.add_parser("revoke", help="återkalla en token").add_argument("id")
    return root


def read_password(stdin: TextIO, err: TextIO) -> str:
    if stdin.isatty():
        first = getpass.getpass("Lösenord: ", stream=err)
        if getpass.getpass("Lösenord igen: ", stream=err) != first:
            raise AccountError("Lösenorden är inte lika.")
        return first
    return stdin.readline().rstrip("\r\n")


async def run(settings: CommonSettings, database_url: str, args: argparse.Namespace,
              stdin: TextIO, out: TextIO) -> int:
    redis = Redis.from_url(settings.redis_url, socket_connect_timeout=5, socket_timeout=10)
    engine = make_engine(database_url, pool_size=1)
    try:
        await asyncio.to_thread(create_tables, engine, [AuditEntry])
        store = AccountStore(redis, reserved=settings.admin_user)
        actor = useradmin.Actor(cli_actor(), "local")
        key = (args.group, args.command)
        if key == ("users", "create"):
            password = read_password(stdin, sys.stderr)
            user = await useradmin.create_user(store, engine, actor, args.name, args.role, password,
                                               utc_now())
            print(f"Användaren {user.name} är skapad med rollen {user.role}.", file=out)
        elif key == ("users", "list"):
            for account in await store.list_users():
                if args.json:
                    print(json.dumps({"name": account.name, "role": account.role,
                                      "disabled": account.disabled, "created_at": account.created_at}),
                          file=out)
                else:
                    state = "avstängd" if account.disabled else "aktiv"
                    print(f"{account.name}\t{account.role}\t{state}\t{account.created_at}", file=out)
        elif key == ("users", "disable"):
            user = await useradmin.disable_user(store, engine, actor, args.name)
            print(f"Användaren {user.name} är avstängd; sessioner och token slutar gälla.", file=out)
        elif key == ("users", "enable"):
            user = await useradmin.enable_user(store, engine, actor, args.name)
            print(f"Användaren {user.name} är aktiv igen.", file=out)
        elif key == ("tokens", "create"):
            token, info = await useradmin.create_token(store, engine, actor, args.name, args.label, utc_now())
            print(f"Token {info.id} för {info.user} (visas bara nu):", file=sys.stderr)
            print(token, file=out)
        elif key == ("tokens", "list"):
            for info in await store.tokens():
                if args.json:
                    print(json.dumps(asdict(info)), file=out)
                else:
                    print(f"{info.id}\t{info.user}\t{info.label}\t{info.created_at}\t"
                          f"{info.last_used_at or 'aldrig'}", file=out)
        else:
            info = await useradmin.revoke_token(store, engine, actor, args.id)
            print(f"Token {info.id} för {info.user} är återkallad.", file=out)
        return EXIT_OK
    finally:
        await redis.aclose()
        engine.dispose()


def main(service: str, load_settings: Callable[[], CommonSettings], argv: list[str],
         stdin: TextIO = sys.stdin, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    try:
        args = parser(service).parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    settings = load_settings()
    configure_logging(service, fmt=settings.log_format, level="WARNING")
    database_url: str = getattr(settings, "database_url", f"sqlite:///var/{service}.db")
    try:
        return asyncio.run(run(settings, database_url, args, stdin, out))
    except AccountError as error:
        print(str(error), file=err)
        return EXIT_REFUSED
    except (RedisError, OSError) as error:
        print(f"Når inte Redis på {settings.redis_url}: {error.__class__.__name__}", file=err)
        return EXIT_UNREACHABLE
    except SQLAlchemyError as error:
        print(f"Når inte databasen för granskningsloggen: {error.__class__.__name__}", file=err)
        return EXIT_UNREACHABLE


def dispatch(service: str, load_settings: Callable[[], CommonSettings], argv: list[str]) -> None:
    """In ``__main__``: exit with the command's code when ``argv[1]`` is ``users`` or ``tokens``."""
    if argv[1:2] and argv[1] in COMMANDS:
        sys.exit(main(service, load_settings, argv[1:]))
