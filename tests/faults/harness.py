"""The fault harness: posguard's parts as separate OS processes, a simulated chain sending at a
steady rate, fault injection, and the reconciliation that decides lost / doubled / out of order.

Processes (each its own `python -m posguard.console.cli ...`, log file under the test's tmp):
- `Proc.worker`: `posguard worker --kafka K --clickhouse URL` (Faust agents + sink); every
  worker writes into the test process's chDB through a ClickHouse-HTTP endpoint, so the test
  reconciles with SQL on the very tables the workers wrote;
- `Proc.adapter`: `posguard ingest --kafka K` with a terminal registry in its posguard.toml;
- `Proc.console`: `posguard console` (the API the detector change goes through);
- `Proc.scripts`: `posguard scripts --dir D`;
- the broker: Tansu (`posguard.streams.broker.EmbeddedBroker`), on a fixed port so it can be
  stopped and started again at the same address.

Traffic: `PublisherTraffic` (worker-only scenarios; acknowledged = delivered, acks=all) and
`TerminalTraffic` (through the real listeners over TCP: half the terminals speak DSSL XML, half
NDJSON). A TCP terminal gets no application-level acknowledgement, so "acknowledged" there is
what the adapter held long enough to have made durable (a Kafka ack or a spool record, both
milliseconds): every event sent more than `ACK_WINDOW` seconds before an adapter kill, or on a
connection opened after the restart. See docs/faults.md.

Reconciliation (`reconcile`): raw rows (merges are stopped on the scenario's tables, so a
ReplacingMergeTree cannot hide a double) are matched to the events sent, by event id (NDJSON
terminals, the publisher) or by the `article` marker (DSSL XML terminals, whose event ids the
adapter assigns). Incidents expected = `run_archive` of the default configuration over the
stored events in their Kafka order; stored = raw rows of pos incidents.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import msgspec

from posguard.detectors.config import DetectorConfig, default_config
from posguard.detectors.engine import DetectorEngine, run_archive
from posguard.ingest.encoders import to_dssl_xml, to_ndjson
from posguard.ingest.publisher import EventPublisher
from posguard.ingest.simulator import ChainSimulator
from posguard.model.events import PosEvent
from posguard.store.migrations import migrate
from posguard.store.schema import EVENT_COLUMNS
from posguard.streams.broker import free_port, wait_for_port
from posguard.streams.topics import Topics, ensure_topics

__all__ = ["Diagnosed", "diagnosed", "repartition_duplicates", "ACK_WINDOW", "PARTITIONS", "Proc", "Stack", "PublisherTraffic", "TerminalTraffic",
           "Outcome", "reconcile", "chain_events", "wait_until", "Summary", "SUMMARY"]

PARTITIONS = 4
ACK_WINDOW = 1.0  # s an adapter holds an event before it counts as acknowledged (see above)
MARK = "fx-"


class Diagnosed(AssertionError):
    """A failure whose cause is diagnosed in the product (raised only by test bodies, so an
    `xfail(raises=Diagnosed)` is never satisfied by a broken harness or fixture)."""


def diagnosed(ok: bool, message: str) -> None:
    """assert, raising Diagnosed."""
    if not ok:
        raise Diagnosed(message)


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "posguard.console.cli", *args]


def clean_env() -> dict[str, str]:
    """The environment without POSGUARD_* (the flags are the whole configuration)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("POSGUARD_")}


