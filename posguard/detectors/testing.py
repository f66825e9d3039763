"""Test helpers: run detectors over lists with crash markers, and build receipts.

In the manner of Bytewax's testing module: `run_detector` feeds a list of events to a detector
(or an engine) and collects the incidents; a `CRASH` marker in the list encodes every state
to bytes and decodes it back, as a worker restart recovering its tables would, so a test can
prove that resuming after a crash gives the same incidents as an uninterrupted run.

    evs = receipt("T1").item("Milk", 89_90).delete(1).close().events()
    assert run_detector(d, evs[:2] + [CRASH] + evs[2:]) == run_detector(d, evs)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from posguard.detectors.base import Detector
from posguard.detectors.engine import DetectorEngine, ScopeState, decode_state, encode_state
from posguard.model.events import PosEvent
from posguard.model.incidents import Incident

__all__ = ["CRASH", "Crash", "run_detector", "receipt", "ReceiptBuilder", "pos_event", "START"]

# 2027-01-15 08:00:00 UTC: a default event time well inside any test's range.
START: Final = 1_800_000_000_000_000
_SECOND = 1_000_000
_RECEIVED_DELAY = 150_000  # the server gets an event 0.15 s after the terminal made it


class Crash:
    """The type of the CRASH marker."""

    _instance: Crash | None = None

    def __new__(cls) -> Crash:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "CRASH"


CRASH: Final = Crash()


def run_detector(
    target: Detector[Any, Any] | DetectorEngine, items: Iterable[PosEvent | Crash]
) -> list[Incident]:
    """Run a detector or an engine over events in the given order; return the incidents.

    Every scope of the engine sees each event in list order (give cross-terminal scopes
    events in `archive_order`, e.g. in reception order). At a CRASH every key's state goes through encode_state and
    decode_state, as after a restart.

    Args:
        target: one detector (wrapped in an engine of its own) or an engine.
        items: events and CRASH markers.

    Returns:
        The incidents in the order they were raised.
    """
    engine = target if isinstance(target, DetectorEngine) else DetectorEngine([target])
    scopes = engine.scopes()
    states: dict[tuple[str, str], ScopeState] = {}
    out: list[Incident] = []
    for item in items:
        if isinstance(item, Crash):
            states = {k: decode_state(encode_state(v)) for k, v in states.items()}
            continue
        for scope in scopes:
            key = engine.key(scope, item)
            if key is None:
                continue
            st = states.get((scope, key))
            if st is None:
                st = engine.initial(scope)
            st, incs = engine.step(scope, st, item)
            states[(scope, key)] = st
            out.extend(incs)
    return out


def pos_event(terminal: str, type: str, *, at: int = START, **fields: Any) -> PosEvent:
    """One event outside any builder; event_id derives from terminal, type and time.

    Example:
        >>> pos_event("T1", "POS_DRAWER_OPEN", at=5).event_id
        'T1:POS_DRAWER_OPEN:5'
    """
    fields.setdefault("event_id", f"{terminal}:{type}:{at}")
    fields.setdefault("ts_received", at + _RECEIVED_DELAY)
    return PosEvent(type=type, pos_terminal=terminal, ts_in_receipt=at, **fields)


class ReceiptBuilder:
    """Builds the events of one receipt, each `step_s` seconds after the previous one.

    Use `receipt(...)` to start one. `now` is the time the next event would get, so the next
    receipt can start at `b.now`.
    """

    def __init__(
        self,
        terminal: str,
        *,
        op_id: str = "1",
        cashier: str = "Ivanov I",
        at: int = START,
        step_s: float = 5,
        kind: str = "sale",
        store: str = "S1",
        opened: bool = True,
    ) -> None:
        if kind not in ("sale", "return"):
            raise ValueError(f"kind {kind!r}: 'sale' or 'return'")
        self.terminal = terminal
        self.op_id = op_id
        self.cashier = cashier
        self.store = store
        self.kind = kind
        self.now = at
        self.step = int(step_s * _SECOND)
        self.positions: dict[int, int] = {}
        self._events: list[PosEvent] = []
        self._last_position = 0
        if opened:
            self.event("POS_RECEIPT_RETURN" if kind == "return" else "POS_RECEIPT_OPEN")

    @property
    def total(self) -> int:
        """Sum of the positions not deleted (kopecks)."""
        return sum(self.positions.values())

    def event(self, type: str, **fields: Any) -> ReceiptBuilder:
        """Append an event of any type with the receipt's terminal, op_id, cashier, store."""
        seq = len(self._events)
        fields.setdefault("op_id", self.op_id)
        fields.setdefault("cashier_name", self.cashier)
        fields.setdefault("store", self.store)
        fields.setdefault("event_id", f"{self.terminal}:{self.op_id}:{self.now}:{seq}")
        fields.setdefault("pos_terminal_name", f"Till {self.terminal}")
        self._events.append(
            PosEvent(
                type=type,
                pos_terminal=self.terminal,
                ts_in_receipt=self.now,
                ts_received=self.now + _RECEIVED_DELAY,
                **fields,
            )
        )
        self.now += self.step
        return self

    def wait(self, seconds: float) -> ReceiptBuilder:
        """Let time pass before the next event."""
        self.now += int(seconds * _SECOND)
        return self

    def item(
        self,
        text: str,
        price: int,
        *,
        quantity: int = 1,
        article: str = "",
        barcode: str = "",
        scanned: bool = True,
        price_per_unit: int | None = None,
    ) -> ReceiptBuilder:
        """Add a position (scanned, or keyed by hand with scanned=False); price in kopecks."""
        self._last_position += 1
        pos = self._last_position
        self.positions[pos] = price
        return self.event(
            "POS_POSITION_ADD_BY_SCANNER" if scanned else "POS_POSITION_ADD",
            position=pos,
            text=text,
            price=price,
            price_per_unit=price // max(quantity, 1) if price_per_unit is None else price_per_unit,
            quantity=quantity,
            article=article,
            barcode=barcode,
        )

    def delete(self, position: int | None = None) -> ReceiptBuilder:
        """Delete a position (default: the last one added)."""
        pos = self._last_position if position is None else position
        price = self.positions.pop(pos, 0)
        return self.event("POS_POSITION_DELETE", position=pos, price=price)

    def price_change(self, position: int, price: int) -> ReceiptBuilder:
        """Set a position's price by hand."""
        self.positions[position] = price
        return self.event("POS_POSITION_PRICE_CHANGE", position=position, price=price,
                          price_per_unit=price)

    def position_return(self, text: str, price: int, *, barcode: str = "") -> ReceiptBuilder:
        """A POS_POSITION_RETURN (goods handed back within a sale receipt)."""
        return self.event("POS_POSITION_RETURN", text=text, price=price, barcode=barcode)

    def discount(self, amount: int, *, position: int | None = None) -> ReceiptBuilder:
        """A discount on a position, or on the whole receipt when position is None."""
        if position is None:
            return self.event("POS_DISCOUNT_RECEIPT", discount=amount)
        return self.event("POS_DISCOUNT_POSITION", discount=amount, position=position)

    def card(self, number: str) -> ReceiptBuilder:
        """A discount card presented."""
        return self.event("POS_DISCOUNT_CARD", discount_card=number)

    def admin_login(self, name: str = "Admin A") -> ReceiptBuilder:
        """An administrator signs in."""
        return self.event("POS_ADMIN_LOGIN", text=name)

    def admin_logout(self) -> ReceiptBuilder:
        """The administrator signs out."""
        return self.event("POS_ADMIN_LOGOUT")

    def pay(self, kind: str = "cash", amount: int | None = None) -> ReceiptBuilder:
        """A payment (cash, card, certificate, bonus) of `amount` (default: the total)."""
        return self.event(f"POS_PAYMENT_{kind.upper()}",
                          price=self.total if amount is None else amount)

    def close(self, total: int | None = None) -> ReceiptBuilder:
        """Close the receipt; the close event carries the total."""
        t = "POS_RECEIPT_RETURN_CLOSE" if self.kind == "return" else "POS_RECEIPT_CLOSE"
        return self.event(t, price=self.total if total is None else total)

    def cancel(self, type: str = "POS_RECEIPT_CANCEL") -> ReceiptBuilder:
        """Cancel the receipt (or annul it with type="POS_RECEIPT_ANNULMENT")."""
        return self.event(type)

    def events(self) -> list[PosEvent]:
        """The events so far, in order."""
        return list(self._events)


def receipt(terminal: str, **kwargs: Any) -> ReceiptBuilder:
    """Start a receipt on `terminal` (see ReceiptBuilder for the options).

    Example:
        >>> evs = receipt("T1").item("Milk", 89_90).delete(1).close().events()
        >>> [e.type for e in evs]
        ['POS_RECEIPT_OPEN', 'POS_POSITION_ADD_BY_SCANNER', 'POS_POSITION_DELETE', \
'POS_RECEIPT_CLOSE']
    """
    return ReceiptBuilder(terminal, **kwargs)
