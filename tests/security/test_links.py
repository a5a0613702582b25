"""Signed links (shared/links.py): not guessable, not forgeable, bound to their purpose, expiring."""

from __future__ import annotations

import base64
import json
import string
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.links import LinkInvalid, sign_link, verify_link

KEY = "a-secret-key-of-at-least-32-chars!"
NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
LATER = NOW + timedelta(days=30)
TOKEN = sign_link(KEY, "meeting-signup", {"meeting": 7, "contact": 3}, LATER)
URLSAFE = string.ascii_letters + string.digits + "-_."


def test_the_signature_is_a_256_bit_hmac() -> None:
    signature = TOKEN.rsplit(".", 1)[1]
    assert len(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))) == 32


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=URLSAFE, min_size=0, max_size=200))
def test_a_guessed_token_is_refused(guess: str) -> None:
    with pytest.raises(LinkInvalid):
        verify_link(KEY, "meeting-signup", guess, NOW)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=len(TOKEN) - 1), st.sampled_from(URLSAFE))
def test_changing_any_character_of_a_token_makes_it_invalid(position: int, replacement: str) -> None:
    altered = TOKEN[:position] + replacement + TOKEN[position + 1:]
    if altered == TOKEN:
        return
    try:
        payload = verify_link(KEY, "meeting-signup", altered, NOW)
    except LinkInvalid:
        return
    # base64's last character can carry unused bits; then the decoded bytes are the same.
    assert payload == {"meeting": 7, "contact": 3}


@pytest.mark.parametrize("purpose", ["meeting-cancel", "unsubscribe", "receipt", "meeting-signup "])
def test_a_token_made_for_one_purpose_is_refused_for_every_other(purpose: str) -> None:
    with pytest.raises(LinkInvalid, match="ogiltig"):
        verify_link(KEY, purpose, TOKEN, NOW)


def test_a_payload_moved_under_another_tokens_signature_is_refused() -> None:
    other = sign_link(KEY, "meeting-signup", {"meeting": 8, "contact": 3}, LATER)
    forged = other.split(".")[0] + "." + ".".join(TOKEN.split(".")[1:])
    with pytest.raises(LinkInvalid):
        verify_link(KEY, "meeting-signup", forged, NOW)


def test_a_token_with_a_later_expiry_written_in_is_refused() -> None:
    body = {"p": {"meeting": 7, "contact": 3}, "exp": int((LATER + timedelta(days=365)).timestamp())}
    encoded = base64.urlsafe_b64encode(json.dumps(body, separators=(",", ":")).encode()).rstrip(b"=").decode()
    forged = encoded + "." + TOKEN.rsplit(".", 1)[1]
    with pytest.raises(LinkInvalid):
        verify_link(KEY, "meeting-signup", forged, NOW)


def test_a_token_signed_with_another_key_is_refused_and_expiry_is_exact() -> None:
    with pytest.raises(LinkInvalid):
        verify_link("another-secret-key-of-32-characters", "meeting-signup", TOKEN, NOW)
    assert verify_link(KEY, "meeting-signup", TOKEN, LATER - timedelta(seconds=1))["meeting"] == 7
    with pytest.raises(LinkInvalid, match="gått ut"):
        verify_link(KEY, "meeting-signup", TOKEN, LATER)


def test_two_links_for_different_people_differ_so_one_cannot_be_derived_from_the_other() -> None:
    first = sign_link(KEY, "unsubscribe", {"email": 1}, LATER)
    second = sign_link(KEY, "unsubscribe", {"email": 2}, LATER)
    assert first.rsplit(".", 1)[1] != second.rsplit(".", 1)[1]