def wait_until(pred: Callable[[], bool], timeout: float, what: str,
               procs: Iterable[Proc] = (), poll: float = 0.25, soft: bool = False) -> float:
    """Wait for `pred`; returns the seconds it took. Fails with the processes' logs (soft:
    returns infinity instead, and the reconciliation gives the verdict)."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    procs = list(procs)
    while time.monotonic() < deadline:
        if pred():
            return time.monotonic() - t0
        for p in procs:
            p.check()
        time.sleep(poll)
    if soft:
        return float("inf")
    logs = "\n".join(f"--- {p.name}\n{p.log()[-2500:]}" for p in procs)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}\n{logs}")


class Proc:
    """One posguard subprocess with its own log file; restartable."""

    def __init__(self, name: str, args: list[str], log_dir: Path):
        self.name, self.args = name, args
        self.log_path = log_dir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.expected_exit = True

    def start(self) -> Proc:
        log = self.log_path.open("ab")
        log.write(f"\n=== start {time.strftime('%H:%M:%S')} ===\n".encode())
        log.flush()
        self.proc = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT,
                                     env=clean_env())
        log.close()
        self.expected_exit = False
        return self

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def check(self) -> None:
        """Fail when the process died on its own."""
        if self.proc is not None and not self.expected_exit and self.proc.poll() is not None:
            raise AssertionError(f"{self.name} exited {self.proc.returncode}:\n"
                                 f"{self.log()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind."""
        self.signal(signal.SIGKILL)

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, then SIGKILL after `timeout`."""
        return self.signal(signal.SIGTERM, timeout)

    def signal(self, sig: int, timeout: float = 30.0) -> int | None:
        self.expected_exit = True
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def chain_events(n: int, seed: int, terminals: int = 4, stores: int = 3) -> list[PosEvent]:
    """`n` simulated chain events (a quarter of the receipts with a fraud pattern), ids
    `fx-<seed>-<i>`, each also marked in `article` so a DSSL XML copy can be recognised."""
    sim = ChainSimulator(stores, terminals, seed=seed, fraud_rate=0.25)
    t0 = int(time.time() * 1e6) - 3_600_000_000
    out = []
    for i, ev in enumerate(sim.events(n, t0, 10_000)):
        mark = f"{MARK}{seed}-{i}"
        out.append(msgspec.structs.replace(ev, event_id=mark, article=mark))
    return out


# -- the stack --------------------------------------------------------------------------------

@dataclass
class Stack:
    """One scenario's deployment: a topic prefix on a broker, a database on the test's chDB,
    and the processes started for it (all stopped by `close`)."""

    bootstrap: str
    clickhouse_url: str
    backend: Any  # ChdbBackend of the scenario's database
    tmp: Path
    name: str
    topics: Topics = field(init=False)
    app_id: str = field(init=False)
    procs: list[Proc] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.topics = Topics(prefix=f"f{uuid.uuid4().hex[:8]}.")
        self.app_id = f"faults-{self.name}-{uuid.uuid4().hex[:6]}"
        self.create_topics()

    @classmethod
    def create(cls, bootstrap: str, clickhouse_url: str, chdb_engine: Any, tmp: Path,
               name: str) -> Stack:
        backend = chdb_engine.sibling(f"f_{uuid.uuid4().hex[:12]}")
        migrate(backend)
        for table in ("events", "incidents", "receipts"):
            # Raw rows only: a background merge of the ReplacingMergeTree would hide a double.
            backend.command(f"SYSTEM STOP MERGES {backend.database}.{table}")
        return cls(bootstrap, clickhouse_url, backend, tmp, name)

    @property
    def db(self) -> str:
        return str(self.backend.database)

    def create_topics(self) -> None:
        ensure_topics(self.bootstrap, self.topics, PARTITIONS)

    def _common(self, data: Path, url: str | None = None) -> list[str]:
        return ["--kafka", self.bootstrap, "--clickhouse", url or self.clickhouse_url,
                "--database", self.db, "--data", str(data), "--topic-prefix",
                self.topics.prefix, "--session-timeout", "6", "--log-level", "info"]

    def _add(self, p: Proc) -> Proc:
        self.procs.append(p)
        return p

    def worker(self, name: str, *extra: str, url: str | None = None) -> Proc:
        """A `posguard worker` (not started)."""
        args = cli("worker", *self._common(self.tmp / name, url), "--partitions",
                   str(PARTITIONS), "--app-id", self.app_id, "--rebalance-timeout", "6",
                   # Tansu reports high watermarks per batch: one record per changelog batch.
                   "--producer-batch-bytes", "1", "--sink-batch", "500", *extra)
        return self._add(Proc(name, args, self.tmp))

    def adapter(self, name: str, terminals: Sequence[tuple[str, str, int, str]],
                message_timeout: float = 5.0) -> Proc:
        """A `posguard ingest` for (guid, protocol, port, location) terminals (not
        started)."""
        data = self.tmp / name
        data.mkdir(parents=True, exist_ok=True)
        lines = ["[ingest]", 'bind = "127.0.0.1"', f"message_timeout = {message_timeout}", ""]
        for guid, protocol, port, location in terminals:
            lines += ["[[terminals]]", f'guid = "{guid}"', f'name = "{guid}"',
                      f'protocol = "{protocol}"', 'transport = "tcp"', f"port = {port}",
                      f'location = "{location}"', 'timezone = "UTC"', ""]
        (data / "posguard.toml").write_text("\n".join(lines))
        args = cli("ingest", "--kafka", self.bootstrap, "--data", str(data), "--topic-prefix",
                   self.topics.prefix, "--log-level", "info")
        return self._add(Proc(name, args, self.tmp))

    def console(self, name: str) -> tuple[Proc, str]:
        """A `posguard console` (not started) and its base URL."""
        port = free_port()
        args = cli("console", *self._common(self.tmp / name), "--http", f"127.0.0.1:{port}",
                   "--app-id", self.app_id, "--partitions", str(PARTITIONS))
        return self._add(Proc(name, args, self.tmp)), f"http://127.0.0.1:{port}"

    def scripts(self, name: str, folder: Path) -> Proc:
        """A `posguard scripts --dir folder` (not started)."""
        args = cli("scripts", "--dir", str(folder), "--kafka", self.bootstrap, "--clickhouse",
                   self.clickhouse_url, "--database", self.db, "--data",
                   str(self.tmp / name), "--topic-prefix", self.topics.prefix,
                   "--session-timeout", "6", "--log-level", "info", "--api",
                   "http://127.0.0.1:9")
        return self._add(Proc(name, args, self.tmp))

    def check(self) -> None:
        for p in self.procs:
            p.check()

    def close(self) -> None:
        for p in reversed(self.procs):
            p.stop(15)
        self.backend.command(f"DROP DATABASE IF EXISTS {self.db}")

    # -- what the workers did -------------------------------------------------------------

    def stored_count(self) -> int:
        return int(self.backend.query(f"SELECT count() FROM {self.db}.events").scalar())

    def sink_assigned(self, p: Proc) -> bool:
        return "sink assigned [('" + self.topics.events in p.log()

    def agents_running(self, p: Proc, after: int = 0) -> bool:
        """Faust has finished recovery (more than `after` times) in the process's last run."""
        return self.recoveries(p) > after

    @staticmethod
    def recoveries(p: Proc) -> int:
        """How often Faust finished a recovery (start or rebalance) in the last run."""
        return p.log().rsplit("=== start", 1)[-1].count("[^---Recovery]: Worker ready")


