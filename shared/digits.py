"""ASCII digits only: ``str.isdigit()`` also accepts "²" and other digits that ``int()`` refuses."""

from __future__ import annotations


def is_digits(text: str) -> bool:
    """True when ``text`` is one or more of 0-9 (so ``int(text)`` cannot fail)."""
    return text.isascii() and text.isdigit()


def only_digits(text: str) -> str:
    """The characters 0-9 of ``text``, in order: ``"232100-0016"`` is ``"2321000016"``."""
    return "".join(ch for ch in text if "0" <= ch <= "9")
