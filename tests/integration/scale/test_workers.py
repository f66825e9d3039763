"""Several `posguard worker` processes on one broker (Tansu) with 8 partitions.

Each worker runs the Faust agents (receipt assembly) and the ClickHouse sink, and writes to
the test session's chDB through its ClickHouse-HTTP endpoint (`--clickhouse`), so every
worker stores into the same database, as they would into a ClickHouse cluster.

One scenario (run once for the module), traffic in four phases: two workers; a third joins;
the first leaves with SIGTERM; the second dies with SIGKILL. Checks: the partitions spread over
the workers, every published event is stored exactly once, and every receipt the events make
is stored (the Faust table state moves with its partitions).

Tansu's DescribeGroups answers with no members, so which worker holds which partition is read
from each worker's log ("sink assigned [...]").
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

from posguard.ingest.publisher import EventPublisher
from posguard.ingest.simulator import ChainSimulator
from posguard.model.events import PosEvent
from posguard.model.receipts import TerminalState, assemble
from posguard.store.migrations import migrate
from posguard.streams.topics import Topics, ensure_topics

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]
T0 = 1_796_000_000_000_000
PARTITIONS = 8
PHASE = 1200
_ASSIGNED = re.compile(r"sink assigned (\[.*\])")


class WorkerProcess:
    """One `posguard worker` subprocess with its own data folder and log file."""

    def __init__(self, name: str, tmp: Path, bootstrap: str, url: str, database: str,
                 prefix: str, app_id: str):
        self.name = name
        self.log_path = tmp / f"{name}.log"
        self._log = self.log_path.open("wb")
        env = {k: v for k, v in os.environ.items() if not k.startswith("POSGUARD_")}
        env["PYTHONUNBUFFERED"] = "1"  # a killed worker's last log lines are the telling ones
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "posguard.console.cli", "worker", "--kafka", bootstrap,
             "--partitions", str(PARTITIONS), "--data", str(tmp / name), "--clickhouse", url,
             "--database", database, "--topic-prefix", prefix, "--app-id", app_id,
             "--session-timeout", "6", "--rebalance-timeout", "6",
             # Tansu reports high watermarks per batch: one record per changelog batch.
             "--producer-batch-bytes", "1", "--sink-batch", "500"],
            stdout=self._log, stderr=subprocess.STDOUT, env=env)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def events_partitions(self, topic: str) -> set[int]:
        """Partitions of pos.events this worker's sink was ever assigned (from its log)."""
        got: set[int] = set()
        for m in _ASSIGNED.finditer(self.log()):
            got |= {int(p) for t, p in re.findall(r"\('([^']+)', (\d+), -?\d+\)", m[1])
                    if t == topic}
        return got

    def stop(self, sig: int) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(60)
        finally:
            self._log.close()


def _wait(pred, timeout: float, what: str, workers: list[WorkerProcess]) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        for w in workers:
            if w.proc.poll() is not None and w.proc.returncode not in (0, -9, -15):
                pytest.fail(f"{w.name} exited {w.proc.returncode}:\n{w.log()[-3000:]}")
        time.sleep(0.25)
    logs = "\n".join(f"--- {w.name}\n{w.log()[-2500:]}" for w in workers)
    pytest.fail(f"timed out waiting for {what}\n{logs}")


def _expected_receipts(events: list[PosEvent]) -> set[str]:
    """The receipts the events make, folded offline with the same pure function."""
    states: dict[str, TerminalState] = defaultdict(TerminalState)
    out = set()
    for ev in events:
        states[ev.pos_terminal], done = assemble(states[ev.pos_terminal], ev)
        out |= {r.receipt_id for r in done}
    return out


@dataclass
class Outcome:
    """What the scenario left behind, for the checks."""

    spread: dict[str, set[int]]
    rows: tuple[int, int]
    stored_ids: set[str]
    published_ids: set[str]
    receipts: set[str]
    expected_receipts: set[str]
    last_log: str
    receipts_on_topic: set[str]
    where_missing: list[str]


