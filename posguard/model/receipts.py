"""Receipt assembly: a terminal's ordered events folded into receipts, as pure functions.

`assemble(state, event) -> (state, closed_receipts)` is the one place that knows how events make
a receipt; the Faust agent keeps `TerminalState` per terminal in a table, the archive runner and
the tests call the same function over lists.
"""

from __future__ import annotations

import hashlib

import msgspec

from posguard.model.event_types import (
    PAYMENT_TYPES,
    POSITION_TYPES,
    RECEIPT_END_TYPES,
    RECEIPT_START_TYPES,
)
from posguard.model.events import PosEvent

__all__ = ["Receipt", "OpenReceipt", "TerminalState", "assemble", "receipt_id"]

_CANCEL_TYPES = frozenset(
    {"POS_RECEIPT_CANCEL", "POS_RECEIPT_CANCEL_WITH_WRITE_OFF", "POS_RECEIPT_ANNULMENT"}
)
_KIND = {
    "POS_RECEIPT_OPEN": "sale",
    "POS_RECEIPT_RETURN": "return",
    "POS_RECEIPT_EXCHANGE": "exchange",
    "POS_RECEIPT_PAYOUT": "payout",
}


class Receipt(msgspec.Struct, frozen=True, kw_only=True):
    """One finished receipt (closed, cancelled or incomplete). Money in kopecks."""

    receipt_id: str
    pos_terminal: str
    op_id: str
    ts_open: int
    ts_close: int
    status: str  # closed | cancelled | incomplete
    kind: str = "sale"  # sale | return | exchange | payout
    pos_terminal_name: str = ""
    store: str = ""
    cashier_name: str = ""
    total: int = 0
    discount: int = 0
    positions: int = 0
    deletes: int = 0
    frauds: int = 0
    events: int = 0
    change: int = 0
    discount_card: str = ""
    payment_types: list[str] = msgspec.field(default_factory=list)
    admin_seen: bool = False
    ts_received_close: int = 0


class OpenReceipt(msgspec.Struct, kw_only=True):
    """The receipt a terminal has open now (mutable working copy inside `assemble`)."""

    op_id: str
    ts_open: int
    kind: str = "sale"
    cashier_name: str = ""
    total: int = 0
    discount: int = 0
    positions: dict[int, int] = msgspec.field(default_factory=dict)  # position -> price
    deletes: int = 0
    frauds: int = 0
    events: int = 0
    change: int = 0
    discount_card: str = ""
    payment_types: list[str] = msgspec.field(default_factory=list)
    admin_seen: bool = False


class TerminalState(msgspec.Struct, kw_only=True):
    """What one terminal has going on: who is signed in and the open receipt, if any."""

    cashier_name: str = ""
    admin_signed_in: bool = False
    receipt: OpenReceipt | None = None
    last_ts: int = 0


def receipt_id(terminal: str, op_id: str, ts_open: int) -> str:
    """Deterministic id of a receipt: the same events always give the same id."""
    h = hashlib.blake2b(f"{terminal}\x00{op_id}\x00{ts_open}".encode(), digest_size=12)
    return h.hexdigest()


def _finish(state: TerminalState, ev: PosEvent, status: str) -> Receipt:
    r = state.receipt
    assert r is not None
    total = ev.price if ev.type == "POS_RECEIPT_CLOSE" and ev.price else sum(r.positions.values())
    return Receipt(
        receipt_id=receipt_id(ev.pos_terminal, r.op_id, r.ts_open),
        pos_terminal=ev.pos_terminal,
        pos_terminal_name=ev.pos_terminal_name,
        store=ev.store,
        op_id=r.op_id,
        ts_open=r.ts_open,
        ts_close=ev.ts_in_receipt,
        ts_received_close=ev.ts_received,
        status=status,
        kind=r.kind,
        cashier_name=r.cashier_name,
        total=0 if status == "cancelled" else total,
        discount=r.discount,
        positions=len(r.positions),
        deletes=r.deletes,
        frauds=r.frauds,
        events=r.events + 1,
        change=r.change,
        discount_card=r.discount_card,
        payment_types=r.payment_types,
        admin_seen=r.admin_seen,
    )


