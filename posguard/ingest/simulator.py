"""Simulated chain traffic: realistic receipts from many terminals, as PosEvents.

`ChainSimulator` is pure given its seed and the times passed in; `run_simulation` is the shell
that paces it and publishes through the EventPublisher.
"""

from __future__ import annotations

import random
import string
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from posguard.model.events import PosEvent

__all__ = ["ChainSimulator", "SimTerminal", "CATALOGUE", "PATTERNS", "run_simulation",
           "terminal_guid"]

# (name, article, barcode, price in kopecks, weighed)
CATALOGUE: tuple[tuple[str, str, str, int, bool], ...] = (
    ("Milk 3.2% 1l", "10001", "4607001234561", 8990, False),
    ("Buttermilk 1.5% 0.95l", "10002", "0760557822035", 5199, False),
    ("Bread rye 500g", "10010", "4601234500011", 4590, False),
    ("Baguette", "10011", "4601234500028", 3900, False),
    ("Bananas", "20001", "2000001000015", 12990, True),
    ("Apples Gala", "20002", "2000002000014", 15990, True),
    ("Potatoes", "20003", "2000003000013", 4990, True),
    ("Chicken breast", "30001", "4607011122334", 38990, True),
    ("Eggs C1 10pcs", "30010", "4600300000103", 10990, False),
    ("Cheese Gouda", "30020", "4600300000204", 79900, True),
    ("Coffee beans 1kg", "40001", "8000070012345", 159900, False),
    ("Tea black 100 bags", "40002", "4600400000020", 24990, False),
    ("Chocolate dark 90g", "40010", "4600400000105", 11990, False),
    ("Beer lager 0.5l", "50001", "4600500000011", 8990, False),
    ("Wine red dry 0.75l", "50002", "8410000000022", 69900, False),
    ("Vodka 0.5l", "50003", "4600500000035", 49900, False),
    ("Cognac 5y 0.5l", "50004", "4600500000042", 149900, False),
    ("Water still 1.5l", "60001", "4600600000016", 4990, False),
    ("Orange juice 1l", "60002", "4600600000023", 15990, False),
    ("Detergent 3kg", "70001", "4600700000015", 89900, False),
    ("Toothpaste", "70002", "4600700000022", 19990, False),
    ("Cigarettes", "80001", "4600800000014", 21000, False),
)
CASHIERS = ("Ivanov I", "Petrova A", "Sidorov K", "Smirnova O", "Kuznetsov D", "Popova E",
            "Vasiliev M", "Novikova T", "Morozov P", "Volkova S")
CARDS = tuple(f"7788{n:08d}" for n in range(1, 400))
_ALNUM = string.ascii_letters + string.digits
_WAIT = "__wait__"  # a pause in a terminal's script (receipt left open)
PATTERNS = ("delete", "cancel", "discount", "drawer", "keyed", "card", "refund",
            "price_change", "low_total", "long_open")


def terminal_guid(rng: random.Random) -> str:
    """An 8-alphanumeric GUID like the reference product's."""
    return "".join(rng.choice(_ALNUM) for _ in range(8))


@dataclass
class SimTerminal:
    guid: str
    name: str
    store: str
    cashier: str
    channel: str
    receipt_no: int = 0
    pending: list[tuple[str, dict[str, object]]] = field(default_factory=list)
    waits: dict[int, int] = field(default_factory=dict)


