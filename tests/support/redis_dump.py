"""Everything a Redis holds, key by key, as bytes to search: proof that a secret is stored nowhere."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis


async def _value(redis: Redis, key: bytes, kind: str) -> Any:
    if kind == "string":
        return await redis.get(key)
    if kind == "hash":
        return await redis.hgetall(key)
    if kind == "set":
        return await redis.smembers(key)
    if kind == "zset":
        return await redis.zrange(key, 0, -1, withscores=True)
    if kind == "list":
        return await redis.lrange(key, 0, -1)
    if kind == "stream":
        return await redis.xrange(key)
    raise AssertionError(f"a key of an unexpected type: {kind}")


def _flat(value: Any) -> bytes:
    """The value's raw bytes, containers flattened (not repr: that would escape non-ASCII text)."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, dict):
        return b" ".join(_flat(k) + b" " + _flat(v) for k, v in value.items())
    if isinstance(value, (list, tuple, set)):
        return b" ".join(_flat(item) for item in value)
    return str(value).encode("utf-8")


async def redis_dump(redis: Redis) -> dict[str, bytes]:
    """Each key's name with its whole value (any type, stream entries included) as searchable bytes."""
    dump: dict[str, bytes] = {}
    async for key in redis.scan_iter():
        kind: Any = await redis.type(key)
        kind = kind.decode() if isinstance(kind, bytes) else str(kind)
        dump[key.decode()] = key + b" " + _flat(await _value(redis, key, kind))
    return dump


async def keys_naming(redis: Redis, text: str) -> list[str]:
    """The keys whose name or value contains ``text``, case-insensitive."""
    needle = text.lower().encode()
    return sorted(key for key, dumped in (await redis_dump(redis)).items() if needle in dumped.lower())