# -- traffic ----------------------------------------------------------------------------------

class PublisherTraffic:
    """Publish events at a steady rate through `EventPublisher` (the adapters' producer path,
    acks=all); an event is acknowledged when its batch was flushed with nothing left."""

    def __init__(self, bootstrap: str, topics: Topics, events: list[PosEvent],
                 rate: float = 150.0, chunk: int = 10):
        self.events, self.rate, self.chunk = events, rate, chunk
        self.pub = EventPublisher(bootstrap, topics)
        self.acked: list[PosEvent] = []
        self.done = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True, name="traffic")
        self.sent_at: list[float] = []

    def start(self) -> PublisherTraffic:
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            t0 = time.monotonic()
            for i in range(0, len(self.events), self.chunk):
                batch = self.events[i:i + self.chunk]
                self.pub.publish_many(batch)
                if self.pub.flush(30) == 0:
                    self.acked.extend(batch)
                    self.sent_at.extend([time.monotonic()] * len(batch))
                due = t0 + (i + self.chunk) / self.rate
                time.sleep(max(0.0, due - time.monotonic()))
        except BaseException as e:  # surfaced by join()
            self.error = e
        finally:
            self.done.set()

    def progress(self) -> float:
        return len(self.acked) / len(self.events)

    def acked_before(self, t: float) -> int:
        """How many events were acknowledged before monotonic time `t`."""
        import bisect

        return bisect.bisect_right(self.sent_at, t)

    def join(self, timeout: float = 180) -> None:
        self._thread.join(timeout)
        assert self.done.is_set(), "traffic did not finish"
        if self.error is not None:
            raise self.error


