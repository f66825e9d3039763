"""Worker memory: RSS with 100,000 open receipts, and RSS over 10 million processed events.

Every figure is measured in a child process (`python -m bench.bench_memory --child ...`), so
it is a worker's memory, not the benchmark runner's; RSS is VmRSS from /proc/self/status.
The children run the per-event core of the worker's agents (posguard/streams/steps.py)
without Kafka: `assemble` into the receipt table and `DetectorEngine.step` for the terminal
scope (keyed by terminal GUID), and `ordered_step` for the cashier and card scopes (keyed by
cashier / card, events held `DEFAULT_LATENESS_US` of reception time and released in archive
order, quiet keys released per batch as the agents' `waiting` map does), default detector
configuration, states in dicts keyed by bytes like the Faust tables.

(a) open receipts: `terminals` terminals (default 100,000), each with its own cashier signed
    in, an open receipt with three positions left after a delete, and a discount card read,
    terminals 20 ms apart: one receipt-table state and one state per scope per terminal.
    Measured twice: states kept decoded (the pure core, as an archive run keeps them) and
    as the worker's tables hold them between batches (msgpack bytes of a `KeyedValue`; the
    agents decode only the keys of the batch in progress).
(b) steady state: `events` simulated events (default 10,000,000; ChainSimulator, 1,000
    terminals, an event every 50 ms across the chain, ~6 days) through the same loop, RSS
    and the encoded size of every state sampled every tenth; the figure is the growth from
    the second sample to the last.

Baseline: a child that imports the same modules and does nothing.

Sizes: POSGUARD_BENCH_MEMORY_TERMINALS, POSGUARD_BENCH_MEMORY_EVENTS.

    python -m bench.bench_memory [terminals events]
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import msgspec

from bench.table import print_table, row
from posguard.detectors.config import default_config
from posguard.detectors.engine import DetectorEngine, ScopeState, encode_state
from posguard.detectors.ordered_scope import (
    DEFAULT_LATENESS_US,
    OrderedScopeState,
    encode_ordered,
    next_release_us,
    ordered_step,
)
from posguard.ingest.simulator import ChainSimulator
from posguard.model.events import PosEvent
from posguard.model.receipts import TerminalState, assemble
from posguard.streams.table_values import KeyedValue, pack

__all__ = ["run", "main", "rss_bytes", "open_receipt_events", "Worker", "child", "spawn"]

T0 = 1_796_000_000_000_000
ROOT = Path(__file__).resolve().parent.parent
BATCH = 5000  # events per agent batch (streams/pipeline.py BATCH_MAX)
CROSS = ("cashier", "card")
_SEC = 1_000_000
_enc = msgspec.msgpack.Encoder()


def rss_bytes(status: str | None = None) -> int:
    """This process's resident set size (VmRSS of /proc/self/status), in bytes.

    Example:
        >>> rss_bytes("Name:\\tpython\\nVmRSS:\\t  12345 kB\\nThreads:\\t1\\n")
        12641280
    """
    if status is None:
        status = Path("/proc/self/status").read_text()
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS line in /proc/self/status")


def open_receipt_events(i: int, t0: int = T0) -> list[PosEvent]:
    """Terminal `i`'s events up to an open receipt, from `t0` + 20 ms x i: sign-in, open, a
    card, four positions and a delete (three positions stay); its own cashier and card."""
    guid, op = f"T{i:07d}", f"{i % 9_000_000 + 1:07d}"
    start = t0 + i * 20_000
    common: dict[str, Any] = {"pos_terminal": guid, "pos_terminal_name": f"Till {i}",
                              "store": f"store-{i // 10}", "cashier_name": f"Cashier {i:06d}"}
    evs: list[tuple[str, dict[str, Any]]] = [
        ("POS_CASHIER_LOGIN", {"text": common["cashier_name"]}),
        ("POS_RECEIPT_OPEN", {"op_id": op}),
        ("POS_DISCOUNT_CARD", {"op_id": op, "discount_card": f"7788{i:08d}"}),
    ]
    for p in range(1, 5):
        evs.append(("POS_POSITION_ADD_BY_SCANNER", {
            "op_id": op, "position": p, "text": f"Product {p * 37 % 500}",
            "article": f"{10000 + p}", "barcode": f"46000000{p:05d}", "quantity": 1,
            "price_per_unit": 9990 * p, "price": 9990 * p}))
    evs.append(("POS_POSITION_DELETE", {"op_id": op, "position": 2, "price": 19980}))
    return [PosEvent(type=t, ts_in_receipt=start + k * 1000, ts_received=start + k * 1000 + 500,
                     event_id=f"e{i}-{k}", **common, **kw)
            for k, (t, kw) in enumerate(evs)]


class Worker:
    """The per-event core of a posguard worker, tables as dicts keyed by bytes.

    `receipts`: the receipt-assembly table (terminal -> TerminalState); `terminal`: the
    terminal-scope detector table (terminal -> ScopeState); `cross[scope]`: the cashier and
    card tables (key -> OrderedScopeState). `waiting[scope]`: keys holding events -> when
    they are due, released at the end of each batch once the newest reception time seen
    passes it (the agents' `waiting` map).
    """

    def __init__(self, engine: DetectorEngine | None = None,
                 lateness_us: int = DEFAULT_LATENESS_US) -> None:
        self.engine = engine or DetectorEngine.from_config(default_config())
        self.lateness_us = lateness_us
        self.step = self.engine.step_function("terminal")
        self.keys_of = {s: self.engine.key_function(s) for s in CROSS}
        self.receipts: dict[bytes, TerminalState] = {}
        self.terminal: dict[bytes, ScopeState] = {}
        self.cross: dict[str, dict[bytes, OrderedScopeState]] = {s: {} for s in CROSS}
        self.waiting: dict[str, dict[bytes, int]] = {s: {} for s in CROSS}
        self.newest = 0
        self.events = 0
        self.incidents = 0
        self.finished = 0

    def process(self, events: Iterable[PosEvent]) -> None:
        """Fold events in, in batches of BATCH."""
        batch: list[PosEvent] = []
        for ev in events:
            batch.append(ev)
            if len(batch) == BATCH:
                self._batch(batch)
                batch = []
        if batch:
            self._batch(batch)

    def _batch(self, events: list[PosEvent]) -> None:
        engine, receipts, terminal, step = self.engine, self.receipts, self.terminal, self.step
        lateness, newest = self.lateness_us, self.newest
        n_inc = n_done = 0
        arrivals: dict[str, dict[bytes, list[PosEvent]]] = {s: {} for s in CROSS}
        for ev in events:
            tk = ev.pos_terminal.encode()
            rs = receipts.get(tk)
            rs, done = assemble(rs if rs is not None else TerminalState(), ev)
            receipts[tk] = rs
            n_done += len(done)
            st = terminal.get(tk)
            st, incs = step(st if st is not None else engine.initial("terminal"), ev)
            terminal[tk] = st
            n_inc += len(incs)
            for scope in CROSS:
                k = self.keys_of[scope](ev)
                if k is not None:
                    arrivals[scope].setdefault(k.encode(), []).append(ev)
            if ev.ts_received > newest:
                newest = ev.ts_received
        for scope in CROSS:
            table, waiting = self.cross[scope], self.waiting[scope]
            mine = arrivals[scope]
            for kb, due in waiting.items():  # quiet keys whose time has come
                if due <= newest and kb not in mine:
                    mine[kb] = []
            for kb, evs in mine.items():
                cs, incs = ordered_step(engine, scope, table.get(kb), evs,  # type: ignore[arg-type]
                                        lateness_us=lateness, now_us=newest)
                table[kb] = cs
                n_inc += len(incs)
                due_at = next_release_us(cs, lateness_us=lateness)
                if due_at is None:
                    waiting.pop(kb, None)
                else:
                    waiting[kb] = due_at
        self.newest = newest
        self.events += len(events)
        self.incidents += n_inc
        self.finished += n_done

    def keys(self) -> dict[str, int]:
        """Keys per table."""
        return {"receipts": len(self.receipts), "terminal": len(self.terminal),
                **{s: len(t) for s, t in self.cross.items()}}

    def held(self) -> int:
        """Events held in cross-terminal states, waiting for their release."""
        return sum(len(st.pending) for t in self.cross.values() for st in t.values())

    def _encoded(self) -> Iterator[tuple[str, list[bytes], list[bytes]]]:
        """Per table: the encoded states and the table values (packed KeyedValue)."""
        off = self.events
        rs = [_enc.encode(s) for s in self.receipts.values()]
        yield "receipts", rs, [pack(KeyedValue(offset=off, state=b)) for b in rs]
        ts = [encode_state(s) for s in self.terminal.values()]
        yield "terminal", ts, [pack(KeyedValue(offset=off, state=b)) for b in ts]
        for scope, table in self.cross.items():
            cs = [encode_ordered(s) for s in table.values()]
            # a repartitioned key's value also records the pos.events offset it has applied
            # per source partition: one partition here
            yield scope, cs, [pack(KeyedValue(offset=-1, state=b, applied={0: off}))
                              for b in cs]

    def encoded_sizes(self) -> dict[str, dict[str, float]]:
        """Per table: mean and largest bytes per key of the encoded state (msgpack, as the
        agents encode it) and of the whole table value (`pack(KeyedValue)`)."""
        out = {}
        for name, states, values in self._encoded():
            n = max(len(states), 1)
            out[name] = {"state_mean": sum(map(len, states)) / n,
                         "state_max": max(map(len, states), default=0),
                         "value_mean": sum(map(len, values)) / n,
                         "value_max": max(map(len, values), default=0)}
        return out

    def encoded_total(self) -> int:
        """Bytes of every state encoded, all tables."""
        return sum(sum(map(len, states)) for _, states, _ in self._encoded())

    def table_bytes(self) -> dict[str, dict[bytes, bytes]]:
        """The tables as a Faust memory store holds them: key bytes -> packed KeyedValue."""
        keys = {"receipts": list(self.receipts), "terminal": list(self.terminal),
                **{s: list(t) for s, t in self.cross.items()}}
        return {name: dict(zip(keys[name], values, strict=True))
                for name, _, values in self._encoded()}

    def clear(self) -> None:
        """Drop every decoded state (the agents keep none between batches)."""
        self.receipts.clear()
        self.terminal.clear()
        for table in self.cross.values():
            table.clear()
        for waiting in self.waiting.values():
            waiting.clear()


def _open_receipt_stream(lo: int, hi: int) -> Iterator[PosEvent]:
    for i in range(lo, hi):
        yield from open_receipt_events(i)


def _rss_now() -> int:
    gc.collect()
    return rss_bytes()


def _take(it: Iterator[PosEvent], k: int) -> Iterator[PosEvent]:
    for _ in range(k):
        yield next(it)


def child(mode: str, n: int) -> dict[str, Any]:
    """What one child process measures (it prints this as JSON).

    Modes: "idle" (imports only), "open" (n open receipts, states decoded), "open_tables"
    (n open receipts, table bytes only), "stream" (n simulated events, sampled).
    """
    if mode == "idle":
        return {"rss": _rss_now()}
    if mode == "open":
        w = Worker()
        w.process(_open_receipt_stream(0, n))
        open_receipts = sum(1 for s in w.receipts.values() if s.receipt is not None)
        return {"rss": _rss_now(), "keys": w.keys(), "open_receipts": open_receipts,
                "held": w.held(), "incidents": w.incidents, "sizes": w.encoded_sizes()}
    if mode == "open_tables":
        # One batch at a time, encoded as it goes and decoded states dropped, as the agents
        # do: the decoded states never all exist at once.
        tables: dict[str, dict[bytes, bytes]] = {}
        w = Worker()
        for lo in range(0, n, 1000):
            w.process(_open_receipt_stream(lo, min(n, lo + 1000)))
            for name, t in w.table_bytes().items():
                tables.setdefault(name, {}).update(t)
            keep_waiting = {s: {k: w.cross[s][k] for k in w.waiting[s]} for s in CROSS}
            w.clear()
            for s in CROSS:  # a waiting key stays decoded until released (small)
                w.cross[s].update(keep_waiting[s])
                w.waiting[s].update({k: next_release_us(v, lateness_us=w.lateness_us) or 0
                                     for k, v in keep_waiting[s].items()})
        return {"rss": _rss_now(), "keys": {name: len(t) for name, t in tables.items()},
                "table_bytes": {name: sum(map(len, t.values())) for name, t in tables.items()}}
    if mode == "stream":
        w = Worker()
        sim = ChainSimulator(stores=100, terminals=10, seed=1)
        events = sim.events(n, T0, 50_000)
        step = max(1, n // 10)
        samples = [{"events": 0, "rss": _rss_now(), "seconds": 0.0, "keys": w.keys(),
                    "state_bytes": 0, "held": 0}]
        busy = 0.0
        while w.events < n:
            t = time.perf_counter()
            w.process(_take(events, min(step, n - w.events)))
            busy += time.perf_counter() - t
            samples.append({"events": w.events, "rss": _rss_now(), "seconds": busy,
                            "keys": w.keys(), "state_bytes": w.encoded_total(),
                            "held": w.held()})
        return {"samples": samples, "incidents": w.incidents, "receipts": w.finished,
                "sizes": w.encoded_sizes()}
    raise ValueError(f"unknown child mode {mode!r}")


def spawn(mode: str, n: int = 0, timeout: float = 1800) -> dict[str, Any]:
    """Run `child(mode, n)` in a fresh interpreter; its result."""
    proc = subprocess.run(
        [sys.executable, "-m", "bench.bench_memory", "--child", mode, str(n)], cwd=ROOT,
        capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"memory child {mode} failed ({proc.returncode}):\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run(terminals: int | None = None, events: int | None = None) -> list[dict[str, Any]]:
    """Measure (a) and (b) in child processes.

    Returns:
        Rows (bench.table.row): RSS in MB against the idle child's; bytes per key.
    """
    from bench.common import size

    n_term = terminals or size("memory_terminals", 100_000)
    n_ev = events or size("memory_events", 10_000_000)
    mb = 1024 * 1024
    idle = spawn("idle")["rss"]
    out = []
    sizes: dict[str, dict[str, float]] = {}
    for mode, what in (("open", "states decoded (pure core, archive run)"),
                       ("open_tables", "as the worker's tables hold them (msgpack)")):
        a = spawn(mode, n_term)
        sizes = a.get("sizes", sizes)
        payload = sum(a.get("table_bytes", {}).values())
        out.append(row(f"worker RSS, {n_term:,} open receipts, {what}", a["rss"] / mb, "MB",
                       idle / mb, "idle child, same imports", higher_is_better=False,
                       keys=a["keys"], open_receipts=a.get("open_receipts"),
                       held_events=a.get("held"), table_bytes=a.get("table_bytes")))
        extra = {"table_payload_per_terminal": round(payload / n_term, 1)} if payload else {}
        out.append(row("  per terminal above idle (receipt + terminal, cashier, card states)",
                       (a["rss"] - idle) / n_term, "bytes", **extra))
    for table, s in sizes.items():
        out.append(row(f"  open receipts: encoded {table} state per key, mean "
                       f"(max {s['state_max']:,})", s["state_mean"], "bytes",
                       max=s["state_max"], table_value_mean=round(s["value_mean"], 1)))
    b = spawn("stream", n_ev)
    samples = b["samples"]
    first = next((s for s in samples if s["events"] >= n_ev // 5), samples[-1])
    last = samples[-1]
    out.append(row(f"worker RSS after {last['events']:,} events (1,000 terminals)",
                   last["rss"] / mb, "MB", idle / mb, "idle child, same imports",
                   higher_is_better=False, keys=last["keys"], incidents=b["incidents"],
                   receipts=b["receipts"], ev_per_s=round(last["events"] / last["seconds"]),
                   rss_mb_by_events={s["events"]: round(s["rss"] / mb, 1) for s in samples}))
    out.append(row(f"  RSS growth {first['events']:,} -> {last['events']:,} events",
                   (last["rss"] - first["rss"]) / mb, "MB", target="~0 (no growth with events)",
                   higher_is_better=False, keys_first=first["keys"], keys_last=last["keys"]))
    out.append(row(f"  encoded state, all keys, growth {first['events']:,} -> "
                   f"{last['events']:,} events", last["state_bytes"] - first["state_bytes"],
                   "bytes", higher_is_better=False,
                   state_bytes_by_events={s["events"]: s["state_bytes"] for s in samples},
                   held_by_events={s["events"]: s["held"] for s in samples}))
    for table, s in b["sizes"].items():
        out.append(row(f"  steady state: encoded {table} state per key, mean "
                       f"(max {s['state_max']:,})", s["state_mean"], "bytes", max=s["state_max"],
                       table_value_mean=round(s["value_mean"], 1),
                       table_value_max=s["value_max"]))
    return out


def main(argv: list[str] | None = None) -> None:
    """Print the figures as a table (or, with --child MODE N, be a child)."""
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] == "--child":
        print(json.dumps(child(args[1], int(args[2]) if len(args) > 2 else 0)))
        return
    print_table(run(*[int(a) for a in args]))


if __name__ == "__main__":
    main()
