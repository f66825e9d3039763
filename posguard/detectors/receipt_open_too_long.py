"""Rule 13: a receipt open too long, or never closed.

Without a clock, "too long" is noticed by the terminal's next event: the first event at least
`max_minutes` after the receipt opened while it is still open (its close included) fires. A
receipt is "never closed" when a new one opens over it, an event of another op_id tears it, or
it ends as POS_RECEIPT_INCOMPLETE (closed by a timeout upstream). At most one incident per
receipt; its id derives from the receipt (terminal, op_id, opening time).

Parameters (`ReceiptOpenTooLongParams`), defaults in brackets:
    max_minutes: how long a receipt may stay open [15].
    never_closed: also fire on receipts that were never closed [True].

Example:
    >>> from posguard.detectors.testing import receipt, run_detector
    >>> evs = receipt("T1", step_s=600).item("Milk", 89_90).item("Tea", 99_00).close().events()
    >>> run_detector(ReceiptOpenTooLong("PGD00013"), evs)[0].custom_columns["reason"]
    'too_long'
"""

from __future__ import annotations

from collections.abc import Sequence

from posguard.detectors.base import (
    NO_INCIDENTS,
    NON_RECEIPT_TYPES,
    Detector,
    DetectorState,
    Params,
    cashier_of,
)
from posguard.detectors.localtime import MINUTE
from posguard.model.event_types import RECEIPT_START_TYPES
from posguard.model.events import PosEvent
from posguard.model.incidents import Incident
from posguard.model.receipts import TerminalState

__all__ = ["ReceiptOpenTooLong", "ReceiptOpenTooLongParams", "ReceiptOpenTooLongState"]

_TEARING = RECEIPT_START_TYPES | {"POS_RECEIPT_INCOMPLETE"}


class ReceiptOpenTooLongParams(Params, frozen=True):
    """Parameters of ReceiptOpenTooLong (see the module docstring)."""

    max_minutes: int = 15
    never_closed: bool = True

    def __post_init__(self) -> None:
        if self.max_minutes < 1:
            raise ValueError("max_minutes: must be at least 1")


class ReceiptOpenTooLongState(DetectorState):
    """The receipt already reported (op_id, opening time), so it is reported once."""

    op_id: str = ""
    ts_open: int = -1


class ReceiptOpenTooLong(Detector[ReceiptOpenTooLongParams, ReceiptOpenTooLongState]):
    """Raises one incident per receipt left open too long or never closed."""

    type_name = "receipt_open_too_long"
    title = "Receipt open too long"
    summary = "A receipt stayed open too long, or was never closed."
    params_type = ReceiptOpenTooLongParams
    state_type = ReceiptOpenTooLongState

    def setup(self) -> None:
        """The limit in microseconds."""
        self._limit = self.params.max_minutes * MINUTE

    def event_types(self) -> None:
        """Every event: any of them may be the first one past the limit."""
        return None

    def step(
        self, state: ReceiptOpenTooLongState, ev: PosEvent, ctx: TerminalState | None
    ) -> tuple[ReceiptOpenTooLongState, Sequence[Incident]]:
        """Fire once per receipt when it is torn/incomplete or the limit has passed."""
        r = ctx.receipt if ctx is not None else None
        if r is None:
            return state, NO_INCIDENTS
        t = ev.type
        op = ev.op_id
        torn = (
            t in _TEARING
            or (op and r.op_id and op != r.op_id and t not in NON_RECEIPT_TYPES)
        )
        # The hot path: an event of the open receipt, still within the limit.
        if not torn and ev.ts_in_receipt - r.ts_open < self._limit:
            return state, NO_INCIDENTS
        if r.ts_open == state.ts_open and r.op_id == state.op_id:
            return state, NO_INCIDENTS  # reported already
        open_for = ev.ts_in_receipt - r.ts_open
        if torn and self.params.never_closed:
            reason, what = "never_closed", "never closed"
        elif not torn and open_for >= self._limit:
            reason, what = "too_long", f"open for {open_for // MINUTE} min"
        else:
            return state, NO_INCIDENTS
        state.op_id, state.ts_open = r.op_id, r.ts_open
        return state, [
            self.incident(
                ev,
                id_keys=[f"receipt={ev.pos_terminal}|{r.op_id}|{r.ts_open}"],
                cashier=r.cashier_name or cashier_of(ev, ctx),
                op_id=r.op_id,
                details=f"receipt {r.op_id or '?'} {what}",
                columns={"reason": reason, "open_minutes": str(open_for // MINUTE)},
            )
        ]
