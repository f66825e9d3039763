"""Consumer lag against the real broker: produce N per partition, commit k with a group, see
N - k per partition; the monitor caches; /metrics shows the series.

Records are produced one per batch: Tansu reports a high watermark as the last batch's base
offset + 1 (see posguard.streams.consumer_lag), which is exact only then.
"""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Iterator

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from posguard.console.metrics import node_lag_monitor
from posguard.streams.consumer_lag import LagMonitor, PartitionLag, consumer_lag
from posguard.streams.topics import Topics

pytestmark = pytest.mark.integration

PRODUCED = {0: 10, 1: 6, 2: 3}
COMMITTED = {0: 4, 1: 6}  # partition 2: nothing committed yet


@pytest.fixture
def admin(kafka_bootstrap: str) -> AdminClient:
    return AdminClient({"bootstrap.servers": kafka_bootstrap})


def _topic(admin: AdminClient, partitions: int = 3) -> str:
    name = f"lag.{uuid.uuid4().hex[:10]}"
    for fut in admin.create_topics([NewTopic(name, partitions, 1)]).values():
        fut.result(15)
    return name


def _produce(bootstrap: str, topic: str, counts: dict[int, int]) -> None:
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0, "batch.num.messages": 1})
    for partition, n in counts.items():
        for i in range(n):
            p.produce(topic, f"m{i}".encode(), partition=partition)
            p.flush(10)  # one record per batch (Tansu's high watermark)
    assert p.flush(10) == 0


def _commit(bootstrap: str, group: str, topic: str, offsets: dict[int, int]) -> None:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                  "enable.auto.commit": False})
    try:
        c.commit(offsets=[TopicPartition(topic, p, o) for p, o in offsets.items()],
                 asynchronous=False)
    finally:
        c.close()


@pytest.fixture
def lagged(kafka_bootstrap: str, admin: AdminClient) -> Iterator[tuple[str, str]]:
    """A topic with PRODUCED records per partition and a group that committed COMMITTED."""
    topic, group = _topic(admin), f"g.{uuid.uuid4().hex[:8]}"
    _produce(kafka_bootstrap, topic, PRODUCED)
    _commit(kafka_bootstrap, group, topic, COMMITTED)
    yield topic, group
    for fut in admin.delete_topics([topic]).values():
        fut.result(15)


def test_lag_is_produced_minus_committed_per_partition(
        admin: AdminClient, lagged: tuple[str, str]) -> None:
    topic, group = lagged
    lags = consumer_lag(admin, {group: [topic]})
    assert lags == [
        PartitionLag(group, topic, 0, committed=4, high=10, lag=6),
        PartitionLag(group, topic, 1, committed=6, high=6, lag=0),
        PartitionLag(group, topic, 2, committed=-1, high=3, lag=3),  # from the earliest
    ]


def test_groups_topics_committed_on_are_found_and_missing_topics_skipped(
        kafka_bootstrap: str, admin: AdminClient, lagged: tuple[str, str]) -> None:
    topic, group = lagged
    other = _topic(admin, partitions=1)
    _produce(kafka_bootstrap, other, {0: 2})
    _commit(kafka_bootstrap, group, other, {0: 1})
    lags = consumer_lag(admin, {group: [f"missing.{uuid.uuid4().hex[:6]}"],
                                f"fresh.{uuid.uuid4().hex[:6]}": [topic]})
    mine = {(p.topic, p.partition): p.lag for p in lags if p.group == group}
    assert mine == {(topic, 0): 6, (topic, 1): 0, (topic, 2): 3,  # all of a topic it reads
                    (other, 0): 1}  # found by its commits
    fresh = [p.lag for p in lags if p.group != group]
    assert fresh == [10, 6, 3]  # a group that never committed owes everything
    for fut in admin.delete_topics([other]).values():
        fut.result(15)


def test_monitor_caches_for_max_age(kafka_bootstrap: str, lagged: tuple[str, str]) -> None:
    topic, group = lagged
    now = [100.0]
    monitor = LagMonitor(kafka_bootstrap, {group: [topic]}, max_age=5.0,
                         clock=lambda: now[0])
    first = monitor.snapshot()
    assert first.ok and [p.lag for p in first.lags] == [6, 0, 3]
    _produce(kafka_bootstrap, topic, {0: 2})
    now[0] += 4.9
    assert monitor.snapshot() is first and monitor.queries == 1  # a scrape storm: one query
    now[0] += 0.2
    second = monitor.snapshot()
    assert monitor.queries == 2 and [p.lag for p in second.lags] == [8, 0, 3]


def test_unreachable_broker_is_reported_not_raised() -> None:
    from posguard.streams.broker import free_port

    monitor = LagMonitor(f"127.0.0.1:{free_port()}", {"g": ["t"]}, timeout=1.0)
    snap = monitor.snapshot()
    assert not snap.ok and snap.lags == () and snap.error
    assert monitor.snapshot() is snap  # cached: a dead broker is not asked per scrape


def test_metrics_route_shows_lag_and_incidents_per_detector(
        kafka_bootstrap: str, lagged: tuple[str, str], tmp_path: object) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # starlette asks for its httpx fork
        from fastapi.testclient import TestClient

    from posguard.console.api import create_api
    from posguard.console.settings import Settings
    from posguard.console.state import NodeState
    from posguard.detectors.config import default_config

    topic, group = lagged
    config = default_config()
    guid, kind = config.detectors[0].guid, config.detectors[0].type
    settings = Settings(app_id=f"app{uuid.uuid4().hex[:6]}")
    state = NodeState(settings=settings, backend=None, api_token="tok",  # type: ignore[arg-type]
                      bootstrap=kafka_bootstrap)
    state.metrics["worker"] = lambda: {"events_assembled": 9, f"incidents_raised:{guid}": 2}
    state.extras["detector_config"] = config
    node_monitor = node_lag_monitor(kafka_bootstrap, settings.app_id, Topics("none."))
    node_monitor.groups[group] = (topic,)  # this test's group beside the node's (no topics)
    state.extras["consumer_lag"] = node_monitor
    client = TestClient(create_api(state))
    assert client.get("/metrics").status_code == 401
    text = client.get("/metrics", headers={"Authorization": "Bearer tok"}).text
    assert "posguard_worker_events_assembled 9" in text
    assert f'posguard_incidents_total{{detector="{guid}",type="{kind}"}} 2' in text
    for partition, lag in ((0, 6), (1, 0), (2, 3)):
        assert (f'posguard_consumer_lag{{group="{group}",topic="{topic}",'
                f'partition="{partition}"}} {lag}') in text
    assert "posguard_consumer_lag_up 1" in text


def test_metrics_route_builds_the_node_monitor(kafka_bootstrap: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    from posguard.console.api import create_api
    from posguard.console.settings import Settings
    from posguard.console.state import NodeState

    state = NodeState(settings=Settings(topic_prefix=f"t{uuid.uuid4().hex[:8]}."),
                      backend=None, api_token="tok",  # type: ignore[arg-type]
                      bootstrap=kafka_bootstrap)
    client = TestClient(create_api(state))
    text = client.get("/metrics", headers={"Authorization": "Bearer tok"}).text
    assert "posguard_consumer_lag_up 1" in text  # topics absent: no series, but Kafka answered
    monitor = state.extras["consumer_lag"]
    assert isinstance(monitor, LagMonitor)
    assert set(monitor.groups) == {"posguard", "posguard.sink"}
