"""Detector core throughput: all standard detectors vs a pass-through loop, same run.

Simulates realistic receipts (fixed seed): 40 terminals in 10 stores across 4 timezones,
80 cashiers, 5,000 discount cards; receipts of 1-15 positions, mostly scanned, with the
occasional delete, discount, card, cancel, return, price change, drawer open, alcohol, and
admin sign-in; 2,000 articles, a few of which make most sales. Events of all terminals are interleaved in time order, as on pos.events.

    python -m bench.bench_detectors [n_events]

Figures are events per CPU second of this one-threaded process (`time.process_time`, so other
processes on the machine disturb them less than wall time would); the fastest of a few runs
counts. The baseline runs the same loop (key per scope, state lookup, step, state store) with
a step that returns the state as is.
"""

from __future__ import annotations

import heapq
import random
import sys
import time
from collections.abc import Callable
from typing import Any

import msgspec

from posguard.detectors.config import default_config
from posguard.detectors.engine import DetectorEngine, decode_state, encode_state, run_archive
from posguard.detectors.localtime import Zones
from posguard.detectors.ordered_scope import (
    DEFAULT_LATENESS_US,
    OrderedScopeState,
    decode_ordered,
    encode_ordered,
    next_release_us,
    ordered_flush,
    ordered_step,
)
from posguard.model.events import PosEvent

__all__ = ["run", "simulate", "main"]

TARGET = 200_000
_SEC = 1_000_000
_ZONES = ["Europe/Moscow", "Asia/Yekaterinburg", "Asia/Novosibirsk", "Europe/Kaliningrad"]
_GOODS = [
    ("Milk 3.2% 1l", 89_90), ("Bread white", 45_00), ("Cheese Rossiyskiy 200g", 219_00),
    ("Apples 1kg", 129_00), ("Coffee Jacobs 95g", 399_00), ("Tea Greenfield 25", 149_00),
    ("Sugar 1kg", 79_00), ("Eggs C1 10", 119_00), ("Butter 82% 180g", 189_00),
    ("Chicken breast 1kg", 459_00), ("Beer Zhigulevskoe 0.5", 89_90),
    ("Wine Cabernet 0.75", 649_00), ("Vodka Beluga 0.5", 1_499_00), ("Chocolate 90g", 99_00),
    ("Water 1.5l", 49_00), ("Pasta 450g", 89_00), ("Rice 900g", 119_00),
    ("Shampoo 400ml", 299_00), ("Batteries AA 4", 349_00), ("Headphones", 2_990_00),
]  # x100 variants each: 2,000 articles


