"""CSV for spreadsheets: UTF-8 with BOM, semicolons (Swedish Excel), formulas defused.

A cell that starts with ``=``, ``+``, ``-``, ``@`` (or a tab/CR that some
spreadsheets skip) would run as a formula when finance opens the file, so it is
prefixed with an apostrophe (OWASP's advice). Numbers are written by the caller
as text already, e.g. ``"-4000.00"`` for a credit; :func:`write_csv` leaves
values that are plain numbers alone so sums still work.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"-?\d+([.,]\d+)?")


def defuse(value: object) -> str:
    text = "" if value is None else str(value)
    if isinstance(value, (int, Decimal)) or _PLAIN_NUMBER.fullmatch(text):
        return text
    return "'" + text if text.startswith(_FORMULA_START) else text


def write_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow([defuse(cell) for cell in header])
    for row in rows:
        writer.writerow([defuse(cell) for cell in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")
