"""End to end through the node as a separate process: publish -> Kafka -> worker -> chDB.

The node runs `posguard up --kafka <test broker>` with its own chDB data folder; the test
publishes simulated events and reads counts back through the node's HTTP API.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

from posguard.ingest.publisher import EventPublisher
from posguard.ingest.simulator import ChainSimulator
from posguard.streams.broker import free_port
from posguard.streams.topics import Topics, ensure_topics

pytestmark = [pytest.mark.integration, pytest.mark.e2e]
N = 10_000


class NodeProcess:
    def __init__(self, bootstrap: str, topics: Topics, data: Path):
        self.port = free_port()
        self.data = data
        self.args = [sys.executable, "-m", "posguard.console.cli", "up", "--kafka", bootstrap,
                     "--data", str(data), "--http", f"127.0.0.1:{self.port}", "--partitions", "4",
                     "--topic-prefix", topics.prefix, "--app-id", f"e2e-{topics.prefix}",
                     "--session-timeout", "6", "--rebalance-timeout", "6", "--log-level",
                     "warning", "--sink-batch", "2000", "--producer-batch-bytes", "1"]
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = data / "node.log"

    def start(self) -> None:
        self.data.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(self.args, stdout=self.log.open("ab"),
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/api/health", timeout=1).is_success:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError("node did not come up: " + self.log.read_text()[-3000:])

    def counts(self) -> dict[str, int]:
        token = (self.data / "api-token").read_text().strip()
        r = httpx.get(f"http://127.0.0.1:{self.port}/api/events/count",
                      headers={"Authorization": f"Bearer {token}"}, timeout=30)
        r.raise_for_status()
        return r.json()  # type: ignore[no-any-return]

    def wait_for_count(self, n: int, timeout: float = 180) -> dict[str, int]:
        deadline = time.monotonic() + timeout
        c = self.counts()
        while c["count"] < n and time.monotonic() < deadline:
            time.sleep(0.5)
            c = self.counts()
        time.sleep(2)  # let anything doubled show up before the final read
        return self.counts()

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def node(kafka_bootstrap: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    topics = Topics(prefix=f"e{uuid.uuid4().hex[:8]}.")
    ensure_topics(kafka_bootstrap, topics, 4)
    n = NodeProcess(kafka_bootstrap, topics, tmp_path / "node")
    n.topics = topics  # type: ignore[attr-defined]
    n.start()
    yield n
    n.stop()


def events(seed: int) -> list:  # type: ignore[type-arg]
    return list(ChainSimulator(4, 5, seed=seed).events(N, int(time.time() * 1e6) - 10**9, 10))


def test_ten_thousand_events_stored_exactly_once(node, kafka_bootstrap) -> None:  # type: ignore[no-untyped-def]
    pub = EventPublisher(kafka_bootstrap, node.topics)
    pub.publish_many(events(1))
    assert pub.flush(60) == 0
    assert node.wait_for_count(N) == {"count": N, "distinct": N}


def test_worker_killed_mid_stream_loses_and_doubles_nothing(node, kafka_bootstrap) -> None:  # type: ignore[no-untyped-def]
    evs = events(2)
    pub = EventPublisher(kafka_bootstrap, node.topics)
    done = threading.Event()

    def steady() -> None:  # ~4,000 ev/s, so the kill lands mid-stream
        for i in range(0, N, 200):
            pub.publish_many(evs[i:i + 200])
            pub.flush(30)
            time.sleep(0.05)
        done.set()

    t = threading.Thread(target=steady)
    t.start()
    deadline = time.monotonic() + 60
    while node.counts()["count"] < N // 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    stored_before = node.counts()["count"]
    node.kill()
    assert 0 < stored_before < N, "the kill must land mid-stream"
    node.start()
    t.join(120)
    assert done.is_set() and pub.flush(30) == 0
    assert node.wait_for_count(N) == {"count": N, "distinct": N}
    if os.environ.get("POSGUARD_TEST_VERBOSE"):
        print("stored before kill:", stored_before)


def test_cli_search_prints_documented_fields(node, kafka_bootstrap) -> None:  # type: ignore[no-untyped-def]
    import json

    pub = EventPublisher(kafka_bootstrap, node.topics)
    evs = list(ChainSimulator(1, 2, seed=5).events(300, int(time.time() * 1e6) - 10**8, 10))
    pub.publish_many(evs)
    assert pub.flush(30) == 0
    node.wait_for_count(300)
    base = [sys.executable, "-m", "posguard.console.cli", "search", "--data", str(node.data),
            "--http", f"127.0.0.1:{node.port}"]
    out = subprocess.run(base + ["--last", "1h", "--limit", "5", "--format", "json"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert len(rows) == 5
    documented = {"article", "barcode", "cashier_name", "discount", "op_id", "pos_terminal",
                  "pos_terminal_name", "position", "price", "quantity", "text", "type", "weight",
                  "ts_received"}
    assert documented <= set(rows[0])
    want = [e for e in evs if e.type == "POS_POSITION_ADD_BY_SCANNER"][0]
    out = subprocess.run(base + ["--last", "1h", "--receipt", want.op_id, "--terminal",
                                 want.pos_terminal, "--text", want.text[:4], "--text-mode",
                                 "starts", "--format", "csv"], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    expected = [e for e in evs if e.op_id == want.op_id and e.pos_terminal == want.pos_terminal
                and any(f.lower().startswith(want.text[:4].lower())
                        for f in (e.text, e.article, e.barcode))]
    assert len(out.stdout.strip().splitlines()) == 1 + len(expected)
    bad = subprocess.run(base + ["--last", "soon"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and "bad duration" in bad.stderr
