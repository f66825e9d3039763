"""Incident: what a detector (or a script, or an operator) raises, with review fields.

Fields are Table 13 of the scripting reference plus the receipt and store they belong to.
Timestamps are integer microseconds; expert_estimate is in kopecks; review_duration in
microseconds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from enum import IntEnum

import msgspec

__all__ = ["Incident", "IncidentStatus", "incident_id"]


class IncidentStatus(IntEnum):
    """Review status, numbered as in the scripting reference."""

    NEW = 0
    CONFIRMED = 1
    REJECTED = 2


class Incident(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """An incident and its review state.

    Example:
        >>> i = Incident(id=incident_id("D1", ["e1"]), detector="D1", type_name="Delete",
        ...              terminal_guid="T1", ts_created=1)
        >>> int(i.status)
        0
    """

    id: str
    detector: str
    type_name: str
    terminal_guid: str
    ts_created: int
    type_id: str = ""
    type_description: str = ""
    terminal_name: str = ""
    associated_channel: str = ""
    cashier_name: str = ""
    related_ts: list[int] = msgspec.field(default_factory=list)
    custom_columns: dict[str, str] = msgspec.field(default_factory=dict)
    operator: str = ""
    server: str = ""
    status: int = 0  # IncidentStatus
    expert: str = ""
    expert_estimate: int = 0
    comment: str = ""
    review_ts: int = 0
    review_duration: int = 0
    # posguard's own fields
    store: str = ""
    op_id: str = ""
    related_events: list[str] = msgspec.field(default_factory=list)


def incident_id(detector: str, trigger_keys: Iterable[str]) -> str:
    """Deterministic incident id from the detector and the events that triggered it.

    The same detector firing on the same events (live, after a replay, or over the archive)
    yields the same id, so an incident is stored once.

    Example:
        >>> incident_id("D1", ["a", "b"]) == incident_id("D1", ["a", "b"])
        True
    """
    h = hashlib.blake2b(digest_size=12)
    h.update(detector.encode())
    for k in trigger_keys:
        h.update(b"\x00")
        h.update(k.encode())
    return h.hexdigest()
