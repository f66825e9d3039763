"""Rule 7: the cash drawer opened with no receipt open ("no sale").

A drawer opened within `grace_seconds` after a receipt was closed belongs to that receipt
(change is handed out after the close). Opens are counted per terminal and local day (a
POS_SHIFT_START restarts the count); the rule fires on every open beyond `max_per_day`.

Parameters (`DrawerOutsideReceiptParams`), defaults in brackets:
    max_per_day: no-sale opens allowed per terminal and day (or shift) before firing [0].
    grace_seconds: seconds after a receipt's close during which an open is part of it [10].
    timezone: IANA zone for the day boundary; "" = the terminal's zone [""].

Example:
    >>> from posguard.detectors.testing import pos_event, run_detector
    >>> evs = [pos_event("T1", "POS_DRAWER_OPEN", at=1_800_000_000_000_000)]
    >>> len(run_detector(DrawerOutsideReceipt("PGD00007"), evs))
    1
"""

from __future__ import annotations

from collections.abc import Sequence

from posguard.detectors.base import NO_INCIDENTS, Detector, DetectorState, Params, cashier_of
from posguard.detectors.localtime import check_zone, format_day, local_day
from posguard.model.event_types import RECEIPT_END_TYPES
from posguard.model.events import PosEvent
from posguard.model.incidents import Incident
from posguard.model.receipts import TerminalState

__all__ = ["DrawerOutsideReceipt", "DrawerOutsideReceiptParams", "DrawerOutsideReceiptState"]


class DrawerOutsideReceiptParams(Params, frozen=True):
    """Parameters of DrawerOutsideReceipt (see the module docstring)."""

    max_per_day: int = 0
    grace_seconds: int = 10
    timezone: str = ""

    def __post_init__(self) -> None:
        if self.max_per_day < 0 or self.grace_seconds < 0:
            raise ValueError("max_per_day/grace_seconds: must not be negative")
        if self.timezone:
            check_zone(self.timezone, "timezone")


class DrawerOutsideReceiptState(DetectorState):
    """The local day being counted, no-sale opens so far, and when the last receipt closed."""

    day: int = -1
    count: int = 0
    last_close: int = 0


class DrawerOutsideReceipt(Detector[DrawerOutsideReceiptParams, DrawerOutsideReceiptState]):
    """Raises an incident when the drawer opens outside a receipt, beyond an allowance."""

    type_name = "drawer_outside_receipt"
    title = "Cash drawer opened outside a receipt"
    summary = "The cash drawer was opened while no receipt was open (no sale)."
    params_type = DrawerOutsideReceiptParams
    state_type = DrawerOutsideReceiptState

    def event_types(self) -> frozenset[str]:
        """Drawer opens, shift starts and receipt ends (for the grace period)."""
        return frozenset({"POS_DRAWER_OPEN", "POS_SHIFT_START"}) | RECEIPT_END_TYPES

    def step(
        self, state: DrawerOutsideReceiptState, ev: PosEvent, ctx: TerminalState | None
    ) -> tuple[DrawerOutsideReceiptState, Sequence[Incident]]:
        """Count no-sale opens; fire on each beyond the day's allowance."""
        t = ev.type
        ts = ev.ts_in_receipt
        if t == "POS_SHIFT_START":
            state.count = 0
            return state, NO_INCIDENTS
        if t != "POS_DRAWER_OPEN":
            state.last_close = ts
            return state, NO_INCIDENTS
        if ctx is not None and ctx.receipt is not None:
            return state, NO_INCIDENTS
        p = self.params
        if state.last_close and 0 <= ts - state.last_close <= p.grace_seconds * 1_000_000:
            return state, NO_INCIDENTS
        day = local_day(ts, self.tz(ev, p.timezone))
        if day > state.day:
            state.day = day
            state.count = 0
        state.count += 1
        if state.count <= p.max_per_day:
            return state, NO_INCIDENTS
        return state, [
            self.incident(
                ev,
                cashier=cashier_of(ev, ctx),
                details=f"no-sale drawer open #{state.count} on {format_day(day)}",
                columns={"count": str(state.count)},
            )
        ]
