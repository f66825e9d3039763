"""Rule 5: a discount above a percentage of what it applies to, or above an amount.

A position discount (POS_DISCOUNT_POSITION) is measured against that position's price in the
open receipt; a receipt discount (POS_DISCOUNT_RECEIPT) against the receipt's positions.
The discount amount is the event's `discount`, else its `price`.

Parameters (`LargeDiscountParams`), defaults in brackets:
    max_percent: fire when the discount is more than this percent of its base; 0 = off [30].
    max_amount: fire when the discount is more than this (kopecks); 0 = off [50000].

Example:
    >>> from posguard.detectors.testing import receipt, run_detector
    >>> evs = receipt("T1").item("Cheese", 1000_00).discount(400_00, position=1).close().events()
    >>> run_detector(LargeDiscount("PGD00005"), evs)[0].custom_columns["percent"]
    '40'
"""

from __future__ import annotations

from collections.abc import Sequence

from posguard.detectors.base import (
    NO_INCIDENTS,
    Detector,
    NoState,
    Params,
    cashier_of,
    money,
    receipt_of,
)
from posguard.model.events import PosEvent
from posguard.model.incidents import Incident
from posguard.model.receipts import TerminalState

__all__ = ["LargeDiscount", "LargeDiscountParams"]


class LargeDiscountParams(Params, frozen=True):
    """Parameters of LargeDiscount (see the module docstring)."""

    max_percent: int = 30
    max_amount: int = 500_00

    def __post_init__(self) -> None:
        if self.max_percent < 0 or self.max_amount < 0:
            raise ValueError("max_percent/max_amount: must not be negative")


class LargeDiscount(Detector[LargeDiscountParams, NoState]):
    """Raises an incident on a discount above max_percent of its base or above max_amount."""

    type_name = "large_discount"
    title = "Large discount"
    summary = "A discount above the allowed percentage or amount."
    params_type = LargeDiscountParams

    def event_types(self) -> frozenset[str]:
        """Position and receipt discounts."""
        return frozenset({"POS_DISCOUNT_POSITION", "POS_DISCOUNT_RECEIPT"})

    def step(
        self, state: NoState, ev: PosEvent, ctx: TerminalState | None
    ) -> tuple[NoState, Sequence[Incident]]:
        """Compare the discount with its base and with the amount limit."""
        amount = ev.discount or ev.price
        if amount <= 0:
            return state, NO_INCIDENTS
        r = receipt_of(ctx, ev)
        if ev.type == "POS_DISCOUNT_POSITION":
            base = r.positions.get(ev.position, 0) if r is not None else 0
            if not base and ev.discount:
                base = ev.price  # the event names the position's price itself
        else:
            base = sum(r.positions.values()) if r is not None else 0
        p = self.params
        over_pct = bool(p.max_percent) and base > 0 and amount * 100 > p.max_percent * base
        over_amount = bool(p.max_amount) and amount > p.max_amount
        if not (over_pct or over_amount):
            return state, NO_INCIDENTS
        pct = amount * 100 // base if base > 0 else 0
        base_txt = f" of {money(base)}" if base else ""
        return state, [
            self.incident(
                ev,
                cashier=cashier_of(ev, ctx),
                details=f"discount {money(amount)}{base_txt} ({pct}%)",
                columns={"amount": str(amount), "percent": str(pct)},
            )
        ]
