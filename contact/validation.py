"""One set of input rules for every event and endpoint: what a string, an id or a number may be.

Refused everywhere, so that no database (PostgreSQL cannot store NUL in text, nor a lone
surrogate in UTF-8), log or page ever sees it:
- in free text: the C0 and C1 control characters (U+0000..U+001F, U+007F..U+009F) except
  tab, line feed and carriage return, and lone surrogates (U+D800..U+DFFF);
- in ids, tokens and other single-line values: anything not printable (every control and
  format character, line breaks, surrogates, separators other than the plain space).
Integers are bounded to what a 32-bit column holds; JSON to a depth; query numbers to ASCII digits.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, Field

# The largest value of a signed 32-bit integer column (PostgreSQL `integer`).
MAX_INT = 2**31 - 1
# How deep JSON may nest (objects and arrays); our deepest shape (close → outcome → expertise) is 3.
MAX_JSON_DEPTH = 32

_BAD_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def text_ok(value: str) -> bool:
    """True when `value` is acceptable free text (line breaks and tabs allowed)."""
    return _BAD_IN_TEXT.search(value) is None


def id_ok(value: str) -> bool:
    """True when `value` is acceptable as an id, token or other one-line value."""
    return value.isprintable()


def _text(value: str) -> str:
    if not text_ok(value):
        raise ValueError("control characters are not allowed")
    return value


def _line(value: str) -> str:
    if not id_ok(value):
        raise ValueError("only printable characters are allowed")
    return value


# Use as `Annotated[Text, StringConstraints(...)]`; the checks run after the constraints.
Text = Annotated[str, AfterValidator(_text)]
Line = Annotated[str, AfterValidator(_line)]
BoundedInt = Annotated[int, Field(ge=-MAX_INT - 1, le=MAX_INT)]


def ascii_int(value: str | None, *, maximum: int = MAX_INT) -> int | None:
    """`value` as a non-negative int when it is 1..10 ASCII digits not above `maximum`, else None.
    (`"²".isdigit()` is True and `int("٣")` is 3: neither is a number here.)"""
    if value is None or not 1 <= len(value) <= 10 or not value.isascii() or not value.isdigit():
        return None
    number = int(value)
    return number if number <= maximum else None


def json_depth_ok(data: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when `data` (decoded JSON) nests objects and arrays at most `limit` deep. Iterative:
    a deep value cannot exhaust the stack here."""
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, (list, tuple)):
            children = value
        else:
            continue
        if depth >= limit:
            return False
        stack.extend((child, depth + 1) for child in children)
    return True
