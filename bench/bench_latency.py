"""Detection latency (issue 8): event published -> incident on pos.incidents, at a steady rate.

A `posguard worker --no-sink` process runs on fresh topics; simulated chain traffic with
fraud patterns is published at a steady rate (default 10,000 events/s) for a while; a
consumer on pos.incidents notes when each incident arrives. The latency of an incident is
its arrival time minus the publish time of its triggering event (the last of its
related_events). Baseline, same run: the broker round trip of the same traffic (publish ->
a bare consumer of pos.events receiving it). If the worker cannot keep up with the rate the
latencies grow through the run; the table then says so (p99 far above p50).

Sizes: POSGUARD_BENCH_LATENCY_RATE (events/s), POSGUARD_BENCH_LATENCY_SECONDS.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from typing import Any

from confluent_kafka import Consumer

from bench.common import T0, broker, size
from bench.table import row
from posguard.detectors.config import default_config
from posguard.detectors.engine import DetectorEngine
from posguard.ingest.publisher import EventPublisher
from posguard.ingest.simulator import ChainSimulator
from posguard.model.codec import decode_incident, encode
from posguard.streams.topics import Topics, ensure_topics

PARTITIONS = 8


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))] if s else float("nan")


class Arrivals(threading.Thread):
    """Consume a topic from its end and note each record's arrival time by a key function."""

    def __init__(self, bootstrap: str, topic: str, ids: Any):
        super().__init__(daemon=True)
        self.ids, self.seen = ids, {}  # type: ignore[var-annotated]
        self.stop = threading.Event()
        self.ready = threading.Event()
        self.c = Consumer({"bootstrap.servers": bootstrap, "group.id": uuid.uuid4().hex,
                           "auto.offset.reset": "earliest", "enable.auto.commit": False,
                           "session.timeout.ms": 6000, "fetch.wait.max.ms": 5,
                           "log_level": 3})
        self.c.subscribe([topic], on_assign=lambda *_: self.ready.set())

    def run(self) -> None:
        while not self.stop.is_set():
            # poll() returns at the first record; consume(n, t) would wait for n records or
            # the whole timeout, and every arrival would be noted up to t late
            first = self.c.poll(0.05)
            if first is None:
                continue
            now = time.perf_counter()
            for m in [first, *self.c.consume(1000, 0)]:
                if m.error() is None:
                    for k in self.ids(m.value()):
                        self.seen.setdefault(k, now)
        self.c.close()


def run() -> list[dict[str, Any]]:
    rate = size("latency_rate", 10_000)
    seconds = size("latency_seconds", 20)
    b = broker()
    topics = Topics(prefix=f"lat{uuid.uuid4().hex[:6]}.")
    ensure_topics(b.bootstrap, topics, PARTITIONS)
    tmp = tempfile.mkdtemp(prefix="posguard-bench-latency-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSGUARD_")}
    worker = subprocess.Popen(
        [sys.executable, "-m", "posguard.console.cli", "worker", "--no-sink", "--kafka",
         b.bootstrap, "--partitions", str(PARTITIONS), "--topic-prefix", topics.prefix,
         "--app-id", f"lat-{topics.prefix}", "--data", tmp, "--session-timeout", "6",
         "--rebalance-timeout", "6", "--log-level", "warning"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    scope_of = {d.guid: d.scope for d in DetectorEngine.from_config(default_config()).detectors}
    scopes: dict[str, str] = {}

    def trigger(v: bytes) -> list[str]:
        inc = decode_incident(v)
        for e in inc.related_events[-1:]:
            scopes[e] = scope_of.get(inc.detector, "?")
        return inc.related_events[-1:]

    incidents = Arrivals(b.bootstrap, topics.incidents, trigger)
    events_seen = Arrivals(b.bootstrap, topics.events,
                           lambda v: [v[v.find(b'"event_id":"') + 12:].split(b'"', 1)[0]
                                      .decode()])
    try:
        incidents.start()
        events_seen.start()
        pub = EventPublisher(b.bootstrap, topics, {"linger.ms": 1})
        sim = ChainSimulator(20, 10, seed=3, fraud_rate=0.2)
        warm = list(sim.events(2000, T0, 1000))
        pub.publish_many(warm)  # the worker joins and recovers while these wait for it
        pub.flush(30)
        deadline = time.monotonic() + 120
        while not incidents.seen and time.monotonic() < deadline:
            time.sleep(0.2)  # the first incidents: the worker is up and caught up
        time.sleep(2)
        sent: dict[str, float] = {}
        # made and encoded before the clock starts: the publisher shares the 2 cores with
        # the broker and the worker, and simulating while sending took a whole core
        # stamped at the publishing rate, so reception time advances as the clock does and
        # the cross-terminal scopes' hold (cross_terminal_lateness_ms of reception time)
        # lasts as long as it would live
        stream = [(ev.event_id, ev.pos_terminal, encode(ev))
                  for ev in sim.events(rate * seconds, T0 + 10**9, max(1, 1_000_000 // rate))]
        tick = 0.01
        per_tick = max(1, int(rate * tick))
        start = time.perf_counter()
        k = 0
        for event_id, terminal, raw in stream:
            if k % per_tick == 0:
                pause = start + (k // per_tick) * tick - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
            now = time.perf_counter()
            pub.publish_raw(terminal, raw)
            sent[event_id] = now
            k += 1
        achieved = k / (time.perf_counter() - start)
        pub.flush(30)
        time.sleep(5)  # the last incidents
    finally:
        incidents.stop.set()
        events_seen.stop.set()
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(60)
        except subprocess.TimeoutExpired:
            worker.kill()
    lat = [(incidents.seen[i] - t) * 1000 for i, t in sent.items() if i in incidents.seen]
    by_scope = {sc: [(incidents.seen[i] - t) * 1000 for i, t in sent.items()
                     if i in incidents.seen and scopes.get(i) == sc]
                for sc in ("terminal", "cashier", "card")}
    base = [(events_seen.seen[i] - t) * 1000 for i, t in sent.items()
            if i in events_seen.seen]
    common = dict(rate=rate, achieved_rate=round(achieved), seconds=seconds,
                  incidents=len(lat),
                  **{f"p{q}_{sc}_ms": round(percentile(v, q / 100)) for sc, v in by_scope.items()
                     if v for q in (50, 99)})
    cross = by_scope["cashier"] + by_scope["card"]
    return [
        row(f"detection latency p50 at {rate:,} ev/s, all rules", percentile(lat, 0.5), "ms",
            percentile(base, 0.5), "broker round trip p50 (publish -> bare consumer)", "",
            **common),
        row(f"detection latency p99 at {rate:,} ev/s, all rules", percentile(lat, 0.99), "ms",
            percentile(base, 0.99), "broker round trip p99", "", **common),
        row(f"detection latency p99 at {rate:,} ev/s, terminal rules", percentile(
            by_scope["terminal"], 0.99), "ms", percentile(base, 0.99), "broker round trip p99",
            "p99 < 200 ms", incidents=len(by_scope["terminal"])),
        # cashier/card rules hold events cross_terminal_lateness_ms (2 s by default) so that
        # they step them in archive order (docs/detectors.md): their floor is that wait
        row(f"detection latency p99 at {rate:,} ev/s, cashier/card rules", percentile(
            cross, 0.99), "ms", percentile(base, 0.99), "broker round trip p99",
            "p99 < lateness (2,000 ms) + 200 ms", incidents=len(cross)),
    ]


if __name__ == "__main__":
    from bench.table import print_table

    print_table(run())