@dataclass
class _Conn:
    sock: socket.socket | None = None
    generation: int = 0


class TerminalTraffic:
    """Terminals sending over TCP at a steady rate: even terminals DSSL XML (with their
    `<pos_terminal>`), odd ones NDJSON. A terminal reconnects when its connection fails and
    sends the event that failed again (what it can know: the write failed); bytes written
    into a connection whose peer just died are lost without a word (no application ack)."""

    def __init__(self, events: list[PosEvent], ports: dict[str, int], rate: float = 150.0):
        self.events, self.rate = events, rate
        guids = sorted({e.pos_terminal for e in events})
        self.protocol = {g: ("dssl-xml" if i % 2 == 0 else "json") for i, g in enumerate(guids)}
        self.ports = ports  # protocol -> port
        self.conns = {g: _Conn() for g in guids}
        self.sent: list[tuple[PosEvent, float, int]] = []  # event, when, connection generation
        self.generation = 0  # bumped by the test when the adapter is back
        self.done = threading.Event()
        self.paused = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True, name="terminals")

    def terminals(self) -> list[tuple[str, str, int, str]]:
        """(guid, protocol, port, location) of each terminal, for the adapter's registry."""
        where = {e.pos_terminal: e.location for e in self.events}
        return [(g, p, self.ports[p], where[g]) for g, p in self.protocol.items()]

    def encode(self, ev: PosEvent) -> bytes:
        if self.protocol[ev.pos_terminal] == "json":
            return to_ndjson(ev)
        return to_dssl_xml(ev, with_guid=True)

    def start(self) -> TerminalTraffic:
        self._thread.start()
        return self

    def _send(self, ev: PosEvent) -> None:
        c = self.conns[ev.pos_terminal]
        data = self.encode(ev)
        while True:
            if c.sock is None:
                try:
                    c.sock = socket.create_connection(
                        ("127.0.0.1", self.ports[self.protocol[ev.pos_terminal]]), 1.0)
                    c.generation = self.generation
                except OSError:
                    time.sleep(0.1)
                    continue
            try:
                c.sock.sendall(data)
                self.sent.append((ev, time.monotonic(), c.generation))
                return
            except OSError:
                c.sock.close()
                c.sock = None

    def _run(self) -> None:
        try:
            t0 = time.monotonic()
            for i, ev in enumerate(self.events):
                self._send(ev)
                time.sleep(max(0.0, t0 + (i + 1) / self.rate - time.monotonic()))
            time.sleep(0.5)
        except BaseException as e:
            self.error = e
        finally:
            for c in self.conns.values():
                if c.sock is not None:
                    c.sock.close()
            self.done.set()

    def progress(self) -> float:
        return len(self.sent) / len(self.events)

    def join(self, timeout: float = 180) -> None:
        self._thread.join(timeout)
        assert self.done.is_set(), "terminal traffic did not finish"
        if self.error is not None:
            raise self.error

    def acknowledged(self) -> list[PosEvent]:
        """Events the adapter held at least ACK_WINDOW before it was killed (`kill_at`), or
        sent on a connection opened after its restart (all when nothing was killed)."""
        return [ev for ev, when, gen in self.sent if self._acked(when, gen)]

    kill_at: float | None = None
    restarted_generation = 1

    def _acked(self, when: float, gen: int) -> bool:
        return self.kill_at is None or gen >= self.restarted_generation or \
            when < self.kill_at - ACK_WINDOW

    def acked_before(self, t: float) -> int:
        """Acknowledged events sent before monotonic time `t`."""
        return sum(1 for _, when, gen in list(self.sent) if when < t and self._acked(when, gen))


