"""Faust worker throughput (issue 8) and by process count (issue 10: deploy/README.md).

A pos.events topic with 8 partitions is filled with simulated chain traffic; then
`posguard worker --kafka B` processes (receipt assembly + all standard detectors, their
tables and repartition topics; with and without the ClickHouse sink) consume it. The rate is
read from the groups' committed offsets: (last - first observed past a tenth of the topic)
/ time between them, so process start-up and the first group join are not counted.
Baselines, same topic, same run: a bare confluent-kafka consume loop, and two plain Faust
agents on Faust's stock transport (bench/faust_baseline.py): raw bytes with one await per
event, and the idiomatic one with faust.Record values; those two read only the first
100,000 events (POSGUARD_BENCH_WORKER_BASELINE_EVENTS), being slow. Topic size:
POSGUARD_BENCH_WORKER_EVENTS (500,000: at ~60k events/s a smaller topic is done within a
few commit intervals).

On a 2-core machine more processes than cores cannot go faster: the figures then show the
overhead of sharing, not scale-out. Each worker is one Python process (one core at most), so
on a host with C free cores expect up to ~min(W, C) times the 1-worker rate.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid

from confluent_kafka import Consumer, TopicPartition

from bench.common import broker, filled_topics, sim_events, size
from bench.table import row

PARTITIONS = 8


def bare_consume(bootstrap: str, topic: str, n: int) -> float:
    """Events/s of a plain confluent-kafka loop (1,000-message batches, decode skipped),
    timed from its first message."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": uuid.uuid4().hex,
                  "auto.offset.reset": "earliest", "enable.auto.commit": False,
                  "session.timeout.ms": 6000, "log_level": 3})
    c.subscribe([topic])
    got, start = 0, None
    while got < n:
        msgs = c.consume(1000, 1.0)
        if msgs and start is None:
            start = time.perf_counter()
        got += sum(1 for m in msgs if not m.error())
    took = time.perf_counter() - (start or time.perf_counter())
    c.close()
    return n / took if took > 0 else float("inf")


def faust_rate(bootstrap: str, topic: str, n: int, mode: str) -> float:
    """Events/s of a plain Faust agent (bench/faust_baseline.py) in a child process."""
    out = subprocess.run([sys.executable, "-m", "bench.faust_baseline", mode, bootstrap, topic,
                          str(n)], capture_output=True, text=True, timeout=900)
    numbers = re.findall(r"(\d+\.\d)\s*$", out.stdout)
    if out.returncode or not numbers:
        raise RuntimeError(f"faust baseline {mode} failed: {out.stderr[-500:]}")
    return float(numbers[-1])


def committed(bootstrap: str, group: str, topic: str) -> int:
    """Messages the group has committed on the topic (sum over partitions)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "log_level": 3})
    try:
        tps = c.committed([TopicPartition(topic, p) for p in range(PARTITIONS)], timeout=10)
        return sum(tp.offset for tp in tps if tp.offset > 0)
    finally:
        c.close()


def worker_rate(bootstrap: str, prefix: str, topic: str, n: int, workers: int,
                timeout: float = 600.0, sink: str = "off") -> float:
    """Events/s of `workers` processes reading n events, from the committed offsets (with
    the sink on: until the sink's group has stored them too), counted from the first tenth
    committed, so that the processes' start and first group join are left out. `sink`:
    "off", "same" (a thread of each worker process) or "own" (one more process,
    `posguard worker --no-agents`, as the deploy guide lays it out)."""
    app_id = f"bench-workers-{uuid.uuid4().hex[:6]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSGUARD_")}
    tmp = tempfile.mkdtemp(prefix="posguard-bench-workers-")
    groups = [app_id] if sink == "off" else [app_id, f"{app_id}.sink"]
    roles = [[] if sink == "same" else ["--no-sink"]] * workers
    if sink == "own":
        roles.append(["--no-agents"])
    procs = [subprocess.Popen(
        [sys.executable, "-m", "posguard.console.cli", "worker", *role,
         "--kafka", bootstrap, "--partitions", str(PARTITIONS), "--topic-prefix", prefix,
         "--app-id", app_id, "--data", f"{tmp}/w{i}", "--session-timeout", "6",
         "--rebalance-timeout", "6", "--log-level", "warning"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        for i, role in enumerate(roles)]
    try:
        first: tuple[float, int] | None = None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = min(committed(bootstrap, g, topic) for g in groups)
            now = time.perf_counter()
            if done >= n // 10 and first is None:  # past the group joins of the start
                first = (now, done)
            if done >= n and first is not None:
                if done == first[1]:
                    raise RuntimeError("all events committed in one step: make the topic "
                                       "bigger (POSGUARD_BENCH_WORKER_EVENTS)")
                return (done - first[1]) / (now - first[0])
            if any(p.poll() is not None for p in procs):
                raise RuntimeError("a worker exited during the benchmark")
            time.sleep(0.1)
        raise RuntimeError(f"{workers} workers did not finish {n} events in {timeout}s")
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                p.kill()


def run() -> list[dict]:
    n = size("worker_events", 500_000)
    n_faust = min(n, size("worker_baseline_events", 100_000))  # the slow baselines' share
    events = sim_events(n, seed=5)
    topics = filled_topics(events, PARTITIONS)
    bootstrap = broker().bootstrap
    bare = bare_consume(bootstrap, topics.events, n)
    raw = faust_rate(bootstrap, topics.events, n_faust, "raw")
    record = faust_rate(bootstrap, topics.events, n_faust, "record")
    cores = os.cpu_count() or 1
    one = worker_rate(bootstrap, topics.prefix, topics.events, n, 1)
    with_sink = worker_rate(bootstrap, topics.prefix, topics.events, n, 1, sink="same")
    sink_apart = worker_rate(bootstrap, topics.prefix, topics.events, n, 1, sink="own")
    out = [
        row("Faust raw-bytes agent, one await per event (stock transport)", raw, "events/s",
            bare, "bare confluent-kafka consume, same topic", events=n),
        row("Faust worker x1: assembly + all detectors (events/s)", one, "events/s", raw,
            "Faust raw-bytes agent, same topic", ">= 4x raw Faust (>= 50,000)", events=n),
        row("Faust worker x1 vs idiomatic Faust (Record, one await per event)", one,
            "events/s", record, "Faust Record agent, same topic", "", events=n),
        row("Faust worker x1 + ClickHouse sink (events/s stored)", with_sink, "events/s", raw,
            "Faust raw-bytes agent, same topic", ">= 50,000", events=n),
        row("Faust worker x1 + ClickHouse sink in its own process (events/s stored)",
            sink_apart, "events/s", with_sink, "the sink in the worker's process", ">= 50,000",
            events=n, cores=cores),
    ]
    for w in (2, 4):
        rate = worker_rate(bootstrap, topics.prefix, topics.events, n, w)
        out.append(row(f"Faust workers x{w}, 8 partitions (events/s, {cores} cores)", rate,
                       "events/s", one, "1 worker, same topic",
                       "scales ~linearly up to free cores", workers=w, cores=cores, events=n))
    return out


if __name__ == "__main__":
    from bench.table import print_table

    print_table(run())
