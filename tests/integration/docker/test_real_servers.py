"""The same pipeline against real Apache Kafka and ClickHouse server images (testcontainers).

Opt-in: needs a Docker engine and POSGUARD_DOCKER_TESTS=1; skipped with the reason elsewhere.
"""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from tests.conftest import docker_available

REASON = docker_available()
pytestmark = [pytest.mark.docker, pytest.mark.skipif(REASON is not None, reason=str(REASON))]


@pytest.fixture(scope="module")
def kafka_server():  # type: ignore[no-untyped-def]
    from testcontainers.kafka import KafkaContainer

    with KafkaContainer("confluentinc/cp-kafka:7.6.0") as k:
        yield k.get_bootstrap_server()


@pytest.fixture(scope="module")
def clickhouse_server():  # type: ignore[no-untyped-def]
    from testcontainers.clickhouse import ClickHouseContainer

    with ClickHouseContainer("clickhouse/clickhouse-server:24.8") as ch:
        host, port = ch.get_container_host_ip(), ch.get_exposed_port(8123)
        yield f"http://{ch.username}:{ch.password}@{host}:{port}"


def test_sink_exactly_once_on_real_servers(kafka_server: str, clickhouse_server: str) -> None:
    from posguard.ingest.publisher import EventPublisher
    from posguard.ingest.simulator import ChainSimulator
    from posguard.store import open_backend
    from posguard.store.search import count_distinct_events
    from posguard.streams.sink import ClickHouseSink
    from posguard.streams.topics import Topics, ensure_topics

    topics = Topics(prefix=f"d{uuid.uuid4().hex[:8]}.")
    ensure_topics(kafka_server, topics, 4)
    backend = open_backend(clickhouse_server, "", database=f"d_{uuid.uuid4().hex[:8]}")
    pub = EventPublisher(kafka_server, topics)
    pub.publish_many(ChainSimulator(2, 2, seed=4).events(2000, 1_796_000_000_000_000))
    assert pub.flush(60) == 0
    for _ in range(2):  # the second sink (new group) must add nothing
        sink = ClickHouseSink(kafka_server, topics, backend, group=uuid.uuid4().hex)
        t = threading.Thread(target=sink.run, daemon=True)
        t.start()
        deadline = time.monotonic() + 120
        while count_distinct_events(backend, 0, 2**62)[0] < 2000 and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(3)
        sink.stop()
        t.join(30)
    assert count_distinct_events(backend, 0, 2**62) == (2000, 2000)
