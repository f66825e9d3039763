"""Rule 4: refunds above an amount, and refunds of an item this terminal sold minutes ago.

Returned goods are the positions of a return receipt (opened by POS_RECEIPT_RETURN) and
POS_POSITION_RETURN events. An item is recognised by barcode, else article, else its text.
The terminal remembers what it sold in the last `recent_sale_minutes` (at most
`max_remembered` items, oldest forgotten first), so state does not grow with sales.

Parameters (`SuspiciousRefundParams`), defaults in brackets:
    min_amount: fire when a return receipt's total, or a POS_POSITION_RETURN's price, is at
        least this (kopecks); 0 = off [100000].
    recent_sale_minutes: fire when a returned item was sold on the same terminal within this
        many minutes; 0 = off [30].
    max_remembered: how many recently sold items the terminal remembers [1000].

Example:
    >>> from posguard.detectors.testing import receipt, run_detector
    >>> sale = receipt("T1", op_id="1").item("Phone", 300_00, barcode="460001").close()
    >>> back = receipt("T1", op_id="2", kind="return", at=sale.now + 60_000_000)
    >>> evs = sale.events() + back.item("Phone", 300_00, barcode="460001").close().events()
    >>> run_detector(SuspiciousRefund("PGD00004"), evs)[0].custom_columns["reason"]
    'recent_sale'
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import islice

import msgspec

from posguard.detectors.base import (
    NO_INCIDENTS,
    Detector,
    DetectorState,
    Params,
    Ref,
    cashier_of,
    event_key,
    money,
    receipt_of,
)
from posguard.detectors.localtime import MINUTE
from posguard.model.event_types import POSITION_TYPES
from posguard.model.events import PosEvent
from posguard.model.incidents import Incident
from posguard.model.receipts import TerminalState

__all__ = ["SuspiciousRefund", "SuspiciousRefundParams", "SuspiciousRefundState"]

_CLOSES = frozenset({"POS_RECEIPT_CLOSE", "POS_RECEIPT_RETURN_CLOSE", "POS_RECEIPT_SELL_CLOSE"})


class SuspiciousRefundParams(Params, frozen=True):
    """Parameters of SuspiciousRefund (see the module docstring)."""

    min_amount: int = 1000_00
    recent_sale_minutes: int = 30
    max_remembered: int = 1000

    def __post_init__(self) -> None:
        if self.min_amount < 0 or self.recent_sale_minutes < 0:
            raise ValueError("min_amount/recent_sale_minutes: must not be negative")
        if self.max_remembered < 1:
            raise ValueError("max_remembered: must be at least 1")


class SuspiciousRefundState(DetectorState):
    """Items sold recently: item -> (last sale's event key, ts), oldest sale first (an item
    sold again moves to the end).

    `expire_at` is when the oldest entry is half a window past due: nothing is expired
    before it, then all stale entries at once.
    """

    sold: dict[str, Ref] = msgspec.field(default_factory=dict)
    expire_at: int = 0


def _item(ev: PosEvent) -> str:
    """What identifies an item: barcode, else article, else its text (case folded)."""
    return ev.barcode or ev.article or ev.text.casefold()


class SuspiciousRefund(Detector[SuspiciousRefundParams, SuspiciousRefundState]):
    """Raises incidents on large refunds and on refunds of items sold shortly before."""

    type_name = "suspicious_refund"
    title = "Suspicious refund"
    summary = "A large refund, or a refund of an item the same terminal sold minutes before."
    params_type = SuspiciousRefundParams
    state_type = SuspiciousRefundState

    def setup(self) -> None:
        """Window length in microseconds."""
        self._window = self.params.recent_sale_minutes * MINUTE

    def event_types(self) -> frozenset[str]:
        """Positions, position returns and receipt closes."""
        return POSITION_TYPES | _CLOSES | {"POS_POSITION_RETURN"}

    def step(
        self, state: SuspiciousRefundState, ev: PosEvent, ctx: TerminalState | None
    ) -> tuple[SuspiciousRefundState, Sequence[Incident]]:
        """Remember sales; check returned items and return totals."""
        t = ev.type
        p = self.params
        if t in POSITION_TYPES:
            r = ctx.receipt if ctx is not None else None
            if r is None or r.kind != "return" or (ev.op_id and ev.op_id != r.op_id):
                # The hot path (every sold position): remember the item.
                if self._window:
                    item = ev.barcode or ev.article or ev.text.casefold()
                    if item:
                        ts = ev.ts_in_receipt
                        sold = state.sold
                        sold.pop(item, None)  # keeps the dict in sale order
                        sold[item] = (ev.event_id or event_key(ev), ts)
                        if ts >= state.expire_at or len(sold) > p.max_remembered:
                            self._expire(state, ts)
                return state, NO_INCIDENTS
        r = receipt_of(ctx, ev)
        returning = r is not None and r.kind == "return"
        out: list[Incident] = []
        if t in POSITION_TYPES or t == "POS_POSITION_RETURN":
            if self._window:
                out.extend(self._recent(state, ev, ctx))
            if t == "POS_POSITION_RETURN" and p.min_amount and ev.price >= p.min_amount:
                out.append(self._large(ev, ev.price, ctx))
            return state, out
        if returning and p.min_amount and r is not None:
            total = ev.price or sum(r.positions.values())
            if total >= p.min_amount:
                out.append(self._large(ev, total, ctx))
        return state, out

    def _expire(self, state: SuspiciousRefundState, ts: int) -> None:
        # `sold` is in sale order: the stale and the surplus sales are a prefix. Rebuilt in
        # one pass (deleting entries one by one leaves holes a dict walks over).
        sold = state.sold
        oldest = ts - self._window
        drop = 0
        for sale in sold.values():
            if sale[1] >= oldest:
                break
            drop += 1
        cap = self.params.max_remembered
        if len(sold) - drop > cap:  # drop the oldest sales, an eighth more than needed
            drop = len(sold) - cap + cap // 8
        if drop:
            sold = state.sold = dict(islice(sold.items(), drop, None))
        first = next(iter(sold.values()))[1] if sold else ts
        # Expire in batches, next when the oldest kept sale is half a window past due: about
        # twice a window, at most 1.5 windows of sales kept (lookups check the sale time, so
        # an item kept longer never matches).
        state.expire_at = first + self._window + self._window // 2

    def _recent(
        self, state: SuspiciousRefundState, ev: PosEvent, ctx: TerminalState | None
    ) -> list[Incident]:
        item = _item(ev)
        sale = state.sold.get(item) if item else None
        if sale is None or not 0 <= ev.ts_in_receipt - sale[1] <= self._window:
            return []
        del state.sold[item]  # one sale explains one refund
        minutes = (ev.ts_in_receipt - sale[1]) // MINUTE
        return [
            self.incident(
                ev,
                related=[sale],
                cashier=cashier_of(ev, ctx),
                details=f"{ev.text or item} refunded {minutes} min after it was sold here",
                columns={"reason": "recent_sale", "item": item},
            )
        ]

    def _large(self, ev: PosEvent, amount: int, ctx: TerminalState | None) -> Incident:
        return self.incident(
            ev,
            cashier=cashier_of(ev, ctx),
            details=f"refund of {money(amount)}",
            columns={"reason": "amount", "amount": str(amount)},
        )
