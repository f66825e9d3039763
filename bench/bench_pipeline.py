"""Sink and consume figures (issue 8 #2 and the consume baseline of #1).

- sink: rows/s from a pre-filled pos.events topic into chDB through ClickHouseSink
  (decode, one insert per batch with dedup token, commit), against a bare bulk insert of the
  same rows (the same JSON rows through the same engine path, no Kafka) and a bare
  confluent-kafka consume loop over the same topic.
- the insert path: the events' JSON parsed by the engine (what the sink does) against
  Arrow arrays built per column in Python from decoded PosEvents (`insert_events`).
"""

from __future__ import annotations

import threading
import time
import uuid

from confluent_kafka import Consumer

from bench.common import broker, filled_topics, fresh_store, sim_events, size
from bench.table import row
from posguard.model.codec import encode
from posguard.model.events import PosEvent
from posguard.store.search import count_distinct_events
from posguard.store.writer import insert_consumed_events, insert_events
from posguard.streams.sink import DEFAULT_BATCH as BATCH  # also the bulk insert's block
from posguard.streams.sink import ClickHouseSink


def bare_consume(bootstrap: str, topic: str, n: int) -> float:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": uuid.uuid4().hex,
                  "auto.offset.reset": "earliest", "enable.auto.commit": False,
                  "session.timeout.ms": 6000, "log_level": 3,
                  "fetch.queue.backoff.ms": 10})  # as the sink
    c.subscribe([topic])
    got, start = 0, None
    while got < n:
        msgs = c.consume(BATCH, 1.0)
        if msgs and start is None:
            start = time.perf_counter()  # time from the first message: group join excluded
        got += sum(1 for m in msgs if not m.error())
    took = time.perf_counter() - (start or time.perf_counter())
    c.close()
    return n / took


def sink_rate(bootstrap: str, topics, n: int) -> float:  # type: ignore[no-untyped-def]
    store = fresh_store()
    sink = ClickHouseSink(bootstrap, topics, store, group=uuid.uuid4().hex, batch_size=BATCH,
                          consumer_config={"session.timeout.ms": 6000})
    t = threading.Thread(target=sink.run, daemon=True)
    t.start()
    while sink.stats.events == 0:
        time.sleep(0.01)
    # steady state: from the first stored batch to 95 % (the start-up and the last, partial
    # batch waiting out batch_wait are not the sink's rate); counted by the sink, as polling
    # the store would compete with it
    start, first = time.perf_counter(), sink.stats.events
    while sink.stats.events < 0.95 * n:
        time.sleep(0.01)
    rate = (sink.stats.events - first) / (time.perf_counter() - start)
    deadline = time.monotonic() + 60
    while count_distinct_events(store, 0, 2**62)[0] < n and time.monotonic() < deadline:
        time.sleep(0.1)
    sink.stop()
    t.join(30)
    stored = count_distinct_events(store, 0, 2**62)
    if stored != (n, n):  # (rows, distinct ids): each event exactly once
        raise RuntimeError(f"sink stored {stored} of {n} events")
    return rate


def bulk_insert_rate(events: list[PosEvent], as_json: bool) -> float:
    """Rows/s of inserting `events` in blocks of BATCH rows, as JSON or as Python columns."""
    store = fresh_store()
    rows = [encode(e) for e in events]
    start = time.perf_counter()
    for i in range(0, len(events), BATCH):
        block = events[i:i + BATCH]
        if as_json:  # the sink's path on chDB
            insert_consumed_events(store, block, rows[i:i + BATCH], topic_id="bench",
                                   partitions=[0] * len(block),
                                   offsets=range(i, i + len(block)), dedup_token=f"bench:{i}")
        else:
            insert_events(store, block)
    return len(events) / (time.perf_counter() - start)


def run() -> list[dict]:
    n = size("sink_events", 400_000)
    events = sim_events(n)
    topics = filled_topics(events)
    bootstrap = broker().bootstrap
    consume = bare_consume(bootstrap, topics.events, n)
    sink = sink_rate(bootstrap, topics, n)
    bulk = bulk_insert_rate(events, as_json=True)
    columns = bulk_insert_rate(events, as_json=False)
    return [
        row("sink rows/s (Kafka -> chDB, exactly once)", sink, "rows/s", bulk,
            "bare bulk insert, same rows", ">= 200,000 rows/s"),
        row("sink vs bare consume loop", sink, "rows/s", consume,
            "bare confluent-kafka consume", ""),
        row("insert: engine parses the JSON", bulk, "rows/s", columns,
            "Arrow columns built in Python", ""),
    ]


if __name__ == "__main__":
    from bench.table import print_table

    print_table(run())
