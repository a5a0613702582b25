"""Signed links: tokens in emailed URLs (meeting sign-up, cancellation, unsubscribe).

A token carries a small JSON payload, is signed with ``REGLAB_SECRET_KEY`` and
salted with its purpose, so a token made for one purpose is refused for
another. It expires: the payload holds its own expiry time, so a link can live
until the meeting rather than a fixed age. The clock is passed in.

The signature is HMAC-SHA256 (itsdangerous defaults to SHA-1) over the
purpose-salted key: 256 bits that cannot be guessed, and a token is refused
for any other purpose. The payload is signed, not encrypted: it is readable
(base64 JSON), so it holds ids, never secrets or personal data. A link can be
used again until it expires; a handler that must act once (a cancellation)
makes its act idempotent.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer


class LinkInvalid(ValueError):
    """A token that is forged, altered, made for another purpose, or expired."""


def _serializer(secret_key: str, purpose: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt=f"reglab-link:{purpose}",
                             signer_kwargs={"digest_method": hashlib.sha256})


def sign_link(secret_key: str, purpose: str, payload: dict[str, Any], expires_at: datetime) -> str:
    if expires_at.tzinfo is None:
        raise ValueError("expires_at must be timezone-aware")
    return _serializer(secret_key, purpose).dumps({"p": payload, "exp": int(expires_at.timestamp())})


def verify_link(secret_key: str, purpose: str, token: str, now: datetime) -> dict[str, Any]:
    """The payload of a valid token; :class:`LinkInvalid` otherwise (the message is Swedish, for the page)."""
    try:
        data = _serializer(secret_key, purpose).loads(token)
    except BadSignature as error:
        raise LinkInvalid("Länken är ogiltig.") from error
    well_formed = (isinstance(data, dict) and isinstance(data.get("p"), dict)
                   and isinstance(data.get("exp"), int))
    if not well_formed:
        raise LinkInvalid("Länken är ogiltig.")
    if now.timestamp() >= data["exp"]:
        raise LinkInvalid("Länken har gått ut.")
    payload: dict[str, Any] = data["p"]
    return payload
