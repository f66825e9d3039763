"""The search_pos_incidents filter (Table 14 of the scripting reference), as values: no SQL.

`IncidentFlag` is re-exported by `pos_utils` for scripts:

    filter = {"flags": IncidentFlag.FILTER_CONFIRMED | IncidentFlag.FILTER_NONEMPTY_ESTIMATE,
              "limit": 20}

Flag semantics: the three status flags (CONFIRMED, DECLINED, NEW) are OR-ed with each other
("confirmed or declined"); FILTER_NONEMPTY_ESTIMATE is AND-ed with them. No flags = any status.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntFlag
from typing import Any

import msgspec

from posguard.model.incidents import IncidentStatus

__all__ = ["IncidentFlag", "IncidentFilter", "incident_filter_from_dict", "statuses_of"]


class IncidentFlag(IntFlag):
    """Bits of the `flags` key of an incident filter (values as in pos_utils)."""

    FILTER_CONFIRMED = 1
    FILTER_DECLINED = 2
    FILTER_NEW = 4
    FILTER_NONEMPTY_ESTIMATE = 8


_ALL_FLAGS = int(IncidentFlag.FILTER_CONFIRMED | IncidentFlag.FILTER_DECLINED
                 | IncidentFlag.FILTER_NEW | IncidentFlag.FILTER_NONEMPTY_ESTIMATE)


class IncidentFilter(msgspec.Struct, frozen=True, kw_only=True):
    """The search_pos_incidents filter: each list is OR-ed inside, the keys are AND-ed.

    Attributes:
        cashiers: cashier names (exact).
        detectors_names: detector GUIDs or incident type names (either matches).
        experts: reviewing users (exact).
        flags: IncidentFlag bits.
        incidents_ids: incident ids or incident type GUIDs (either matches; the reference
            names the key "ids" and describes it as "types").
        limit: most incidents returned; -1 = no limit.
        terminals: terminal GUIDs.
    """

    cashiers: tuple[str, ...] = ()
    detectors_names: tuple[str, ...] = ()
    experts: tuple[str, ...] = ()
    flags: int = 0
    incidents_ids: tuple[str, ...] = ()
    limit: int = -1
    terminals: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if int(self.flags) & ~_ALL_FLAGS or int(self.flags) < 0:
            raise ValueError(f"incident filter flags {self.flags!r}: unknown bits")
        if self.limit < -1:
            raise ValueError(f"incident filter limit {self.limit}: use -1 for no limit")


def statuses_of(flags: int) -> tuple[IncidentStatus, ...]:
    """The statuses the status bits of `flags` select (empty = any status).

    Example:
        >>> statuses_of(IncidentFlag.FILTER_CONFIRMED | IncidentFlag.FILTER_NONEMPTY_ESTIMATE)
        (<IncidentStatus.CONFIRMED: 1>,)
    """
    out = []
    if flags & IncidentFlag.FILTER_NEW:
        out.append(IncidentStatus.NEW)
    if flags & IncidentFlag.FILTER_CONFIRMED:
        out.append(IncidentStatus.CONFIRMED)
    if flags & IncidentFlag.FILTER_DECLINED:
        out.append(IncidentStatus.REJECTED)
    return tuple(out)


_LIST_KEYS = ("cashiers", "detectors_names", "experts", "incidents_ids", "terminals")
_KEYS = (*_LIST_KEYS, "flags", "limit")


def _strings(key: str, value: Any) -> tuple[str, ...]:
    # As with Table 12, a bare string is accepted where a list is documented.
    if value is None:
        return ()
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Iterable):
        out = []
        for v in value:
            v = v.decode("utf-8") if isinstance(v, bytes) else v
            if not isinstance(v, str):
                raise TypeError(f"filter key {key!r}: {v!r} is not a string")
            out.append(v)
        return tuple(out)
    raise TypeError(f"filter key {key!r}: expected a string or a list, not {type(value).__name__}")


def incident_filter_from_dict(d: dict[str, Any] | None) -> IncidentFilter:
    """Build an IncidentFilter from a script's filter dict (Table 14), checking keys and types.

    Example:
        >>> f = incident_filter_from_dict({"flags": IncidentFlag.FILTER_NEW, "limit": 20})
        >>> f.limit, statuses_of(f.flags)
        (20, (<IncidentStatus.NEW: 0>,))
    """
    d = dict(d or {})
    unknown = set(d) - set(_KEYS)
    if unknown:
        raise KeyError(f"unknown filter key(s) {sorted(unknown)}; known: {list(_KEYS)}")
    flags, limit = d.get("flags", 0), d.get("limit", -1)
    for k, v in (("flags", flags), ("limit", limit)):
        if isinstance(v, bool) or not isinstance(v, int):
            raise TypeError(f"filter key {k!r}: expected an integer, not {v!r}")
    return IncidentFilter(flags=int(flags), limit=int(limit),
                          **{k: _strings(k, d.get(k)) for k in _LIST_KEYS})
