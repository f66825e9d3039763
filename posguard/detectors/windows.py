"""Bounded event-time windows kept inside detector state.

A sliding window of N minutes is a list of per-minute buckets `[minute, a, b]` with running
totals, so its size is bounded by N whatever the event rate, and old buckets are dropped by
event time (the newest minute seen), never by wall time. Per-day counters keep the last two
local days (`day_slot`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

import msgspec

from posguard.detectors.localtime import MINUTE

__all__ = ["MinuteWindow", "window_add", "expire_refs", "day_slot"]


class MinuteWindow(msgspec.Struct, kw_only=True):
    """Two counters (a, b) over the last `width` minutes of event time, bucketed by minute."""

    buckets: list[list[int]] = msgspec.field(default_factory=list)
    a: int = 0
    b: int = 0
    newest: int = 0


def window_add(w: MinuteWindow, ts: int, da: int, db: int, width: int) -> None:
    """Count (da, db) at event time `ts` and drop buckets older than `width` minutes.

    The window ends at the newest minute seen: an event arriving late (a clock went back) is
    counted in the bucket of its own minute, or ignored when that minute left the window.

    Example:
        >>> w = MinuteWindow()
        >>> window_add(w, 0, 1, 1, 10); window_add(w, 11 * 60_000_000, 0, 1, 10)
        >>> (w.a, w.b)
        (0, 1)
    """
    minute = ts // MINUTE
    bs = w.buckets
    if minute == w.newest and bs:
        # The common case: same minute as the last event; nothing can expire.
        last = bs[-1]
        last[1] += da
        last[2] += db
        w.a += da
        w.b += db
        return
    if w.newest and minute <= w.newest - width:
        return  # older than the whole window: it would be dropped at once
    if not bs or minute >= w.newest:
        if bs and bs[-1][0] == minute:
            last = bs[-1]
            last[1] += da
            last[2] += db
        else:
            bs.append([minute, da, db])
        w.newest = max(w.newest, minute)
    else:
        i = len(bs)
        while i > 0 and bs[i - 1][0] > minute:
            i -= 1
        if i > 0 and bs[i - 1][0] == minute:
            bs[i - 1][1] += da
            bs[i - 1][2] += db
        else:
            bs.insert(i, [minute, da, db])
    w.a += da
    w.b += db
    oldest = w.newest - width
    while bs and bs[0][0] <= oldest:
        _, a, b = bs.pop(0)
        w.a -= a
        w.b -= b


def expire_refs(refs: list[tuple[str, int]], oldest_ts: int) -> None:
    """Drop remembered events (key, ts) older than `oldest_ts` from the front of the list."""
    n = 0
    for _, ts in refs:
        if ts >= oldest_ts:
            break
        n += 1
    if n:
        del refs[:n]


class _HasDay(Protocol):
    day: int


D = TypeVar("D", bound=_HasDay)


def day_slot(slots: list[D], day: int, make: Callable[[int], D], keep: int = 2) -> D | None:
    """The slot of local day `day` among the last `keep` days' slots, created when new.

    Keeping two days lets an event from just before midnight that arrives after the first
    event of the new day (terminals interleaved differently live than in the archive) still
    count in its own day. A day older than every kept one is too late: None.

    Example:
        >>> class S(msgspec.Struct):
        ...     day: int
        >>> slots: list[S] = []
        >>> day_slot(slots, 5, S), day_slot(slots, 6, S), day_slot(slots, 4, S)
        (S(day=5), S(day=6), None)
    """
    for s in slots:
        if s.day == day:
            return s
    if len(slots) >= keep and day < slots[0].day:
        return None
    new = make(day)
    i = len(slots)
    while i > 0 and slots[i - 1].day > day:
        i -= 1
    slots.insert(i, new)
    del slots[: max(0, len(slots) - keep)]
    return new
