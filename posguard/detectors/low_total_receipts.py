"""Rule 11: sale receipts closed at zero or a very low total, repeated on one terminal.

A low receipt is a sale receipt closed (POS_RECEIPT_CLOSE / POS_RECEIPT_SELL_CLOSE) with a
total (the close event's price, else its positions) at most `max_total`. The rule fires when
`min_count` low receipts fall within a sliding window of `window_minutes` of event time, then
starts counting afresh.

Parameters (`LowTotalReceiptsParams`), defaults in brackets:
    max_total: the highest total (kopecks) that counts as low [100].
    min_count: low receipts within the window that make an incident [3].
    window_minutes: the sliding window, minutes of event time [60].
    include_empty: count receipts closed with no positions at all [True].

Example:
    >>> from posguard.detectors.testing import receipt, run_detector
    >>> evs, at = [], 1_800_000_000_000_000
    >>> for n in range(3):
    ...     b = receipt("T1", op_id=str(n), at=at).item("Bag", 0).close()
    ...     evs, at = evs + b.events(), b.now
    >>> len(run_detector(LowTotalReceipts("PGD00011"), evs))
    1
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
    cashier_of,
    money,
    receipt_of,
    ref,
)
from posguard.detectors.localtime import MINUTE
from posguard.detectors.windows import expire_refs
from posguard.model.events import PosEvent
from posguard.model.incidents import Incident
from posguard.model.receipts import TerminalState

__all__ = ["LowTotalReceipts", "LowTotalReceiptsParams", "LowTotalReceiptsState"]


class LowTotalReceiptsParams(Params, frozen=True):
    """Parameters of LowTotalReceipts (see the module docstring)."""

    max_total: int = 100
    min_count: int = 3
    window_minutes: int = 60
    include_empty: bool = True

    def __post_init__(self) -> None:
        if self.max_total < 0:
            raise ValueError("max_total: must not be negative")
        if self.min_count < 1 or self.window_minutes < 1:
            raise ValueError("min_count/window_minutes: must be at least 1")


class LowTotalReceiptsState(DetectorState):
    """Close events of the low receipts in the window (at most min_count)."""

    recent: list[Ref] = msgspec.field(default_factory=list)


class LowTotalReceipts(Detector[LowTotalReceiptsParams, LowTotalReceiptsState]):
    """Raises an incident when low-total sale receipts repeat within a window."""

    type_name = "low_total_receipts"
    title = "Repeated low-total receipts"
    summary = "Several sale receipts closed at zero or a very low total in a short time."
    params_type = LowTotalReceiptsParams
    state_type = LowTotalReceiptsState

    def event_types(self) -> frozenset[str]:
        """Sale receipt closes."""
        return frozenset({"POS_RECEIPT_CLOSE", "POS_RECEIPT_SELL_CLOSE"})

    def step(
        self, state: LowTotalReceiptsState, ev: PosEvent, ctx: TerminalState | None
    ) -> tuple[LowTotalReceiptsState, Sequence[Incident]]:
        """Count a low receipt; fire when min_count of them fall in the window."""
        r = receipt_of(ctx, ev)
        if r is None or r.kind != "sale":
            return state, NO_INCIDENTS
        p = self.params
        if not r.positions and not p.include_empty:
            return state, NO_INCIDENTS
        total = ev.price if ev.type == "POS_RECEIPT_CLOSE" and ev.price else sum(
            r.positions.values()
        )
        if total > p.max_total:
            return state, NO_INCIDENTS
        ts = ev.ts_in_receipt
        expire_refs(state.recent, ts - p.window_minutes * MINUTE)
        state.recent.append(ref(ev))
        if len(state.recent) < p.min_count:
            return state, NO_INCIDENTS
        related, state.recent = state.recent[:-1], []
        return state, [
            self.incident(
                ev,
                related=related,
                cashier=cashier_of(ev, ctx),
                details=f"{p.min_count} receipts at or below {money(p.max_total)} "
                f"within {p.window_minutes} min (last {money(total)})",
                columns={"total": str(total)},
            )
        ]
