"""Whole numbers typed by people and programs into query strings, forms and headers."""
import re

_DIGITS = re.compile(r"[0-9]{1,19}")  # ASCII only: str.isdigit() also accepts "²", which int() refuses
LARGEST_ID = 2**63 - 1  # beyond a 64-bit column, a lookup fails in the database instead of finding nothing


def whole_number(text: str | None) -> int | None:
    """The non-negative integer `text` spells in ASCII digits and a database can hold, else None."""
    if text is None or not _DIGITS.fullmatch(text):
        return None
    number = int(text)
    return number if number <= LARGEST_ID else None
