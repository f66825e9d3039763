"""Sink and consume figures (issue 8 #2 and the consume baseline of #1).

- sink: rows/s from a pre-filled pos.events topic into chDB through ClickHouseSink
  (decode, insert per partition with dedup token, commit), against a bare bulk insert of the
  same rows (no Kafka) and a bare confluent-kafka consume loop over the same topic.
"""

from __future__ import annotations

import threading
import time
import uuid

from confluent_kafka import Consumer

from bench.common import broker, filled_topics, fresh_store, sim_events, size
from bench.table import row
from posguard.store.search import count_distinct_events
from posguard.store.writer import insert_events
from posguard.streams.sink import ClickHouseSink


def bare_consume(bootstrap: str, topic: str, n: int) -> float:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": uuid.uuid4().hex,
                  "auto.offset.reset": "earliest", "enable.auto.commit": False,
                  "session.timeout.ms": 6000, "log_level": 3})
    c.subscribe([topic])
    got, start = 0, None
    while got < n:
        msgs = c.consume(20000, 1.0)
        if msgs and start is None:
            start = time.perf_counter()  # time from the first message: group join excluded
        got += sum(1 for m in msgs if not m.error())
    took = time.perf_counter() - (start or time.perf_counter())
    c.close()
    return n / took


def sink_rate(bootstrap: str, topics, n: int) -> float:  # type: ignore[no-untyped-def]
    store = fresh_store()
    sink = ClickHouseSink(bootstrap, topics, store, group=uuid.uuid4().hex, batch_size=20000,
                          consumer_config={"session.timeout.ms": 6000})
    t = threading.Thread(target=sink.run, daemon=True)
    t.start()
    while sink.stats.events == 0:
        time.sleep(0.01)
    start = time.perf_counter() - sink.stats.last_batch_seconds
    while count_distinct_events(store, 0, 2**62)[0] < n:
        time.sleep(0.05)
    took = time.perf_counter() - start
    sink.stop()
    t.join(30)
    return n / took


def bulk_insert_rate(events) -> float:  # type: ignore[no-untyped-def]
    store = fresh_store()
    start = time.perf_counter()
    for i in range(0, len(events), 20000):
        insert_events(store, events[i:i + 20000])
    return len(events) / (time.perf_counter() - start)


def run() -> list[dict]:
    n = size("sink_events", 200_000)
    events = sim_events(n)
    topics = filled_topics(events)
    bootstrap = broker().bootstrap
    consume = bare_consume(bootstrap, topics.events, n)
    sink = sink_rate(bootstrap, topics, n)
    bulk = bulk_insert_rate(events)
    return [
        row("sink rows/s (Kafka -> chDB, exactly once)", sink, "rows/s", bulk,
            "bare bulk insert, same rows", ">= 200,000 rows/s"),
        row("sink vs bare consume loop", sink, "rows/s", consume,
            "bare confluent-kafka consume", ""),
    ]


if __name__ == "__main__":
    from bench.table import print_table

    print_table(run())