def _where(bootstrap: str, topic: str, events: list[PosEvent], missing: set[str]) -> list[str]:
    """For each missing receipt: its terminal and the (partition, offset) of its events on
    pos.events, to match against the workers' logs."""
    from confluent_kafka import Consumer, TopicPartition

    from posguard.model.codec import decode_event

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": uuid.uuid4().hex,
                  "enable.auto.commit": False, "log_level": 3})
    at: dict[str, tuple[int, int]] = {}
    try:
        c.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
        idle = 0
        while idle < 5:
            msgs = c.consume(1000, 0.5)
            idle = 0 if msgs else idle + 1
            for m in msgs:
                if m.error() is None:
                    at[decode_event(m.value()).event_id] = (m.partition(), m.offset())
    finally:
        c.close()
    states: dict[str, TerminalState] = defaultdict(TerminalState)
    since: dict[str, list[str]] = defaultdict(list)
    out = []
    for ev in events:
        since[ev.pos_terminal].append(ev.event_id)
        states[ev.pos_terminal], done = assemble(states[ev.pos_terminal], ev)
        for r in done:
            if r.receipt_id in missing:
                spots = [at.get(i, (-1, -1)) for i in since[ev.pos_terminal]]
                out.append(f"{r.receipt_id} terminal {ev.pos_terminal} partition "
                           f"{spots[0][0]} offsets {[o for _, o in spots]}")
        if done:
            since[ev.pos_terminal] = []
    return out


def _receipts_on_topic(bootstrap: str, topic: str) -> set[str]:
    """Receipt ids the workers published (to tell a worker's loss from the sink's)."""
    from confluent_kafka import Consumer, TopicPartition

    from posguard.model.codec import decode_receipt

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": uuid.uuid4().hex,
                  "enable.auto.commit": False, "log_level": 3})
    try:
        c.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
        out: set[str] = set()
        idle = 0
        while idle < 5:
            msgs = c.consume(1000, 0.5)
            idle = 0 if msgs else idle + 1
            out |= {decode_receipt(m.value()).receipt_id for m in msgs if m.error() is None}
        return out
    finally:
        c.close()


def _changelogs_raw() -> bool:
    """Whether every Faust table of a worker writes and reads its changelog as raw bytes.

    A table given only `schema=raw_schema()` keeps Faust's default json serializers for its
    changelog (faust.tables.base: `_serializer_from_type(key_type)`), so a worker taking
    over a partition cannot decode the state ("Error in recovery ... utf-8"), its recovery
    never ends and the agent stops for those partitions.
    """
    from posguard.streams.app import WorkerConfig, create_app
    from posguard.streams.extensions import default_extensions

    ctx = create_app(WorkerConfig(bootstrap="127.0.0.1:9"), default_extensions({}))
    return all(t.key_serializer == "raw" and t.value_serializer == "raw"
               for t in ctx.app.tables.values())


@pytest.fixture(scope="module")
def outcome(kafka_bootstrap: str, clickhouse_url: str, chdb_engine,  # type: ignore[no-untyped-def]
            tmp_path_factory: pytest.TempPathFactory) -> Outcome:
    tmp_path = tmp_path_factory.mktemp("workers")
    scale_db = chdb_engine.sibling(f"t_{uuid.uuid4().hex[:12]}")
    migrate(scale_db)  # once, before the workers (each would otherwise race to migrate)
    try:
        return _scenario(kafka_bootstrap, clickhouse_url, scale_db, tmp_path)
    finally:
        scale_db.command(f"DROP DATABASE IF EXISTS {scale_db.database}")


