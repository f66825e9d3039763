"""Rule 3: a receipt cancelled or annulled after positions were added or payment was taken.

Parameters (`ReceiptCancelledParams`), defaults in brackets:
    min_amount: only receipts whose positions add up to at least this (kopecks) [0].
    after: "positions": fire when the receipt had positions (even deleted ones) or payment;
        "payment": only when payment had been taken ["positions"].

Example:
    >>> from posguard.detectors.testing import receipt, run_detector
    >>> evs = receipt("T1").item("Vodka", 499_00).cancel().events()
    >>> [i.custom_columns["amount"] for i in run_detector(ReceiptCancelled("PGD00003"), evs)]
    ['49900']
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

__all__ = ["ReceiptCancelled", "ReceiptCancelledParams", "CANCEL_TYPES"]

CANCEL_TYPES = frozenset(
    {"POS_RECEIPT_CANCEL", "POS_RECEIPT_CANCEL_WITH_WRITE_OFF", "POS_RECEIPT_ANNULMENT"}
)


class ReceiptCancelledParams(Params, frozen=True):
    """Parameters of ReceiptCancelled (see the module docstring)."""

    min_amount: int = 0
    after: str = "positions"

    def __post_init__(self) -> None:
        if self.min_amount < 0:
            raise ValueError("min_amount: must not be negative")
        if self.after not in ("positions", "payment"):
            raise ValueError(f"after: {self.after!r} is not 'positions' or 'payment'")


class ReceiptCancelled(Detector[ReceiptCancelledParams, NoState]):
    """Raises an incident when a receipt with positions or payment is cancelled/annulled."""

    type_name = "receipt_cancelled"
    title = "Receipt cancelled after positions"
    summary = "A receipt was cancelled or annulled after positions were added or paid."
    params_type = ReceiptCancelledParams

    def event_types(self) -> frozenset[str]:
        """Cancels and annulments."""
        return CANCEL_TYPES

    def step(
        self, state: NoState, ev: PosEvent, ctx: TerminalState | None
    ) -> tuple[NoState, Sequence[Incident]]:
        """Fire when the cancelled receipt had positions (or payment) worth min_amount."""
        r = receipt_of(ctx, ev)
        if r is None:
            return state, NO_INCIDENTS
        paid = bool(r.payment_types)
        if self.params.after == "payment":
            relevant = paid
        else:
            relevant = paid or bool(r.positions) or r.deletes > 0
        amount = sum(r.positions.values())
        if not relevant or amount < self.params.min_amount:
            return state, NO_INCIDENTS
        what = "paid receipt" if paid else f"receipt with {len(r.positions)} position(s)"
        return state, [
            self.incident(
                ev,
                cashier=cashier_of(ev, ctx),
                details=f"{what} worth {money(amount)} cancelled ({ev.type})",
                columns={"amount": str(amount)},
            )
        ]
