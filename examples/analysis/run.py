"""Run the example analyst queries on simulated chain traffic and write their results.

    .venv/bin/python examples/analysis/run.py          # writes *.result.txt and charts/*.svg

What it does, all in a throw-away chDB folder:
1. simulates four stores x four tills for about three days (`ChainSimulator`, fraud_rate
   0.05: its own random deletes, cancels, big discounts, drawer opens, keyed items and a
   shared discount card);
2. plants two patterns the simulator does not make, in store-2 on an extra till: cashier
   "Orlov R" voids a line in a third of his receipts, and gives 27-30 % discounts on some;
3. sets the tills' timezones (Moscow, Yekaterinburg, Novosibirsk), so days are local;
4. runs the default detectors over the events (incidents; a share marked reviewed);
5. runs each *.sql here through `posguard.store.sql_access.run_sql` (the same read-only path
   as `posguard sql` and POST /api/sql) and writes `<name>.result.txt`;
6. draws the console's charts into charts/.
The data are the same on every run (fixed seeds).
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from posguard.console.routes.charts import CHARTS, render
from posguard.detectors.engine import DetectorEngine, run_archive
from posguard.detectors.localtime import zones_from
from posguard.detectors.spec import default_config
from posguard.ingest.simulator import ChainSimulator
from posguard.model.events import PosEvent
from posguard.store.backends.chdb_backend import ChdbBackend
from posguard.store.migrations import migrate
from posguard.store.sql_access import SqlLimits, run_sql
from posguard.store.views import set_terminal_timezones
from posguard.store.writer import insert_events, insert_incidents

HERE = Path(__file__).resolve().parent
T0 = int(datetime(2026, 11, 23, tzinfo=UTC).timestamp()) * 1_000_000
STEP_US = 4_000_000  # one event every 4 s across the chain
EVENTS = 64_000  # ~3 days
ZONES = {"store-1": "Europe/Moscow", "store-2": "Europe/Moscow",
         "store-3": "Asia/Yekaterinburg", "store-4": "Asia/Novosibirsk"}
PLANT_TILL, PLANT_CASHIER, PLANT_STORE = "PLANT001", "Orlov R", "store-2"


def planted(rng: random.Random) -> list[PosEvent]:
    """150 receipts of one cashier: a void in a third of them, 27-30 % discounts in 12."""
    out: list[PosEvent] = []
    seq = 0
    for k in range(150):
        ts = T0 + 1_800_000_000 + k * 1_500_000_000  # every 25 min
        op = f"P{k:06d}"
        evs: list[tuple[str, dict[str, object]]] = [("POS_RECEIPT_OPEN", {})]
        lines = {p: rng.choice((4590, 8990, 12990, 24990, 49900)) for p in range(1, 7)}
        evs += [("POS_POSITION_ADD_BY_SCANNER", {"position": p, "price": v, "quantity": 1,
                                                 "text": "item"}) for p, v in lines.items()]
        if k % 3 == 0:
            p = rng.choice(list(lines))
            evs.append(("POS_POSITION_DELETE", {"position": p, "price": lines.pop(p)}))
        subtotal = sum(lines.values())
        total = subtotal
        if k % 12 == 5:
            disc = int(subtotal * rng.uniform(0.275, 0.299))
            evs.append(("POS_DISCOUNT_RECEIPT", {"discount": disc, "price": disc}))
            total -= disc
        evs += [("POS_PAYMENT_CARD", {"price": total}), ("POS_RECEIPT_CLOSE", {"price": total})]
        for j, (etype, fields) in enumerate(evs):
            seq += 1
            out.append(PosEvent(
                type=etype, pos_terminal=PLANT_TILL, pos_terminal_name="Store 2 till 9",
                store=PLANT_STORE, cashier_name=PLANT_CASHIER, op_id=op,
                ts_in_receipt=ts + j * 5_000_000, ts_received=ts + j * 5_000_000 + 40_000,
                event_id=f"plant-{seq}", **fields))  # type: ignore[arg-type]
    return out


def load(backend: ChdbBackend) -> int:
    sim = ChainSimulator(stores=4, terminals=4, seed=7, fraud_rate=0.05)
    events = list(sim.events(EVENTS, T0, STEP_US))
    # Terminals send with a small, varying delay: gives the pipeline-lag chart something.
    rng = random.Random(3)
    events = [e.__class__(**{**{f: getattr(e, f) for f in e.__struct_fields__},
                             "ts_received": e.ts_in_receipt + rng.randint(20_000, 400_000)})
              for e in events]
    events += planted(random.Random(9))
    for k in range(0, len(events), 20_000):
        insert_events(backend, events[k:k + 20_000])
    zones = {t.guid: ZONES[t.store] for t in sim.terminals}
    zones[PLANT_TILL] = ZONES[PLANT_STORE]
    set_terminal_timezones(backend, zones, {t.guid: t.store for t in sim.terminals})
    # Incidents: the default detectors over the same events; an operator has reviewed some.
    engine = DetectorEngine.from_config(default_config(), zones=zones_from(zones))
    incidents = run_archive(engine, events)
    insert_incidents(backend, incidents, version=0)
    reviewed = [i for k, i in enumerate(incidents) if k % 3]
    insert_incidents(backend, [msgspec.structs.replace(i, status=1 + k % 2, expert="ann")
                               for k, i in enumerate(reviewed)], version=1)
    return len(events)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        backend = ChdbBackend(tmp, database="posguard")
        migrate(backend)
        n = load(backend)
        print(f"loaded {n} events")
        for sql_file in sorted(HERE.glob("*.sql")):
            t = time.perf_counter()
            out = run_sql(backend, sql_file.read_text(), "table", SqlLimits())
            took = time.perf_counter() - t
            result = sql_file.with_suffix(".result.txt")
            result.write_text(f"-- {sql_file.name} on {n} simulated events "
                              f"(examples/analysis/run.py)\n{out.decode()}")
            print(f"{sql_file.name}: {took:.2f} s -> {result.name}")
        charts = HERE / "charts"
        charts.mkdir(exist_ok=True)
        t1 = T0 + EVENTS * STEP_US
        for name in CHARTS:
            (charts / f"{name}.svg").write_text(render(backend, name, T0, t1, ""))
        backend.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