def _scenario(kafka_bootstrap: str, clickhouse_url: str, scale_db, tmp_path: Path) -> Outcome:  # type: ignore[no-untyped-def]
    prefix = f"s{uuid.uuid4().hex[:8]}."
    topics = Topics(prefix)
    ensure_topics(kafka_bootstrap, topics, PARTITIONS)
    app_id = f"posguard-scale-{uuid.uuid4().hex[:6]}"
    events = list(ChainSimulator(4, 6, seed=11).events(4 * PHASE, T0, 1000))
    phases = [events[i * PHASE:(i + 1) * PHASE] for i in range(4)]
    pub = EventPublisher(kafka_bootstrap, topics)
    db = scale_db.database

    def stored() -> int:
        return int(scale_db.query(f"SELECT count() FROM {db}.events").scalar())

    def publish(batch: list[PosEvent], spread: float = 0.0) -> None:
        step = max(1, len(batch) // 20)
        for i in range(0, len(batch), step):  # trickled, so membership changes mid-traffic
            pub.publish_many(batch[i:i + step])
            pub.flush(30)
            time.sleep(spread / 20)

    def start(name: str) -> WorkerProcess:
        return WorkerProcess(name, tmp_path, kafka_bootstrap, clickhouse_url, db, prefix,
                             app_id)

    def has_events(w: WorkerProcess) -> bool:
        return bool(w.events_partitions(topics.events))

    workers: list[WorkerProcess] = []
    try:
        w1, w2 = start("w1"), start("w2")
        workers += [w1, w2]
        _wait(lambda: has_events(w1) and has_events(w2), 120, "w1 and w2 assignment",
              workers)
        publish(phases[0])
        _wait(lambda: stored() >= PHASE, 120, "phase 1 stored", workers)

        w3 = start("w3")  # joins during traffic
        workers.append(w3)
        publish(phases[1], spread=4.0)
        _wait(lambda: has_events(w3), 120, "w3 assignment", workers)
        _wait(lambda: stored() >= 2 * PHASE, 120, "phase 2 stored", workers)
        spread = {w.name: w.events_partitions(topics.events) for w in workers}

        t = threading.Thread(target=publish, args=(phases[2], 3.0))
        t.start()
        time.sleep(1.0)
        # Leaves cleanly mid-traffic: Faust's shutdown path, then the signal's default exit.
        assert w1.stop(signal.SIGTERM) in (0, -signal.SIGTERM), w1.log()[-3000:]
        assert "LeaveGroup request succeeded" in w1.log()
        t.join()

        t = threading.Thread(target=publish, args=(phases[3], 3.0))
        t.start()
        time.sleep(1.0)
        w2.stop(signal.SIGKILL)  # dies mid-traffic: w3 takes over after the session timeout
        t.join()

        _wait(lambda: stored() >= len(events), 180, "every event stored", workers)
        time.sleep(2.0)  # once counts match, give a late duplicate a moment to show
        rows = scale_db.query(f"SELECT count(), uniqExact(event_id) FROM {db}.events").rows[0]
        ids = {r[0] for r in scale_db.query(f"SELECT event_id FROM {db}.events").rows}

        expected = _expected_receipts(events)

        def receipts() -> set[str]:
            return {r[0] for r in scale_db.query(
                f"SELECT receipt_id FROM {db}.receipts FINAL").rows}

        deadline = time.monotonic() + 60
        while receipts() != expected and time.monotonic() < deadline:
            time.sleep(0.5)
        got = receipts()
        return Outcome(spread, (int(rows[0]), int(rows[1])), ids,
                       {e.event_id for e in events}, got, expected, w3.log()[-3000:],
                       _receipts_on_topic(kafka_bootstrap, topics.receipts),
                       _where(kafka_bootstrap, topics.events, events, expected - got)
                       if got != expected else [])
    finally:
        for w in workers:
            w.stop(signal.SIGTERM)


def test_partitions_spread_over_the_workers(outcome: Outcome) -> None:
    assert all(outcome.spread.values()), f"a worker got no partition: {outcome.spread}"
    assert set().union(*outcome.spread.values()) == set(range(PARTITIONS)), outcome.spread


def test_every_event_is_stored_once_across_join_and_leave(outcome: Outcome) -> None:
    n = len(outcome.published_ids)
    assert outcome.rows == (n, n), f"stored (rows, distinct ids) = {outcome.rows}, sent {n}"
    assert outcome.stored_ids == outcome.published_ids


def test_every_receipt_is_stored_across_join_and_leave(outcome: Outcome) -> None:
    got, want = outcome.receipts, outcome.expected_receipts
    missing = want - got
    assert got == want, (f"missing {len(missing)} ({len(missing - outcome.receipts_on_topic)} "
                         f"never published), unexpected {len(got - want)}\n"
                         f"{chr(10).join(outcome.where_missing[:10])}\n{outcome.last_log}")


def test_worker_tables_read_and_write_raw_changelogs() -> None:
    assert _changelogs_raw(), ("a Faust table keeps json changelog serializers (app.Table "
                               "needs key_type=bytes, value_type=bytes beside "
                               "schema=raw_schema()): a worker taking over a partition "
                               "could not recover its states")
