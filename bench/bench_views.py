"""How long the analyst views take over N simulated events (chDB, this machine).

    .venv/bin/python bench/bench_views.py [N]      # default 1,000,000

Prints the wall time of typical view queries, each the best of three runs, and the same
aggregation straight from the events table with and without FINAL (what FINAL costs).
"""

from __future__ import annotations

import sys
import tempfile
import time

from posguard.ingest.simulator import ChainSimulator
from posguard.store.backends.chdb_backend import ChdbBackend
from posguard.store.migrations import migrate
from posguard.store.writer import insert_events

T0 = 1_796_000_400_000_000


def best(backend: ChdbBackend, sql: str) -> tuple[float, object]:
    times, res = [], None
    for _ in range(3):
        t = time.perf_counter()
        res = backend.query(sql).rows
        times.append(time.perf_counter() - t)
    return min(times), res


def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        b = ChdbBackend(tmp, "posguard")
        migrate(b)
        sim = ChainSimulator(stores=20, terminals=8, seed=1, fraud_rate=0.05)
        t = time.perf_counter()
        batch = []
        for ev in sim.events(n, T0, 50_000):  # 20 events/s across the chain
            batch.append(ev)
            if len(batch) == 100_000:
                insert_events(b, batch)
                batch = []
        insert_events(b, batch)
        print(f"{n} events inserted in {time.perf_counter() - t:.1f} s "
              f"(spanning {n * 0.05 / 86400:.1f} days)")
        day = f"toDate(fromUnixTimestamp64Micro({T0 + n * 25_000}))"
        h0 = (T0 + n * 25_000) // 3_600_000_000
        queries = {
            "receipt_summary: count() over all": "SELECT count() FROM posguard.receipt_summary",
            "receipt_summary: one store, one day": (
                "SELECT count(), sum(total) FROM posguard.receipt_summary "
                f"WHERE store = 'store-3' AND local_day = {day}"),
            "receipt_summary_between: one hour": (
                "SELECT count(), sum(total) FROM posguard.receipt_summary_between("
                f"t0={h0 * 3_600_000_000}, t1={(h0 + 1) * 3_600_000_000})"),
            "cashier_day: all rows": "SELECT count(), sum(voids) FROM posguard.cashier_day",
            "terminal_hour: all rows": "SELECT count(), sum(events) FROM posguard.terminal_hour",
            "terminal_hour: one hour (sort-key filter)": (
                f"SELECT count(), sum(events) FROM posguard.terminal_hour "
                f"WHERE hour_bucket = {h0}"),
            "incidents_current: count()": "SELECT count() FROM posguard.incidents_current",
            "events GROUP BY receipt, FINAL": (
                "SELECT count() FROM (SELECT 1 FROM posguard.events FINAL "
                "WHERE op_id != '' GROUP BY pos_terminal, op_id)"),
            "events GROUP BY receipt, no FINAL": (
                "SELECT count() FROM (SELECT 1 FROM posguard.events "
                "WHERE op_id != '' GROUP BY pos_terminal, op_id)"),
        }
        for name, sql in queries.items():
            secs, rows = best(b, sql)
            print(f"{name:45s} {secs:7.3f} s  {rows}")
        b.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
