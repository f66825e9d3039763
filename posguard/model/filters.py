"""Search filters of the scripting reference (Table 12), as values: no SQL here.

`StringFilter` and `SearchFlags` are re-exported by `pos_utils` for scripts.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntFlag
from typing import Any

import msgspec

from posguard.model.event_types import normalize_event_type

__all__ = ["SearchFlags", "StringFilter", "EventFilter", "event_filter_from_dict"]


class SearchFlags(IntFlag):
    """How a StringFilter matches. One match mode, optionally | CASE_SENSITIVE.

    Matching ignores case unless CASE_SENSITIVE is set (operators type "milk" for "Milk").
    """

    CONTAINS = 0
    STARTS_WITH = 1
    ENDS_WITH = 2
    EXACT = 4
    CASE_SENSITIVE = 8


class StringFilter(msgspec.Struct, frozen=True):
    """A text condition: `StringFilter("Milk", SearchFlags.STARTS_WITH)`."""

    text: str
    flags: int = SearchFlags.CONTAINS

    def __post_init__(self) -> None:
        if not isinstance(self.text, str):
            raise TypeError(f"StringFilter text must be str, not {type(self.text).__name__}")
        mode = int(self.flags) & ~SearchFlags.CASE_SENSITIVE
        if mode not in (0, 1, 2, 4):
            raise ValueError(f"StringFilter flags {self.flags!r}: pick one match mode")


class EventFilter(msgspec.Struct, frozen=True, kw_only=True):
    """The search_pos_events filter: each list is OR-ed inside, the keys are AND-ed."""

    cashiers: tuple[str, ...] = ()
    events: tuple[str, ...] = ()
    receipt_number: tuple[str, ...] = ()
    terminals: tuple[str, ...] = ()
    text: tuple[StringFilter, ...] = ()


_KEYS = ("cashiers", "events", "receipt_number", "terminals", "text")


def _as_tuple(key: str, value: Any) -> tuple[Any, ...]:
    # The reference's own example passes a bare string where a list is documented.
    if value is None:
        return ()
    if isinstance(value, str | StringFilter):
        return (value,)
    if isinstance(value, bytes):
        return (value.decode("utf-8"),)
    if isinstance(value, Iterable):
        return tuple(v.decode("utf-8") if isinstance(v, bytes) else v for v in value)
    raise TypeError(f"filter key {key!r}: expected a string or a list, not {type(value).__name__}")


def event_filter_from_dict(d: dict[str, Any] | None) -> EventFilter:
    """Build an EventFilter from a script's filter dict (Table 12), checking keys and types.

    Example:
        >>> event_filter_from_dict({"receipt_number": "1234567"}).receipt_number
        ('1234567',)
    """
    d = dict(d or {})
    unknown = set(d) - set(_KEYS)
    if unknown:
        raise KeyError(f"unknown filter key(s) {sorted(unknown)}; known: {list(_KEYS)}")
    vals = {k: _as_tuple(k, d.get(k)) for k in _KEYS}
    text = tuple(
        t if isinstance(t, StringFilter) else StringFilter(str(t), SearchFlags.CONTAINS)
        for t in vals["text"]
    )
    for k in ("cashiers", "events", "receipt_number", "terminals"):
        for v in vals[k]:
            if not isinstance(v, str):
                raise TypeError(f"filter key {k!r}: {v!r} is not a string")
    return EventFilter(
        cashiers=vals["cashiers"],
        events=tuple(normalize_event_type(e) for e in vals["events"]),
        receipt_number=vals["receipt_number"],
        terminals=vals["terminals"],
        text=text,
    )
