"""Report build time over a million events: violations and cashier activity.

1,000,000 simulated events (20 stores x 10 terminals, 30 days, fixed seed) go straight into a
fresh chDB store in blocks, with the receipts assembled from them and one incident per
suspicious event (deletes, cancels, no-sale drawer opens), a share of them reviewed. Each
report is built over the whole period; its time is split into ClickHouse queries (including
fetching the rows) and writing the ODS with odfpy.

Baseline, same run, same data: a bare `SELECT count(), sum(price) FROM events`, the least any
report over these events could cost.

    python -m bench.bench_reports [n_events]
"""

from __future__ import annotations

import sys
import time
from typing import Any

import msgspec

from bench.common import fresh_store, size
from bench.table import print_table, row
from posguard.ingest.simulator import ChainSimulator
from posguard.model.events import PosEvent
from posguard.model.incidents import Incident
from posguard.model.receipts import Receipt, TerminalState, assemble
from posguard.reports import ReportType, build_report
from posguard.store.backends.base import Backend
from posguard.store.writer import insert_events, insert_incidents, insert_receipts

__all__ = ["run", "fill", "main"]

START = 1_796_000_000_000_000
DAYS = 30
BLOCK = 100_000
TARGET_S = 3.0
_SUSPICIOUS = {"POS_POSITION_DELETE": "Delete", "POS_RECEIPT_CANCEL": "Cancelled receipt",
               "POS_DRAWER_OPEN": "No-sale drawer open"}


def _incident(k: int, e: PosEvent) -> Incident:
    return Incident(id=f"b{k:08d}", detector="BENCH", type_name=_SUSPICIOUS[e.type],
                    terminal_guid=e.pos_terminal, terminal_name=e.pos_terminal_name,
                    cashier_name=e.cashier_name, store=e.store, op_id=e.op_id,
                    ts_created=e.ts_in_receipt + 1_000_000, related_ts=[e.ts_in_receipt],
                    related_events=[e.event_id])


def fill(backend: Backend, n_events: int, seed: int = 1) -> dict[str, int]:
    """Simulate `n_events` and store them with their receipts and incidents; counts back."""
    sim = ChainSimulator(stores=20, terminals=10, seed=seed, fraud_rate=0.05)
    step = DAYS * 86_400_000_000 // n_events
    states: dict[str, TerminalState] = {}
    receipts: list[Receipt] = []
    incidents: list[Incident] = []
    block: list[PosEvent] = []
    for e in sim.events(n_events, START, step):
        block.append(e)
        st, done = assemble(states.setdefault(e.pos_terminal, TerminalState()), e)
        states[e.pos_terminal] = st
        receipts += done
        if e.type in _SUSPICIOUS and (e.type != "POS_DRAWER_OPEN" or not e.op_id):
            incidents.append(_incident(len(incidents), e))
        if len(block) == BLOCK:
            insert_events(backend, block)
            block = []
    insert_events(backend, block)
    for i in range(0, len(receipts), BLOCK):
        insert_receipts(backend, receipts[i:i + BLOCK])
    insert_incidents(backend, incidents)
    reviewed = [msgspec.structs.replace(
        inc, status=1 if k % 3 else 2, expert="bench", expert_estimate=(k * 97) % 100_000,
        review_ts=inc.ts_created + 3_600_000_000, review_duration=(k % 60 + 5) * 1_000_000)
        for k, inc in enumerate(incidents) if k % 2]
    insert_incidents(backend, reviewed, version=1)
    return {"events": n_events, "receipts": len(receipts), "incidents": len(incidents)}


def _baseline(backend: Backend, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        backend.query(f"SELECT count(), sum(price) FROM {backend.database}.events")
        best = min(best, time.perf_counter() - t)
    return best


def run(n_events: int | None = None, repeat: int = 3) -> list[dict[str, Any]]:
    """Build each report `repeat` times over `n_events` events; rows of the best run.

    Returns:
        Rows {"figure", "value", "unit", "baseline", "ratio", "target", ...} (bench.table.row):
        seconds, lower is better; ratio = baseline / value.
    """
    n = n_events or size("reports_events", 1_000_000)
    backend = fresh_store()
    t = time.perf_counter()
    counts = fill(backend, n)
    fill_s = time.perf_counter() - t
    t0, t1 = START, START + DAYS * 86_400_000_000 + 1
    base = _baseline(backend, repeat)
    out: list[dict[str, Any]] = []
    for rt in (ReportType.VIOLATIONS_REPORT, ReportType.CASHIER_ACTIVITY_REPORT):
        runs = [build_report(backend, rt, t0, t1, tz="Europe/Moscow") for _ in range(repeat)]
        best = min(runs, key=lambda r: r.seconds)
        name = rt.value
        rows = sum(len(s.rows) for s in best.doc.sections)
        out.append(row(f"{name} report over {n:,} events: build", best.seconds, "s", base,
                       "count()+sum(price) over events", f"< {TARGET_S:g} s",
                       higher_is_better=False, sheets=len(best.doc.sections), rows=rows,
                       bytes=len(best.data), first_run_s=round(runs[0].seconds, 3)))
        out.append(row(f"{name} report: ClickHouse queries", best.query_seconds, "s", base,
                       "count()+sum(price) over events", "", higher_is_better=False,
                       steps={s: round(v, 4) for s, v in best.steps}))
        out.append(row(f"{name} report: ODS writing", best.write_seconds, "s", None, "", "",
                       higher_is_better=False))
    out.append(row("baseline: SELECT count(), sum(price) FROM events", base, "s"))
    out.append(row("data: events / receipts / incidents stored", counts["events"], "events",
                   receipts=counts["receipts"], incidents=counts["incidents"],
                   fill_seconds=round(fill_s, 1)))
    backend.command(f"DROP DATABASE IF EXISTS {backend.database}")
    return out


def main(argv: list[str] | None = None) -> None:
    """Print the figures as a table."""
    args = sys.argv[1:] if argv is None else argv
    print_table(run(int(args[0]) if args else None))


if __name__ == "__main__":
    main()