def faust_changelogs_raw() -> bool:
    """Whether every Faust table of a worker writes and reads its changelog as raw bytes.

    A table given only `schema=raw_schema()` keeps Faust's default json serializers for its
    changelog (faust.tables.base.Collection: `_serializer_from_type(self.key_type)` gives
    "json" unless key_type/value_type is bytes), so a restarted or rebalanced worker cannot
    decode its state ("Error in recovery ... utf-8 / Expecting value") and runs on with
    empty tables.
    """
    from posguard.streams.app import WorkerConfig, create_app
    from posguard.streams.extensions import default_extensions

    ctx = create_app(WorkerConfig(bootstrap="127.0.0.1:9"), default_extensions({}))
    return all(t.key_serializer == "raw" and t.value_serializer == "raw"
               for t in ctx.app.tables.values())


FAUST_STATE_REASON = (  # fixed in d8eb312 (the condition is then false); kept as a guard
    "Faust table state is lost when a worker restarts or takes over partitions: "
    "streams/app.py _add_receipt_assembly and streams/detection.py make_scope_agent create "
    "app.Table(..., schema=raw_schema()) without key_type=bytes, value_type=bytes, so the "
    "changelog is written with Faust's json serializer and recovery fails ('Error in recovery "
    "... utf-8 codec can't decode'); detectors restart from empty state and miss incidents "
    "whose receipts/windows span the restart. Fix: app.Table(name, key_type=bytes, "
    "value_type=bytes, schema=raw_schema(), ...) in both places.")


