"""Rule 9: too many deletes/cancels by one cashier, across terminals, per day or window.

State is keyed by cashier name (the event's `cashier_name`; events without one are not
counted), so in streams/ this runs on a stream repartitioned by cashier. Two windows:

- `window_minutes` = 0 (default): the cashier's local day (the shift, for day shifts); the
  last two days are kept, so an event from just before midnight that arrives late still
  counts in its day. One incident per cashier, day and condition; its id derives from
  (cashier, day, condition). For the count condition, whether and under which id it fires
  does not depend on how the events of several terminals interleave (a running rate does).
- `window_minutes` > 0: a sliding window of that many minutes of event time; after firing
  the rule is quiet for one window. The id derives from the triggering events.

Parameters (`CashierVoidsParams`), defaults in brackets:
    max_count: fire when voids in the window exceed this; 0 = off [10].
    window_minutes: 0 = the local day; else a sliding window in minutes [0].
    count_deletes: count POS_POSITION_DELETE [True].
    count_cancels: count receipt cancels and annulments [True].
    max_rate_percent: fire when voids exceed this percent of positions added; 0 = off [0].
    min_positions: positions needed in the window before the rate is judged [50].
    timezone: IANA zone for the day boundary; "" = each event's terminal zone [""].

Example:
    >>> from posguard.detectors.testing import receipt, run_detector
    >>> b = receipt("T1", cashier="Petrov P")
    >>> for _ in range(3): _ = b.item("Bread", 45_00).delete()
    >>> [i.cashier_name for i in run_detector(
    ...     CashierVoids("PGD00009", CashierVoidsParams(max_count=2)), b.close().events())]
    ['Petrov P']
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from posguard.detectors.base import (
    NO_INCIDENTS,
    Detector,
    DetectorState,
    Params,
    Ref,
    ref,
)
from posguard.detectors.localtime import MINUTE, check_zone, format_day, local_day
from posguard.detectors.receipt_cancelled import CANCEL_TYPES
from posguard.detectors.windows import MinuteWindow, day_slot, expire_refs, window_add
from posguard.model.event_types import POSITION_TYPES
from posguard.model.events import PosEvent
from posguard.model.incidents import Incident
from posguard.model.receipts import TerminalState

__all__ = ["CashierVoids", "CashierVoidsParams", "CashierVoidsState", "VoidDay"]


def _remember(refs: list[Ref], r: Ref, keep: int) -> None:
    refs.append(r)
    if len(refs) > keep:
        del refs[0]


class CashierVoidsParams(Params, frozen=True):
    """Parameters of CashierVoids (see the module docstring)."""

    max_count: int = 10
    window_minutes: int = 0
    count_deletes: bool = True
    count_cancels: bool = True
    max_rate_percent: int = 0
    min_positions: int = 50
    timezone: str = ""

    def __post_init__(self) -> None:
        if min(self.max_count, self.window_minutes, self.max_rate_percent) < 0:
            raise ValueError("max_count/window_minutes/max_rate_percent: must not be negative")
        if self.min_positions < 1:
            raise ValueError("min_positions: must be at least 1")
        if not (self.count_deletes or self.count_cancels):
            raise ValueError("count_deletes/count_cancels: count at least one of them")
        if not (self.max_count or self.max_rate_percent):
            raise ValueError("max_count/max_rate_percent: set at least one limit")
        if self.timezone:
            check_zone(self.timezone, "timezone")


class VoidDay(msgspec.Struct, kw_only=True):
    """One local day of a cashier: counts, conditions fired, the last max_count+1 voids."""

    day: int
    voids: int = 0
    positions: int = 0
    fired: list[str] = msgspec.field(default_factory=list)
    recent: list[Ref] = msgspec.field(default_factory=list)


def _new_day(day: int) -> VoidDay:
    return VoidDay(day=day)


class CashierVoidsState(DetectorState):
    """Day mode: the last two local days. Sliding mode: the window and recent voids."""

    days: list[VoidDay] = msgspec.field(default_factory=list)
    recent: list[Ref] = msgspec.field(default_factory=list)
    window: MinuteWindow = msgspec.field(default_factory=MinuteWindow)  # a=voids b=positions
    quiet_until: int = 0


class CashierVoids(Detector[CashierVoidsParams, CashierVoidsState]):
    """Raises an incident when a cashier voids too much in a day or a sliding window."""

    type_name = "cashier_voids"
    title = "Too many voids by a cashier"
    summary = "A cashier deleted positions or cancelled receipts too often."
    scope = "cashier"
    params_type = CashierVoidsParams
    state_type = CashierVoidsState

    def setup(self) -> None:
        """The void types and the window length."""
        p = self.params
        voids: set[str] = set()
        if p.count_deletes:
            voids.add("POS_POSITION_DELETE")
        if p.count_cancels:
            voids |= CANCEL_TYPES
        self._voids = frozenset(voids)
        self._keep = max(p.max_count + 1, 1)
        self._width = p.window_minutes * MINUTE

    def event_types(self) -> frozenset[str]:
        """Voids, and positions when a rate limit is set."""
        return self._voids | POSITION_TYPES if self.params.max_rate_percent else self._voids

    def step(
        self, state: CashierVoidsState, ev: PosEvent, ctx: TerminalState | None
    ) -> tuple[CashierVoidsState, Sequence[Incident]]:
        """Count the event; fire on the first excess of the day or window."""
        is_void = ev.type in self._voids
        if self._width:
            if is_void:
                _remember(state.recent, ref(ev), self._keep)
            return self._sliding(state, ev, is_void)
        return self._daily(state, ev, is_void)

    def _over(self, voids: int, positions: int) -> str:
        p = self.params
        if p.max_count and voids > p.max_count:
            return "count"
        if p.max_rate_percent and positions >= p.min_positions and (
            voids * 100 > p.max_rate_percent * positions
        ):
            return "rate"
        return ""

    def _fire(self, ev: PosEvent, recent: list[Ref], why: str, when: str,
              id_keys: Sequence[str] | None, voids: int, positions: int) -> Incident:
        key = ref(ev)[0]
        # In time order, not arrival order: live, the events of several terminals may arrive
        # in another order than the archive replays them (sliding-window ids derive from these).
        related = sorted((r for r in recent if r[0] != key), key=lambda r: (r[1], r[0]))
        rate = f", {voids * 100 // positions}% of {positions} positions" if positions else ""
        return self.incident(
            ev,
            related=related,
            id_keys=id_keys,
            cashier=ev.cashier_name,
            details=f"{voids} voids {when}{rate}",
            columns={"reason": why, "voids": str(voids), "positions": str(positions)},
        )

    def _daily(
        self, state: CashierVoidsState, ev: PosEvent, is_void: bool
    ) -> tuple[CashierVoidsState, Sequence[Incident]]:
        day = local_day(ev.ts_in_receipt, self.tz(ev, self.params.timezone))
        slot = day_slot(state.days, day, _new_day)
        if slot is None:
            return state, NO_INCIDENTS  # a late event of a day already left behind
        if is_void:
            slot.voids += 1
            _remember(slot.recent, ref(ev), self._keep)
        else:
            slot.positions += 1
        why = self._over(slot.voids, slot.positions)
        if not why or why in slot.fired:
            return state, NO_INCIDENTS
        slot.fired.append(why)
        keys = [f"cashier={ev.cashier_name}", f"day={day}", why]
        return state, [self._fire(ev, slot.recent, why, f"on {format_day(day)}", keys,
                                  slot.voids, slot.positions)]

    def _sliding(
        self, state: CashierVoidsState, ev: PosEvent, is_void: bool
    ) -> tuple[CashierVoidsState, Sequence[Incident]]:
        ts = ev.ts_in_receipt
        w = state.window
        window_add(w, ts, 1 if is_void else 0, 0 if is_void else 1, self.params.window_minutes)
        expire_refs(state.recent, ts - self._width)
        if ts < state.quiet_until:
            return state, NO_INCIDENTS
        why = self._over(w.a, w.b)
        if not why:
            return state, NO_INCIDENTS
        state.quiet_until = ts + self._width
        inc = self._fire(ev, state.recent, why, f"in {self.params.window_minutes} min", None,
                         w.a, w.b)
        return state, [inc]
