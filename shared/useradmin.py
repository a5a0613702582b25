"""User and token administration, the same from the admin page and the command: each act is audited.

The accounts live in Redis (:mod:`shared.accounts`); the audit entry goes to
the acting service's own ``audit_entry`` table (the command writes to
registration's) in the transaction that is open while the act runs, so an act
is never reported done without its entry. Audit subjects are ``user:<name>``;
details never hold a password or a token.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import anyio
from sqlalchemy import Engine

from shared.accounts import AccountStore, TokenInfo, User
from shared.audit import record_act
from shared.db import transaction

T = TypeVar("T")


@dataclass(frozen=True)
class Actor:
    name: str
    remote_addr: str


Act = Callable[[], Coroutine[Any, Any, T]]
Describe = Callable[[T], tuple[str, str, str]]


async def audited(engine: Engine, actor: Actor, act: Act[T], describe: Describe[T]) -> T:
    """Run the Redis ``act`` inside the database transaction that records it.

    The transaction is open before the act, so a database that cannot be reached
    stops the act instead of leaving it unaudited; an act that fails rolls the
    entry back. ``describe`` gives (action, subject, detail) from the act's result.
    """

    def run() -> T:
        with transaction(engine) as session:
            session.connection()  # connect (and begin) now: the session would wait for the first statement
            result = anyio.from_thread.run(act)
            action, subject, detail = describe(result)
            record_act(session, actor=actor.name, action=action, subject=subject, detail=detail,
                       remote_addr=actor.remote_addr)
        return result

    return await anyio.to_thread.run_sync(run)


async def create_user(store: AccountStore, engine: Engine, actor: Actor, name: str, role: str,
                      password: str, now: datetime) -> User:
    return await audited(engine, actor, lambda: store.create_user(name, role, password, now),
                         lambda user: ("user.create", f"user:{user.name}", f"roll {user.role}"))


async def disable_user(store: AccountStore, engine: Engine, actor: Actor, name: str) -> User:
    return await audited(engine, actor, lambda: store.disable_user(name),
                         lambda user: ("user.disable", f"user:{user.name}", "sessioner avslutade"))


async def enable_user(store: AccountStore, engine: Engine, actor: Actor, name: str) -> User:
    return await audited(engine, actor, lambda: store.enable_user(name),
                         lambda user: ("user.enable", f"user:{user.name}", ""))


async def create_token(store: AccountStore, engine: Engine, actor: Actor, name: str, label: str,
                       now: datetime) -> tuple[str, TokenInfo]:
    return await audited(engine, actor, lambda: store.create_token(name, label, now),
                         lambda made: ("token.create", f"user:{made[1].user}",
                                       f"token {made[1].id} ({made[1].label})"))


async def revoke_token(store: AccountStore, engine: Engine, actor: Actor, token_id: str) -> TokenInfo:
    return await audited(engine, actor, lambda: store.revoke_token(token_id),
                         lambda info: ("token.revoke", f"user:{info.user}",
                                       f"token {info.id} ({info.label})"))