def repartition_duplicates(stack: Stack, timeout: float = 5.0) -> int:
    """Events carried more than once on the cashier/card repartition topics (each record
    there is a bundle of one key's events of one pos.events partition)."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    from posguard.model.codec import decode_event
    from posguard.streams.routing import decode_routed

    c = Consumer({"bootstrap.servers": stack.bootstrap, "group.id": uuid.uuid4().hex,
                  "enable.partition.eof": True})
    tps = [TopicPartition(stack.topics.repartition(s), p, OFFSET_BEGINNING)
           for s in ("cashier", "card") for p in range(PARTITIONS)]
    c.assign(tps)
    seen: Counter[tuple[str, str]] = Counter()
    eof: set[tuple[str, int]] = set()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and len(eof) < len(tps):
            for m in c.consume(1000, 0.5):
                if m.error() is not None:
                    eof.add((m.topic(), m.partition()))
                    continue
                for _, raw in decode_routed(m.value() or b"").events:
                    seen[(m.topic(), decode_event(raw).event_id)] += 1
    finally:
        c.close()
    return sum(n - 1 for n in seen.values() if n > 1)


def wait_port(port: int, timeout: float = 30) -> None:
    assert wait_for_port("127.0.0.1", port, timeout), f"nothing listens on {port}"


# -- reconciliation ---------------------------------------------------------------------------

@dataclass
class Outcome:
    """What reconciliation found."""

    sent: int
    acked: int
    stored_rows: int
    lost: list[str]  # acknowledged, not stored
    doubled: dict[str, int]  # stored more than once
    unexpected: list[str]  # stored, never sent
    out_of_order: dict[str, int]  # terminal -> first position where the order differs
    incidents_expected: int
    incidents_rows: int
    incidents_missing: list[str]
    incidents_extra: list[str]
    incidents_doubled: dict[str, int]
    recover_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    incidents_final_rows: int = 0
    incidents_distinct: int = 0
    repartition_doubles: int = 0

    @property
    def events_clean(self) -> bool:
        return not (self.lost or self.doubled or self.unexpected or self.out_of_order)

    @property
    def incidents_clean(self) -> bool:
        """Every expected incident stored, nothing else, one row each as read (FINAL).
        Raw doubles (a replayed event re-sending its incident: at least once by design) are
        reported, not failed: the incidents table is a ReplacingMergeTree keyed by id."""
        return not (self.incidents_missing or self.incidents_extra
                    or self.incidents_final_rows != self.incidents_distinct)

    @property
    def clean(self) -> bool:
        return self.events_clean and self.incidents_clean

    def explain(self) -> str:
        def head(x: Any) -> Any:
            return list(x)[:5] if not isinstance(x, dict) else dict(list(x.items())[:5])
        return (f"sent {self.sent}, acked {self.acked}, stored rows {self.stored_rows}; "
                f"lost {len(self.lost)} {head(self.lost)}; doubled {len(self.doubled)} "
                f"{head(self.doubled)}; unexpected {len(self.unexpected)}; out of order "
                f"{self.out_of_order}; incidents expected {self.incidents_expected}, rows "
                f"{self.incidents_rows}, missing {len(self.incidents_missing)} "
                f"{head(self.incidents_missing)}, extra {len(self.incidents_extra)} "
                f"{head(self.incidents_extra)}, raw doubles {len(self.incidents_doubled)} "
                f"{head(self.incidents_doubled)}, FINAL rows {self.incidents_final_rows} for "
                f"{self.incidents_distinct} ids; {'; '.join(self.notes)}")


def _mark(event_id: str, article: str) -> str:
    return article if article.startswith(MARK) else event_id


def stored_events(stack: Stack) -> list[PosEvent]:
    """Every stored row (raw), each terminal's in Kafka order (topic incarnations by their
    first arrival, then offset)."""
    cols = ", ".join(EVENT_COLUMNS)
    rows = stack.backend.query(f"SELECT {cols} FROM {stack.db}.events").rows
    idx = {c: i for i, c in enumerate(EVENT_COLUMNS)}
    first: dict[str, int] = {}
    for r in rows:
        tid = r[idx["kafka_topic_id"]]
        first[tid] = min(first.get(tid, 2**63), int(r[idx["ts_received"]]))
    rows.sort(key=lambda r: (first[r[idx["kafka_topic_id"]]], r[idx["kafka_partition"]],
                             r[idx["kafka_offset"]]))
    fields = [c for c in EVENT_COLUMNS if not c.startswith("kafka_")]
    return [PosEvent(**{f: _py(r[idx[f]]) for f in fields}) for r in rows]


def _py(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v


def stored_incident_rows(stack: Stack) -> Counter[str]:
    rows = stack.backend.query(
        f"SELECT id, count() FROM {stack.db}.incidents WHERE version = 0 GROUP BY id").rows
    return Counter({str(i): int(n) for i, n in rows})


def reconcile(stack: Stack, sent: Sequence[PosEvent], acked: Sequence[PosEvent],
              config: DetectorConfig | None = None) -> Outcome:
    """Compare what the store holds with what was sent and acknowledged, and the stored
    incidents with what the detectors raise over the stored events."""
    stored = stored_events(stack)
    marks = Counter(_mark(e.event_id, e.article) for e in stored)
    sent_marks = {e.event_id for e in sent}
    lost = [e.event_id for e in acked if e.event_id not in marks]
    doubled = {m: n for m, n in marks.items() if n > 1}
    unexpected = [m for m in marks if m not in sent_marks]
    # per terminal: the stored order (first copies) is the order sent
    pos = {e.event_id: i for i, e in enumerate(sent)}
    order: dict[str, int] = {}
    by_term: dict[str, list[int]] = defaultdict(list)
    seen: set[str] = set()
    for e in stored:
        m = _mark(e.event_id, e.article)
        if m in pos and m not in seen:
            seen.add(m)
            by_term[e.pos_terminal].append(pos[m])
    for term, idxs in by_term.items():
        for k in range(1, len(idxs)):
            if idxs[k] < idxs[k - 1]:
                order[term] = k
                break
    unique: list[PosEvent] = []
    kept: set[str] = set()
    for e in stored:
        if e.event_id not in kept:
            kept.add(e.event_id)
            unique.append(e)
    engine = DetectorEngine.from_config(config or default_config())
    raised = {i.id: i for i in run_archive(engine, unique)}
    expected = set(raised)
    rows = stored_incident_rows(stack)
    missing_by = Counter(raised[i].detector for i in expected - set(rows))
    notes = [f"missing incidents by detector {dict(missing_by)}"] if missing_by else []
    pos_of = {e.event_id: i for i, e in enumerate(sent)}
    last = sorted(max((pos_of.get(r, -1) for r in raised[i].related_events), default=-1)
                  for i in expected - set(rows))
    if last:
        notes.append(f"their triggering events are at positions {last[:3]}..{last[-3:]} "
                     f"of {len(sent)} sent")
    extra = sorted(set(rows) - expected)
    if extra:
        for iid, det, rel in stack.backend.query(
                f"SELECT id, detector, related_events FROM {stack.db}.incidents "
                "WHERE id IN {ids:Array(String)} AND version = 0", {"ids": extra[:5]}).rows:
            notes.append(f"extra {iid} {det} on events at "
                         f"{[pos_of.get(r, -1) for r in rel][:8]}")
    final, distinct = stack.backend.query(
        f"SELECT count(), uniqExact(id) FROM {stack.db}.incidents FINAL WHERE version = 0"
    ).rows[0]
    return Outcome(notes=notes, incidents_final_rows=int(final), incidents_distinct=int(distinct),
        sent=len(sent), acked=len(acked), stored_rows=len(stored), lost=lost,
        doubled=doubled, unexpected=unexpected, out_of_order=order,
        incidents_expected=len(expected), incidents_rows=sum(rows.values()),
        incidents_missing=sorted(expected - set(rows)),
        incidents_extra=sorted(set(rows) - expected),
        incidents_doubled={i: n for i, n in rows.items() if n > 1})


def ready(stack: Stack, *procs: Proc) -> float:
    """Wait until each worker's sink has partitions and its Faust agents run."""
    return wait_until(lambda: all(stack.sink_assigned(p) and stack.agents_running(p)
                                  for p in procs), 90, "workers ready", procs)


