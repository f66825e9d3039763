"""Rule 2: a position deleted while no administrator is signed in on the terminal.

Parameters (`DeleteWithoutAdminParams`), defaults in brackets:
    min_amount: only deletes of positions worth at least this (kopecks; the delete event's
        price, else the deleted position's price in the receipt) [0].
    admin_anytime_in_receipt: an administrator sign-in earlier in the same receipt also
        authorises the delete, even after that administrator signed out [False].

Example:
    >>> from posguard.detectors.testing import receipt, run_detector
    >>> evs = receipt("T1").item("Milk", 89_90).delete(1).close().events()
    >>> [i.type_name for i in run_detector(DeleteWithoutAdmin("PGD00002"), evs)]
    ['Position deleted without an administrator']
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

__all__ = ["DeleteWithoutAdmin", "DeleteWithoutAdminParams"]


class DeleteWithoutAdminParams(Params, frozen=True):
    """Parameters of DeleteWithoutAdmin (see the module docstring)."""

    min_amount: int = 0
    admin_anytime_in_receipt: bool = False

    def __post_init__(self) -> None:
        if self.min_amount < 0:
            raise ValueError("min_amount: must not be negative")


class DeleteWithoutAdmin(Detector[DeleteWithoutAdminParams, NoState]):
    """Raises an incident on POS_POSITION_DELETE with no administrator signed in."""

    type_name = "delete_without_admin"
    title = "Position deleted without an administrator"
    summary = "A position was deleted from a receipt while no administrator was signed in."
    params_type = DeleteWithoutAdminParams

    def event_types(self) -> frozenset[str]:
        """Deletes only."""
        return frozenset({"POS_POSITION_DELETE"})

    def step(
        self, state: NoState, ev: PosEvent, ctx: TerminalState | None
    ) -> tuple[NoState, Sequence[Incident]]:
        """Fire unless an administrator is signed in (or was, in this receipt, if allowed)."""
        if ctx is not None and ctx.admin_signed_in:
            return state, NO_INCIDENTS
        r = receipt_of(ctx, ev)
        if r is not None and r.admin_seen and self.params.admin_anytime_in_receipt:
            return state, NO_INCIDENTS
        amount = ev.price or (r.positions.get(ev.position, 0) if r is not None else 0)
        if amount < self.params.min_amount:
            return state, NO_INCIDENTS
        return state, [
            self.incident(
                ev,
                cashier=cashier_of(ev, ctx),
                details=f"position {ev.position} ({money(amount)}) deleted, no administrator",
                columns={"amount": str(amount)},
            )
        ]