def _open(state: TerminalState, ev: PosEvent, kind: str) -> OpenReceipt:
    return OpenReceipt(
        op_id=ev.op_id,
        ts_open=ev.ts_in_receipt,
        kind=kind,
        cashier_name=ev.cashier_name or state.cashier_name,
        admin_seen=state.admin_signed_in,
    )


def assemble(state: TerminalState, ev: PosEvent) -> tuple[TerminalState, list[Receipt]]:
    """Fold one event of a terminal into its state.

    Args:
        state: the terminal's state before the event (mutated and returned: callers that need
            the old value keep a copy; Faust tables store the returned value).
        ev: the next event of that terminal, in terminal order.

    Returns:
        The new state and the receipts this event finished: usually none, one on a close or
        cancel, and possibly an `incomplete` one when a new receipt opens over an unfinished one.

    Example:
        >>> s = TerminalState()
        >>> mk = lambda t, **kw: PosEvent(type=t, pos_terminal="T1", op_id="7",
        ...     ts_in_receipt=kw.pop("ts"), ts_received=0, **kw)
        >>> s, _ = assemble(s, mk("POS_RECEIPT_OPEN", ts=1))
        >>> s, _ = assemble(s, mk("POS_POSITION_ADD", ts=2, position=1, price=500))
        >>> s, done = assemble(s, mk("POS_RECEIPT_CLOSE", ts=3, price=500))
        >>> done[0].total, done[0].positions
        (500, 1)
    """
    done: list[Receipt] = []
    t = ev.type
    state.last_ts = max(state.last_ts, ev.ts_in_receipt)
    r = state.receipt
    # A receipt is identified by op_id: events of another op_id mean the old one was torn.
    if r is not None and ev.op_id and r.op_id and ev.op_id != r.op_id and t not in _SIGN_TYPES:
        done.append(_finish(state, ev, "incomplete"))
        state.receipt = r = None
    if t in RECEIPT_START_TYPES:
        if r is not None:
            done.append(_finish(state, ev, "incomplete"))
        state.receipt = _open(state, ev, _KIND[t])
        state.receipt.events = 1
        return state, done
    if t == "POS_CASHIER_LOGIN":
        state.cashier_name = ev.cashier_name or ev.text
    elif t == "POS_CASHIER_LOGOUT":
        state.cashier_name = ""
    elif t == "POS_ADMIN_LOGIN":
        state.admin_signed_in = True
        if r is not None:
            r.admin_seen = True
    elif t == "POS_ADMIN_LOGOUT":
        state.admin_signed_in = False
    if r is None:
        if t in POSITION_TYPES and ev.op_id:
            # A receipt whose open event we never saw: start it at its first position.
            state.receipt = r = _open(state, ev, "sale")
        else:
            return state, done
    r.events += 1
    if t in POSITION_TYPES:
        r.positions[ev.position] = ev.price
    elif t == "POS_POSITION_DELETE":
        r.deletes += 1
        r.positions.pop(ev.position, None)
    elif t in ("POS_POSITION_QUANTITY_CHANGE", "POS_POSITION_PRICE_CHANGE"):
        if ev.position in r.positions:
            r.positions[ev.position] = ev.price
    elif t in ("POS_DISCOUNT_POSITION", "POS_DISCOUNT_RECEIPT"):
        r.discount += ev.discount or ev.price
    elif t == "POS_DISCOUNT_CARD":
        r.discount_card = ev.discount_card or ev.text
    elif t in PAYMENT_TYPES:
        if t not in r.payment_types:
            r.payment_types.append(t)
    elif t == "POS_CHANGE":
        r.change += ev.price
    elif t == "POS_FRAUD":
        r.frauds += 1
    elif t in RECEIPT_END_TYPES:
        status = "cancelled" if t in _CANCEL_TYPES else (
            "incomplete" if t == "POS_RECEIPT_INCOMPLETE" else "closed"
        )
        r.events -= 1  # _finish counts the closing event
        done.append(_finish(state, ev, status))
        state.receipt = None
    return state, done


_SIGN_TYPES = frozenset(
    {"POS_CASHIER_LOGIN", "POS_CASHIER_LOGOUT", "POS_ADMIN_LOGIN", "POS_ADMIN_LOGOUT", "POS_FRAUD"}
)
