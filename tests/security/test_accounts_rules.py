"""The pure rules of accounts: roles, names, passwords, Argon2, and the limiter's Swedish texts."""

from __future__ import annotations

import pytest

from shared.accounts import (
    AccountError,
    allowed,
    check_password,
    check_role,
    check_username,
    hash_password,
    sha256,
    verify_password,
)
from shared.login import failure_delay, safe_next
from shared.ratelimit import retry_text


@pytest.mark.parametrize(("role", "roles", "expected"), [
    ("admin", (), True), ("admin", ("finance",), True), ("finance", ("finance",), True),
    ("staff", ("finance",), False), ("finance", (), False), ("staff", ("staff", "finance"), True),
])
def test_admin_may_do_everything_and_others_only_what_the_route_names(
        role: str, roles: tuple[str, ...], expected: bool) -> None:
    assert allowed(role, roles) is expected


def test_passwords_are_hashed_with_argon2id_and_verified_in_constant_work() -> None:
    stored = hash_password("ett långt lösenord")
    assert stored.startswith("$argon2id$") and "ett långt" not in stored
    assert verify_password(stored, "ett långt lösenord")
    assert not verify_password(stored, "ett långt lösenorD")
    assert not verify_password(None, "ett långt lösenord"), "an unknown user never matches"
    assert not verify_password("not-a-hash", "x")
    assert hash_password("samma") != hash_password("samma"), "salted"


def test_names_roles_and_passwords_are_checked_with_swedish_messages() -> None:
    assert check_username("  Anna.Berg ") == "anna.berg"
    for bad in ("a", "-anna", "anna berg", "anna@x", "å" * 3, "x" * 41):
        with pytest.raises(AccountError, match="Användarnamnet"):
            check_username(bad)
    with pytest.raises(AccountError, match="Okänd roll"):
        check_role("root")
    with pytest.raises(AccountError, match="minst 12 tecken"):
        check_password("elva tecken")
    assert check_password("tolv tecken!") == "tolv tecken!"


def test_tokens_and_sessions_are_stored_as_sha256_hashes() -> None:
    assert sha256("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


@pytest.mark.parametrize(("given", "expected"), [
    ("/invoices?x=1", "/invoices?x=1"), ("//evil.example", "/"), ("https://evil.example", "/"),
    ("/\\evil.example", "/"), ("", "/"), ("invoices", "/"),
])
def test_after_login_only_a_path_on_this_site_is_followed(given: str, expected: str) -> None:
    assert safe_next(given) == expected


def test_retry_times_read_as_swedish() -> None:
    assert [retry_text(s) for s in (1, 30, 60, 61, 900)] == [
        "om 1 sekund", "om 30 sekunder", "om 1 minut", "om 2 minuter", "om 15 minuter"]


def test_each_failed_login_waits_longer_up_to_a_ceiling() -> None:
    assert [failure_delay(0.5, n) for n in (0, 1, 2, 3, 50)] == [0, 0.5, 1.0, 1.5, 5.0]