def recovered(stack: Stack, traffic: PublisherTraffic | TerminalTraffic, since: float,
              procs: Iterable[Proc], lag: float = 1.0, timeout: float = 120) -> float:
    """Seconds from `since` (the fault) until the store again holds every event acknowledged
    more than `lag` seconds earlier: the pipeline keeps up again."""
    def caught_up() -> bool:
        now = time.monotonic()
        return now > since + lag + 0.5 and \
            stack.stored_count() >= traffic.acked_before(now - lag)
    took = wait_until(caught_up, timeout, "the pipeline to catch up", procs, 0.1, soft=True)
    return took if took == float("inf") else time.monotonic() - since


def settle(stack: Stack, want_events: int, timeout: float = 60,
           procs: Iterable[Proc] = ()) -> float:
    """Wait until `want_events` rows are stored (at most `timeout`: then the reconciliation
    tells what is missing) and the incident rows stop changing (the agents lag behind the
    sink); returns the seconds waited."""
    t0 = time.monotonic()
    wait_until(lambda: stack.stored_count() >= want_events, timeout,
               f"{want_events} events stored", procs, soft=True)
    last, stable_since = -1, time.monotonic()
    while time.monotonic() - stable_since < 4.0 and time.monotonic() - t0 < timeout:
        n = sum(stored_incident_rows(stack).values()) + stack.stored_count()
        if n != last:
            last, stable_since = n, time.monotonic()
        time.sleep(0.5)
    return time.monotonic() - t0


# -- the session's summary table --------------------------------------------------------------

@dataclass
class Summary:
    rows: list[tuple[str, int, int, int, int, str, str]] = field(default_factory=list)

    def add(self, scenario: str, o: Outcome, note: str = "") -> None:
        self.rows.append((scenario, o.sent, o.stored_rows, len(o.lost),
                          sum(n - 1 for n in o.doubled.values()),
                          f"{o.recover_seconds:.1f}s",
                          note or (f"incidents {o.incidents_rows}/{o.incidents_expected}"
                                   f" missing {len(o.incidents_missing)} extra "
                                   f"{len(o.incidents_extra)} raw doubles "
                                   f"{len(o.incidents_doubled)}")))

    def table(self) -> list[str]:
        head = ("scenario", "sent", "stored", "lost", "doubled", "recover", "notes")
        rows = [head, *[tuple(str(c) for c in r) for r in self.rows]]
        widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
        return [" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]


SUMMARY = Summary()


def api(url: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"},
                        timeout=30)
