"""User and token administration, the same from the admin page and the command: each act is audited.

The accounts live in Redis (:mod:`shared.accounts`); the audit entry goes to
the acting service's own ``audit_entry`` table (the command writes to
registration's). Audit subjects are ``user:<name>``; details never hold a
password or a token.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import anyio
from sqlalchemy import Engine

from shared.accounts import AccountStore, TokenInfo, User
from shared.audit import record_act
from shared.db import transaction


@dataclass(frozen=True)
class Actor:
    name: str
    remote_addr: str


def _audit(engine: Engine, actor: Actor, action: str, subject: str, detail: str = "") -> None:
    with transaction(engine) as session:
        record_act(session, actor=actor.name, action=action, subject=subject, detail=detail,
                   remote_addr=actor.remote_addr)


async def audit(engine: Engine, actor: Actor, action: str, subject: str, detail: str = "") -> None:
    await anyio.to_thread.run_sync(_audit, engine, actor, action, subject, detail)


async def create_user(store: AccountStore, engine: Engine, actor: Actor, name: str, role: str,
                      password: str, now: datetime) -> User:
    user = await store.create_user(name, role, password, now)
    await audit(engine, actor, "user.create", f"user:{user.name}", f"roll {user.role}")
    return user


async def disable_user(store: AccountStore, engine: Engine, actor: Actor, name: str) -> User:
    user = await store.disable_user(name)
    await audit(engine, actor, "user.disable", f"user:{user.name}", "sessioner avslutade")
    return user


async def enable_user(store: AccountStore, engine: Engine, actor: Actor, name: str) -> User:
    user = await store.enable_user(name)
    await audit(engine, actor, "user.enable", f"user:{user.name}")
    return user


async def create_token(store: AccountStore, engine: Engine, actor: Actor, name: str, label: str,
                       now: datetime) -> tuple[str, TokenInfo]:
    token, info = await store.create_token(name, label, now)
    await audit(engine, actor, "token.create", f"user:{info.user}", f"token {info.id} ({info.label})")
    return token, info


async def revoke_token(store: AccountStore, engine: Engine, actor: Actor, token_id: str) -> TokenInfo:
    info = await store.revoke_token(token_id)
    await audit(engine, actor, "token.revoke", f"user:{info.user}", f"token {info.id} ({info.label})")
    return info
