"""Rule 12: positions keyed in by hand (POS_POSITION_ADD) instead of scanned, above a rate.

Counts keyed and scanned (POS_POSITION_ADD_BY_SCANNER) positions of a terminal over a sliding
window of event time, in per-minute buckets (state bounded by the window length). Fires on a
keyed position that takes the keyed share above `max_percent` once `min_positions` are in the
window, then stays quiet for one window.

Parameters (`KeyedEntryRateParams`), defaults in brackets:
    max_percent: the highest acceptable share of keyed positions, percent [30].
    min_positions: positions needed in the window before judging [20].
    window_minutes: the sliding window, minutes of event time [60].

Example:
    >>> from posguard.detectors.testing import receipt, run_detector
    >>> b = receipt("T1")
    >>> for n in range(20): _ = b.item(f"Apple {n}", 10_00, scanned=n % 2 == 0)
    >>> run_detector(KeyedEntryRate("PGD00012"), b.close().events())[0].custom_columns["percent"]
    '50'
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from posguard.detectors.base import NO_INCIDENTS, Detector, DetectorState, Params, cashier_of
from posguard.detectors.localtime import MINUTE
from posguard.detectors.windows import MinuteWindow, window_add
from posguard.model.event_types import POSITION_TYPES
from posguard.model.events import PosEvent
from posguard.model.incidents import Incident
from posguard.model.receipts import TerminalState

__all__ = ["KeyedEntryRate", "KeyedEntryRateParams", "KeyedEntryRateState"]


class KeyedEntryRateParams(Params, frozen=True):
    """Parameters of KeyedEntryRate (see the module docstring)."""

    max_percent: int = 30
    min_positions: int = 20
    window_minutes: int = 60

    def __post_init__(self) -> None:
        if not 0 <= self.max_percent < 100:
            raise ValueError("max_percent: must be 0..99")
        if self.min_positions < 1 or self.window_minutes < 1:
            raise ValueError("min_positions/window_minutes: must be at least 1")


class KeyedEntryRateState(DetectorState):
    """Keyed (a) and all (b) positions per minute of the window; quiet period end."""

    window: MinuteWindow = msgspec.field(default_factory=MinuteWindow)
    quiet_until: int = 0


class KeyedEntryRate(Detector[KeyedEntryRateParams, KeyedEntryRateState]):
    """Raises an incident when too many positions are keyed by hand in a window."""

    type_name = "keyed_entry_rate"
    title = "Positions keyed by hand"
    summary = "Too many positions were keyed in by hand instead of scanned."
    params_type = KeyedEntryRateParams
    state_type = KeyedEntryRateState

    def event_types(self) -> frozenset[str]:
        """Keyed and scanned positions."""
        return POSITION_TYPES

    def step(
        self, state: KeyedEntryRateState, ev: PosEvent, ctx: TerminalState | None
    ) -> tuple[KeyedEntryRateState, Sequence[Incident]]:
        """Count the position; fire on a keyed one that crosses the rate."""
        keyed = ev.type == "POS_POSITION_ADD"
        p = self.params
        w = state.window
        ts = ev.ts_in_receipt
        if w.buckets and ts // MINUTE == w.newest:
            last = w.buckets[-1]  # the hot path of window_add, inlined: same minute
            last[2] += 1
            w.b += 1
            if not keyed:
                return state, NO_INCIDENTS
            last[1] += 1
            w.a += 1
        else:
            window_add(w, ts, 1 if keyed else 0, 1, p.window_minutes)
            if not keyed:
                return state, NO_INCIDENTS
        if ts < state.quiet_until or w.b < p.min_positions:
            return state, NO_INCIDENTS
        if w.a * 100 <= p.max_percent * w.b:
            return state, NO_INCIDENTS
        state.quiet_until = ev.ts_in_receipt + p.window_minutes * MINUTE
        pct = w.a * 100 // w.b
        return state, [
            self.incident(
                ev,
                cashier=cashier_of(ev, ctx),
                details=f"{w.a} of {w.b} positions keyed by hand in {p.window_minutes} min",
                columns={"percent": str(pct), "keyed": str(w.a), "positions": str(w.b)},
            )
        ]
