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

__all__ = ["ChainSimulator", "SimTerminal", "CATALOGUE", "run_simulation", "terminal_guid"]

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


class ChainSimulator:
    """Receipts of a chain: stores x terminals, each terminal one receipt at a time.

    Args:
        stores: number of stores.
        terminals: terminals per store.
        seed: random seed (same seed, same traffic).
        fraud_rate: share of receipts that carry a suspicious pattern (deletes, cancels,
            big discounts, drawer opens, hand-keyed items).
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
        pattern = rng.choice(("delete", "cancel", "discount", "drawer", "keyed", "card")) \
            if fraud else ""
        out.append(("POS_RECEIPT_OPEN", {"op_id": op}))
        n = max(1, int(rng.expovariate(1 / 6)))
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
        if pattern == "drawer":
            out.append(("POS_DRAWER_OPEN", {}))
        return out

    def next_event(self, now_us: int) -> PosEvent:
        """The next event of a random terminal, stamped at `now_us`."""
        term = self.rng.choice(self.terminals)
        if not term.pending:
            term.pending = self._script(term)
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