class ChainSimulator:
    """Receipts of a chain: stores x terminals, each terminal one receipt at a time.

    Args:
        stores: number of stores.
        terminals: terminals per store.
        seed: random seed (same seed, same traffic).
        fraud_rate: share of receipts that carry a suspicious pattern, one of `PATTERNS`:
            a delete without an admin, a cancel after positions, a large discount, a drawer
            opened outside a receipt, hand-keyed items, an overused discount card, a large
            refund (and a refund of an item just sold), a price change, a burst of near-zero
            receipts, and a receipt left open over 15 minutes (the terminal pauses).
            Restricted goods after 23:00 fire on their own at night store time.
    """

    def __init__(self, stores: int = 2, terminals: int = 4, seed: int = 1,
                 fraud_rate: float = 0.05):
        self.rng = random.Random(seed)
        self.fraud_rate = fraud_rate
        self.terminals: list[SimTerminal] = []
        for s in range(stores):
            for t in range(terminals):
                self.terminals.append(SimTerminal(
                    guid=terminal_guid(self.rng), name=f"Store {s + 1} till {t + 1}",
                    store=f"store-{s + 1}", cashier=self.rng.choice(CASHIERS),
                    channel=f"cam-{s + 1}-{t + 1}"))
        self._seq = 0
        self._signed_in: set[str] = set()

    def _script(self, term: SimTerminal) -> list[tuple[str, dict[str, object]]]:
        """The event types and fields of one receipt, in order."""
        rng = self.rng
        term.receipt_no += 1
        op = f"{term.receipt_no:07d}"
        out: list[tuple[str, dict[str, object]]] = []
        if term.guid not in self._signed_in:
            out.append(("POS_CASHIER_LOGIN", {"text": term.cashier}))
            self._signed_in.add(term.guid)
        fraud = rng.random() < self.fraud_rate
        pattern = rng.choice(PATTERNS) if fraud else ""
        if pattern == "refund":
            return out + self._refund(term, op)
        if pattern == "low_total":
            return out + self._low_totals(term, op)
        if pattern == "drawer":  # a no-sale: the drawer opened well after the last receipt
            return out + [(_WAIT, {"seconds": 15}), ("POS_DRAWER_OPEN", {})]
        out.append(("POS_RECEIPT_OPEN", {"op_id": op}))
        n = max(1, int(rng.expovariate(1 / 6)))
        if pattern == "keyed":  # a whole basket keyed by hand
            n = max(n, 24)
        total = 0
        prices: dict[int, int] = {}
        for pos in range(1, min(n, 40) + 1):
            name, article, barcode, price, weighed = rng.choice(CATALOGUE)
            keyed = pattern == "keyed" or rng.random() < 0.03
            fields: dict[str, object] = {
                "op_id": op, "position": pos, "text": name, "article": article,
                "barcode": "" if keyed else barcode, "price_per_unit": price,
            }
            if weighed:
                grams = rng.randint(150, 2500)
                line = price * grams // 1000
                fields.update(weight=grams, quantity=1, price=line)
            else:
                qty = 1 if rng.random() < 0.85 else rng.randint(2, 4)
                line = price * qty
                fields.update(quantity=qty, price=line)
            out.append(("POS_POSITION_ADD" if keyed else "POS_POSITION_ADD_BY_SCANNER", fields))
            prices[pos] = line
            total += line
        if pattern == "price_change":
            pos = rng.choice(list(prices))
            new = prices[pos] // 2
            out.append(("POS_POSITION_PRICE_CHANGE", {"op_id": op, "position": pos,
                                                      "price": new, "price_per_unit": new}))
            total -= prices[pos] - new
            prices[pos] = new
        if pattern == "long_open":
            out.append((_WAIT, {"seconds": 16 * 60}))
        if pattern == "delete" or rng.random() < 0.02:
            pos = rng.choice(list(prices))
            out.append(("POS_POSITION_DELETE", {"op_id": op, "position": pos,
                                                "price": prices[pos]}))
            total -= prices.pop(pos)
        card = pattern == "card" or rng.random() < 0.3
        if card:
            number = CARDS[0] if pattern == "card" else rng.choice(CARDS)
            out.append(("POS_DISCOUNT_CARD", {"op_id": op, "discount_card": number,
                                              "text": number}))
            pct = 0.35 if pattern == "discount" else 0.05
            disc = int(total * pct)
            out.append(("POS_DISCOUNT_RECEIPT", {"op_id": op, "discount": disc, "price": disc}))
            total -= disc
        elif pattern == "discount":
            disc = int(total * 0.4)
            out.append(("POS_DISCOUNT_RECEIPT", {"op_id": op, "discount": disc, "price": disc}))
            total -= disc
        if pattern == "cancel" or rng.random() < 0.01:
            out.append(("POS_RECEIPT_CANCEL", {"op_id": op, "price": total}))
        else:
            out.append(("POS_SUBTOTAL", {"op_id": op, "price": total}))
            if rng.random() < 0.6:
                paid = -(-total // 10000) * 10000
                out.append(("POS_PAYMENT_CASH", {"op_id": op, "price": paid}))
                out.append(("POS_DRAWER_OPEN", {"op_id": op}))
                if paid > total:
                    out.append(("POS_CHANGE", {"op_id": op, "price": paid - total}))
            else:
                out.append(("POS_PAYMENT_CARD", {"op_id": op, "price": total}))
            out.append(("POS_RECEIPT_CLOSE", {"op_id": op, "price": total}))
        return out

    def _refund(self, term: SimTerminal, op: str) -> list[tuple[str, dict[str, object]]]:
        """A return receipt of expensive goods (>= 1000.00), scanned."""
        name, article, barcode, price, _ = CATALOGUE[10]  # coffee beans 1599.00
        return [
            ("POS_RECEIPT_RETURN", {"op_id": op}),
            ("POS_POSITION_RETURN", {"op_id": op, "position": 1, "text": name,
                                     "article": article, "barcode": barcode, "quantity": 1,
                                     "price_per_unit": price, "price": price}),
            ("POS_PAYMENT_CASH", {"op_id": op, "price": price}),
            ("POS_RECEIPT_RETURN_CLOSE", {"op_id": op, "price": price}),
        ]

    def _low_totals(self, term: SimTerminal, op: str) -> list[tuple[str, dict[str, object]]]:
        """Three receipts in a row for 0.90 each (a bag sold to cover for a till skim), with
        consecutive numbers as a till gives them (printer layouts read numbers only)."""
        out: list[tuple[str, dict[str, object]]] = []
        for k in range(3):
            if k:
                term.receipt_no += 1
            num = op if not k else f"{term.receipt_no:07d}"
            out += [("POS_RECEIPT_OPEN", {"op_id": num}),
                    ("POS_POSITION_ADD_BY_SCANNER", {"op_id": num, "position": 1,
                                                     "text": "Plastic bag", "article": "99001",
                                                     "barcode": "4600990000017", "quantity": 1,
                                                     "price_per_unit": 90, "price": 90}),
                    ("POS_PAYMENT_CASH", {"op_id": num, "price": 90}),
                    ("POS_RECEIPT_CLOSE", {"op_id": num, "price": 90})]
        return out

    def next_event(self, now_us: int) -> PosEvent:
        """The next event of a random terminal, stamped at `now_us`."""
        term = self.rng.choice(self.terminals)
        for _ in range(len(self.terminals) * 2):
            if not term.pending:
                term.pending = self._script(term)
            if term.pending[0][0] != _WAIT:
                break
            wait = term.pending[0][1]
            until = term.waits.setdefault(id(term.pending[0]), now_us + int(
                wait["seconds"]) * 1_000_000)  # type: ignore[call-overload]
            if now_us >= until:
                term.pending.pop(0)
                term.waits.clear()
                if term.pending:
                    break
            term = self.rng.choice(self.terminals)  # this one is pausing: another speaks
        else:
            term = min(self.terminals, key=lambda t: len(t.pending))
        if not term.pending or term.pending[0][0] == _WAIT:
            term.pending = [p for p in term.pending if p[0] != _WAIT] or self._script(term)
            term.pending = [p for p in term.pending if p[0] != _WAIT]
        etype, fields = term.pending.pop(0)
        self._seq += 1
        return PosEvent(
            type=etype, pos_terminal=term.guid, pos_terminal_name=term.name, store=term.store,
            associated_channel=term.channel, location=term.name, cashier_name=term.cashier,
            ts_in_receipt=now_us, ts_received=now_us,
            event_id=f"sim-{term.guid}-{self._seq}", **fields)  # type: ignore[arg-type]

    def events(self, n: int, start_us: int, step_us: int = 1000) -> Iterator[PosEvent]:
        """`n` events stamped from `start_us`, `step_us` apart (for tests and benchmarks)."""
        for i in range(n):
            yield self.next_event(start_us + i * step_us)


def run_simulation(publish: Callable[[PosEvent], None], sim: ChainSimulator, rate: float,
                   duration: float, clock: Callable[[], float] = time.time,
                   sleep: Callable[[float], None] = time.sleep,
                   should_stop: Callable[[], bool] = lambda: False) -> int:
    """Publish `rate` events per second for `duration` seconds (0 = until stopped).

    Returns:
        The number of events published.
    """
    start = clock()
    sent = 0
    while not should_stop():
        now = clock()
        if duration and now - start >= duration:
            break
        due = int((now - start) * rate) + 1
        while sent < due:
            publish(sim.next_event(int(clock() * 1_000_000)))
            sent += 1
        sleep(min(0.05, 1.0 / max(rate, 1.0)))
    return sent