def _terminal_events(rng: random.Random, t: int, start: int, n_target: int) -> list[PosEvent]:
    """One terminal's events in order: receipts back to back, a few outside receipts."""
    term = f"T{t:07d}"
    store = f"S{t % 10:02d}"
    cashiers = [f"Cashier {t * 2}", f"Cashier {t * 2 + 1}"]
    out: list[PosEvent] = []
    now = start + rng.randrange(0, 600) * _SEC
    op = 0

    def ev(type: str, **kw: Any) -> None:
        nonlocal now
        out.append(PosEvent(type=type, pos_terminal=term, pos_terminal_name=f"Till {t}",
                            store=store, ts_in_receipt=now, ts_received=now + 120_000,
                            event_id=f"{term}-{len(out)}", **kw))
        now += rng.randrange(1, 8) * _SEC

    cashier = cashiers[0]
    ev("POS_SHIFT_START", cashier_name=cashier)
    ev("POS_CASHIER_LOGIN", cashier_name=cashier)
    while len(out) < n_target:
        op += 1
        if rng.random() < 0.01:
            cashier = cashiers[op % 2]
            ev("POS_CASHIER_LOGIN", cashier_name=cashier)
        if rng.random() < 0.01:
            ev("POS_DRAWER_OPEN", cashier_name=cashier)
        opid = str(op)
        common = {"op_id": opid, "cashier_name": cashier}
        is_return = rng.random() < 0.02
        ev("POS_RECEIPT_RETURN" if is_return else "POS_RECEIPT_OPEN", **common)
        if rng.random() < 0.02:
            ev("POS_ADMIN_LOGIN", text="Admin", **common)
        if rng.random() < 0.3:
            ev("POS_DISCOUNT_CARD", discount_card=f"CARD{rng.randrange(5000):05d}", **common)
        positions: dict[int, int] = {}
        for p in range(1, rng.randrange(1, 16) + 1):
            g = int(len(_GOODS) * 100 * rng.random() ** 3)  # a few articles sell most
            name, price = _GOODS[g % len(_GOODS)]
            text, price = f"{name} #{g // len(_GOODS)}", price + g // len(_GOODS) * 10
            if rng.random() < 0.005:
                price = price * 6 // 10
            qty = 1 if rng.random() < 0.9 else rng.randrange(2, 5)
            positions[p] = price * qty
            ev("POS_POSITION_ADD_BY_SCANNER" if rng.random() < 0.85 else "POS_POSITION_ADD",
               position=p, text=text, price=price * qty, price_per_unit=price, quantity=qty,
               article=f"A{g:05d}", barcode=f"46{g * 7919 % 10**11:011d}",
               **common)
            if rng.random() < 0.015:
                if rng.random() < 0.7:
                    ev("POS_ADMIN_LOGIN", text="Admin", **common)
                ev("POS_POSITION_DELETE", position=p, price=positions.pop(p), **common)
                ev("POS_ADMIN_LOGOUT", **common)
            elif rng.random() < 0.03:
                pct = rng.randrange(5, 25) if rng.random() < 0.95 else 40
                ev("POS_DISCOUNT_POSITION", position=p, discount=price * pct // 100, **common)
            elif rng.random() < 0.005:
                ev("POS_POSITION_PRICE_CHANGE", position=p, price_per_unit=price // 2,
                   price=price // 2, **common)
        total = sum(positions.values())
        if rng.random() < 0.03:
            ev("POS_DISCOUNT_RECEIPT", discount=total // 10, **common)
        if rng.random() < 0.01:
            ev("POS_RECEIPT_CANCEL", **common)
        else:
            ev("POS_SUBTOTAL", price=total, **common)
            ev("POS_PAYMENT_CARD" if rng.random() < 0.6 else "POS_PAYMENT_CASH", price=total,
               **common)
            ev("POS_RECEIPT_RETURN_CLOSE" if is_return else "POS_RECEIPT_CLOSE", price=total,
               **common)
        now += rng.randrange(5, 120) * _SEC
    return out


def simulate(n_events: int, *, seed: int = 4, terminals: int = 40) -> tuple[list[PosEvent],
                                                                            Zones]:
    """Realistic receipts of `terminals` terminals, interleaved in time order.

    Returns:
        The events (about n_events) and the terminals' timezones.
    """
    rng = random.Random(seed)
    # 07:00 UTC: a working day in every zone, ending in the evening with some late sales.
    start = (1_800_000_000 // 86_400 * 86_400 + 7 * 3600) * _SEC
    per = [_terminal_events(rng, t, start, n_events // terminals) for t in range(terminals)]
    zones = Zones(terminals={f"T{t:07d}": _ZONES[t % len(_ZONES)] for t in range(terminals)})
    merged = list(heapq.merge(*per, key=lambda e: (e.ts_in_receipt, e.pos_terminal)))[:n_events]
    # Decode the events afresh in stream order, as a worker decodes each record as it comes:
    # built per terminal, then interleaved, they would lie scattered in memory, and every
    # field read would be a cache miss that no live worker pays.
    enc, dec = msgspec.msgpack.Encoder(), msgspec.msgpack.Decoder(PosEvent)
    return [dec.decode(enc.encode(e)) for e in merged], zones


class _PassThrough:
    """The baseline: the engine's loop shape with a step that does nothing."""

    def __init__(self, scopes: tuple[str, ...]) -> None:
        self._scopes = scopes

    def scopes(self) -> tuple[str, ...]:
        return self._scopes

    def key_function(self, scope: str) -> Callable[[PosEvent], str | None]:
        return _terminal_of

    def step_function(self, scope: str) -> Callable[[Any, PosEvent], tuple[Any, list[Any]]]:
        return _pass

    def initial(self, scope: str) -> Any:
        return 0


def _terminal_of(ev: PosEvent) -> str | None:
    return ev.pos_terminal


def _pass(state: Any, ev: PosEvent) -> tuple[Any, list[Any]]:
    return state, []


def _loop(engine: Any, events: list[PosEvent], *, encode: bool = False,
          decode: bool = True) -> tuple[float, int]:
    """The live shape: per event, each scope's key, state lookup, step, state store.

    Uses `key_function`/`step_function` (the per-scope callables an agent binds once).
    With `encode`, each step's state is also encoded to bytes (what a table write costs),
    and, with `decode` too, decoded again before the next step of its key.
    """
    lanes = [(s, engine.key_function(s), engine.step_function(s), {}) for s in engine.scopes()]
    written: dict[str, bytes] = {}
    n_inc = 0
    t0 = time.process_time()
    for ev in events:
        for scope, key, step, table in lanes:
            k = key(ev)
            if k is None:
                continue
            st = table.get(k)
            if st is None:
                st = engine.initial(scope)
            elif encode and decode:
                st = decode_state(st)
            st, incs = step(st, ev)
            if encode and decode:
                table[k] = encode_state(st)
            else:
                table[k] = st
                if encode:
                    written[k] = encode_state(st)
            n_inc += len(incs)
    return time.process_time() - t0, n_inc


def _cross_streams(engine: DetectorEngine, events: list[PosEvent], seed: int = 5
                   ) -> dict[str, list[PosEvent]]:
    """What each cross-terminal repartition stream carries, in arrival order: every terminal
    lags by its own amount, up to 1.5 s (under the 2 s lateness), each keeping its order."""
    rng = random.Random(seed)
    lag = {t: rng.randrange(0, 1_500_000) for t in {e.pos_terminal for e in events}}
    arrived = sorted(events, key=lambda e: e.ts_received + lag[e.pos_terminal])
    return {s: [e for e in arrived if engine.key(s, e) is not None]
            for s in engine.scopes() if s != "terminal"}


def _cross_loop(engine: DetectorEngine, streams: dict[str, list[PosEvent]], *, ordered: bool,
                encode: bool, batch: int) -> tuple[float, int]:
    """The cashier/card agents' shape: per batch, group by key; per key, read the state,
    fold the key's events (plain `step` in arrival order, or `ordered_step` with the
    stream's newest reception time as now_us, also ticking the keys whose held events that
    time releases: `next_release_us`), write it back."""
    n_inc = 0
    t0 = time.process_time()
    for scope, evs in streams.items():
        key = engine.key_function(scope)  # type: ignore[arg-type]
        step = engine.step_function(scope)  # type: ignore[arg-type]
        table: dict[str, Any] = {}
        holding: dict[str, int] = {}  # key -> when a tick would release something
        newest = 0
        for i in range(0, len(evs), batch):
            by_key: dict[str, list[PosEvent]] = {}
            for ev in evs[i:i + batch]:
                by_key.setdefault(key(ev), []).append(ev)  # type: ignore[arg-type]
                newest = max(newest, ev.ts_received)
            if not ordered:
                for k, kevs in by_key.items():
                    st = table.get(k)
                    if st is None:
                        st = engine.initial(scope)  # type: ignore[arg-type]
                    elif encode:
                        st = decode_state(st)
                    for ev in kevs:
                        st, incs = step(st, ev)
                        n_inc += len(incs)
                    table[k] = encode_state(st) if encode else st
                continue
            due = [h for h, t in holding.items() if t <= newest and h not in by_key]
            for k in [*by_key, *due]:
                raw = table.get(k)
                ost: OrderedScopeState | None = decode_ordered(raw) if encode and raw else raw
                ost, incs = ordered_step(engine, scope, ost,  # type: ignore[arg-type]
                                         by_key.get(k, ()), lateness_us=DEFAULT_LATENESS_US,
                                         now_us=newest)
                n_inc += len(incs)
                table[k] = encode_ordered(ost) if encode else ost
                when = next_release_us(ost, lateness_us=DEFAULT_LATENESS_US)
                if when is None:
                    holding.pop(k, None)
                else:
                    holding[k] = when
        for k in holding:
            raw = table[k]
            ost = decode_ordered(raw) if encode else raw
            ost, incs = ordered_flush(engine, scope, ost)  # type: ignore[arg-type]
            n_inc += len(incs)
    return time.process_time() - t0, n_inc


def _state_sizes(engine: DetectorEngine, events: list[PosEvent]) -> dict[str, tuple[int, int]]:
    """Mean and largest encoded state per scope after all events."""
    out = {}
    for scope in engine.scopes():
        key, step = engine.key_function(scope), engine.step_function(scope)
        states: dict[str, Any] = {}
        for ev in events:
            k = key(ev)
            if k is not None:
                st = states.get(k) or engine.initial(scope)
                states[k] = step(st, ev)[0]
        sizes = [len(encode_state(st)) for st in states.values()]
        out[scope] = (sum(sizes) // max(len(sizes), 1), max(sizes, default=0))
    return out


def _best(fn: Callable[[], tuple[float, int]], repeat: int) -> tuple[float, int]:
    runs = [fn() for _ in range(repeat)]
    return min(r[0] for r in runs), runs[0][1]


def run(n_events: int = 200_000, *, repeat: int = 3) -> list[dict[str, Any]]:
    """Measure the detector core; one row per figure.

    Args:
        n_events: simulated events per run.
        repeat: runs per figure; the fastest counts (least disturbed by other processes).

    Returns:
        Rows {"figure", "value", "unit", "baseline", "ratio", "target"}: value and baseline in
        events/s, ratio = value / baseline, target the issue's goal where there is one.
    """
    events, zones = simulate(n_events)
    n = len(events)
    full = DetectorEngine.from_config(default_config(), zones=zones)
    cfg = default_config()
    terminal_only = DetectorEngine(
        [d for d in DetectorEngine.from_config(cfg, zones=zones).detectors
         if d.scope == "terminal"]
    )
    base_t, _ = _best(lambda: _loop(_PassThrough(full.scopes()), events), repeat)
    base1_t, _ = _best(lambda: _loop(_PassThrough(("terminal",)), events), repeat)
    full_t, n_inc = _best(lambda: _loop(full, events), repeat)
    term_t, _ = _best(lambda: _loop(terminal_only, events), repeat)
    enc_t, _ = _best(lambda: _loop(full, events, encode=True), 1)
    enc1_t, _ = _best(lambda: _loop(full, events, encode=True, decode=False), 1)

    def _archive() -> tuple[float, int]:
        t0 = time.process_time()
        incs = run_archive(full, events)
        return time.process_time() - t0, len(incs)

    arch_t, arch_inc = _best(_archive, repeat)
    sizes = _state_sizes(full, events)
    streams = _cross_streams(full, events)
    n_cross = sum(len(v) for v in streams.values())
    cross: dict[tuple[bool, bool, int], float] = {}
    for ordered in (False, True):
        for encode, batch in ((False, 500), (True, 500), (True, 1)):
            cross[(ordered, encode, batch)], _ = _best(
                lambda o=ordered, e=encode, b=batch: _cross_loop(  # type: ignore[misc]
                    full, streams, ordered=o, encode=e, batch=b), repeat)
    rows = [
        ("engine, all 13 detectors, 3 scopes (key+step per scope)", full_t, base_t, TARGET),
        ("engine, terminal scope only (11 detectors + receipt context)", term_t, base1_t,
         None),
        ("engine, all scopes, state encoded/decoded (msgpack) every step", enc_t, base_t,
         None),
        ("engine, all scopes, state kept decoded, encoded every step", enc1_t, base_t, None),
        ("run_archive, all detectors (incl. ordering and sorting)", arch_t, base_t, None),
    ]
    out = []
    for figure, t, b, target in rows:
        v, bv = n / t, n / b
        out.append({"figure": figure, "value": round(v), "unit": "ev/s",
                    "baseline": round(bv), "ratio": round(v / bv, 3), "target": target})
    for (encode, batch), what in (((False, 500), "batch 500, states decoded"),
                                  ((True, 500), "batch 500, state bytes per key"),
                                  ((True, 1), "batch 1, state bytes per event")):
        v, bv = n_cross / cross[(True, encode, batch)], n_cross / cross[(False, encode, batch)]
        out.append({"figure": f"cashier+card: ordered_step vs step, {what}", "value": round(v),
                    "unit": "ev/s", "baseline": round(bv), "ratio": round(v / bv, 3),
                    "target": None})
    out.append({"figure": "events forwarded to the cashier+card streams", "value": n_cross,
                "unit": "events", "baseline": None, "ratio": None, "target": None})
    out.append({"figure": "incidents raised (live loop / archive)", "value": n_inc,
                "unit": "incidents", "baseline": arch_inc, "ratio": None, "target": None})
    for scope, (mean, biggest) in sizes.items():
        out.append({"figure": f"encoded {scope} state at the end, mean (baseline: largest)",
                    "value": mean, "unit": "bytes", "baseline": biggest, "ratio": None,
                    "target": None})
    out.append({"figure": "events simulated", "value": n, "unit": "events", "baseline": None,
                "ratio": None, "target": None})
    return out


def main(argv: list[str] | None = None) -> None:
    """Print the figures as a table."""
    args = sys.argv[1:] if argv is None else argv
    n = int(args[0]) if args else 200_000
    rows = run(n)
    print(f"{'figure':<66} {'value':>10} {'unit':<9} {'baseline':>10} {'ratio':>7} "
          f"{'target':>8}")
    for r in rows:
        print(f"{r['figure']:<66} {r['value']:>10} {r['unit']:<9} {r['baseline'] or '':>10} "
              f"{r['ratio'] if r['ratio'] is not None else '':>7} {r['target'] or '':>8}")


if __name__ == "__main__":
    main()
