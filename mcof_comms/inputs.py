"""Untrusted input made storable and queryable: text PostgreSQL can hold, integers its columns
can hold, and digits that are ASCII.

Anyone can post to the webhooks and type into query strings. PostgreSQL refuses a NUL in text
and jsonb, an integer beyond a column's range fails the query, and ``str.isdigit()`` accepts
``²`` and ``٣`` (which ``int()`` then rejects or reads as another number): each of these used to
become a 500. These helpers are the one place that decides what such input becomes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from flask import request
from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter, ValidationError

#: Every id column is a PostgreSQL ``integer``.
INT4_MAX = 2**31 - 1

REPLACEMENT = "\ufffd"
# NUL cannot be stored; a lone surrogate cannot be encoded as UTF-8
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def clean_text(value: str) -> str:
    """Replace what PostgreSQL cannot store with U+FFFD: the message is kept, and a reader
    sees that something was there (removing it could join two words into one)."""
    return _UNSTORABLE.sub(REPLACEMENT, value)


def has_unstorable(value: str) -> bool:
    return _UNSTORABLE.search(value) is not None


def is_digits(value: str) -> bool:
    """Only ASCII digits are digits: ``"²".isdigit()`` is True and ``int("²")`` fails."""
    return value.isascii() and value.isdigit()


def to_int(raw: str, *, maximum: int = INT4_MAX) -> int | None:
    """A whole number ``0..maximum`` written in ASCII digits, or None.

    The length is checked before ``int()``: Python refuses to convert more than 4,300 digits.
    """
    if not is_digits(raw):
        return None
    significant = raw.lstrip("0") or "0"
    if len(significant) > len(str(maximum)):
        return None
    value = int(significant)
    return value if value <= maximum else None


def int_arg(
    args: Mapping[str, str], name: str, default: int | None = None, *, maximum: int = INT4_MAX
) -> int | None:
    """An integer query parameter; absent or empty (a select's "all"): ``default``; not a
    number in range: 400."""
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    value = to_int(raw, maximum=maximum)
    if value is None:
        # English like every API error; the console shows its own translated 400 page
        raise BadRequest(description=f"{name} must be a whole number from 0 to {maximum}")
    return value


def find_unstorable(value: Any) -> bool:
    """True when a string anywhere in a decoded JSON value cannot be stored."""
    if isinstance(value, str):
        return has_unstorable(value)
    if isinstance(value, dict):
        return any(find_unstorable(k) or find_unstorable(v) for k, v in value.items())
    if isinstance(value, list):
        return any(find_unstorable(v) for v in value)
    return False


_UNSTORABLE_DESCRIPTION = "the request holds characters that cannot be stored (NUL)"

#: Blueprints that clean what they receive instead (a signed Twilio post must be stored).
CLEANING_BLUEPRINTS = frozenset({"twilio"})


def reject_unstorable_request() -> None:
    """Answer 400 before a view runs when a query string, form or JSON body holds text that
    cannot be stored or searched (``/inbox?q=%00``); registered with ``before_request``."""
    if request.blueprint in CLEANING_BLUEPRINTS:
        return
    if any(has_unstorable(k) or has_unstorable(v) for k, v in request.args.items(multi=True)):
        raise BadRequest(description=_UNSTORABLE_DESCRIPTION)
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    unstorable = any(
        has_unstorable(k) or has_unstorable(v) for k, v in request.form.items(multi=True)
    ) or (request.is_json and find_unstorable(request.get_json(silent=True)))
    if unstorable:
        raise BadRequest(description=_UNSTORABLE_DESCRIPTION)


class IdConverter(IntegerConverter):
    """``<int:...>`` in routes: ASCII digits within the id columns' range, else no match (404).

    Werkzeug's own accepts any length, so ``/cases/99999999999`` reached the database.
    """

    regex = r"[0-9]+"

    def to_python(self, value: str) -> int:
        number = to_int(value)
        if number is None:
            raise ValidationError()
        return number
