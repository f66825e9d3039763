"""Writes: structs to column blocks, one INSERT per batch (the only INSERT code besides
migrations)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from posguard.model.events import PosEvent
from posguard.model.frauds import FraudRecord
from posguard.model.incidents import Incident
from posguard.model.receipts import Receipt
from posguard.store.backends.base import Backend
from posguard.store.schema import EVENT_COLUMNS, INCIDENT_COLUMNS, RECEIPT_COLUMNS

__all__ = [
    "insert_events", "insert_consumed_events", "insert_receipts", "insert_incidents", "event_columns", "stored_offsets",
    "insert_new_incidents", "recent_event_ids", "insert_frauds", "new_incidents",
    "new_receipts",
]

_EVENT_FIELDS = EVENT_COLUMNS[:-3]  # the kafka_* columns come from the sink


def event_columns(events: Sequence[PosEvent], topic_id: str = "",
                  partition: int | Sequence[int] = -1,
                  offsets: Sequence[int] | None = None) -> list[list[Any]]:
    """Column-oriented data for `events` in EVENT_COLUMNS order (`partition`: one for all,
    or one per event)."""
    cols: list[list[Any]] = [[getattr(e, f) for e in events] for f in _EVENT_FIELDS]
    cols.append([topic_id] * len(events))
    cols.append([partition] * len(events) if isinstance(partition, int) else list(partition))
    cols.append(list(offsets) if offsets is not None else [-1] * len(events))
    return cols


def insert_events(backend: Backend, events: Sequence[PosEvent], *, topic_id: str = "",
                  partition: int = -1, offsets: Sequence[int] | None = None,
                  dedup_token: str | None = None) -> None:
    """Insert events as one block; topic id, partition and offsets record where in Kafka
    they came from, so the sink resumes after the last stored offset (exactly once)."""
    if events:
        backend.insert(f"{backend.database}.events", EVENT_COLUMNS,
                       event_columns(events, topic_id, partition, offsets), dedup_token)


def insert_consumed_events(backend: Backend, events: Sequence[PosEvent],
                           raws: Sequence[bytes], *, topic_id: str, partitions: Sequence[int],
                           offsets: Sequence[int], dedup_token: str | None = None) -> None:
    """Insert events consumed from Kafka as one block: `raws` their JSON as consumed (valid,
    the caller has decoded each into `events`), `partitions` and `offsets` per event.

    A backend that parses JSON itself (chDB, `insert_json`) gets the raw JSON and splits it
    outside the GIL; the others get columns built from the decoded events (as
    `insert_events`). A field left out of the JSON is the type's zero value, which is every
    PosEvent default, so both store the same rows."""
    if not events:
        return
    table = f"{backend.database}.events"
    insert_json = getattr(backend, "insert_json", None)
    if insert_json is None:
        backend.insert(table, EVENT_COLUMNS,
                       event_columns(events, topic_id, partitions, offsets), dedup_token)
        return
    insert_json(table, _EVENT_FIELDS, raws, {
        "kafka_topic_id": [topic_id] * len(raws),
        "kafka_partition": list(partitions),
        "kafka_offset": list(offsets)}, dedup_token)


def stored_offsets(backend: Backend, topic_id: str, partitions: Sequence[int]) -> dict[int, int]:
    """The highest Kafka offset stored per partition of the topic incarnation `topic_id`."""
    if not topic_id or not partitions:
        return {}
    rows = backend.query(
        f"SELECT kafka_partition, max(kafka_offset) FROM {backend.database}.events "
        "WHERE kafka_topic_id = {tid:String} AND kafka_partition IN {ps:Array(Int32)} "
        "GROUP BY kafka_partition",
        {"tid": topic_id, "ps": list(partitions)},
    )
    return {int(p): int(o) for p, o in rows.rows}


def insert_receipts(backend: Backend, receipts: Sequence[Receipt],
                    dedup_token: str | None = None) -> None:
    """Insert finished receipts as one block."""
    if receipts:
        cols = [[getattr(r, f) for r in receipts] for f in RECEIPT_COLUMNS]
        backend.insert(f"{backend.database}.receipts", RECEIPT_COLUMNS, cols, dedup_token)


def insert_incidents(backend: Backend, incidents: Sequence[Incident], version: int = 0,
                     dedup_token: str | None = None) -> None:
    """Insert incidents (version 0 = as raised; reviews write higher versions)."""
    if incidents:
        cols = [[getattr(i, f) for i in incidents] for f in INCIDENT_COLUMNS[:-1]]
        cols.append([version] * len(incidents))
        backend.insert(f"{backend.database}.incidents", INCIDENT_COLUMNS, cols, dedup_token)


def new_incidents(backend: Backend, incidents: Sequence[Incident]) -> list[Incident]:
    """The incidents whose id is not stored yet, each once (the table is keyed by id)."""
    if not incidents:
        return []
    rows = backend.query(
        f"SELECT DISTINCT id FROM {backend.database}.incidents WHERE id IN {{ids:Array(String)}}",
        {"ids": list({i.id for i in incidents})})
    known = {r[0] for r in rows.rows}
    return list({i.id: i for i in incidents if i.id not in known}.values())


def new_receipts(backend: Backend, receipts: Sequence[Receipt]) -> list[Receipt]:
    """The receipts whose id is not stored yet, each once (looked up by close time first,
    the table's sort key, so the check reads a few granules)."""
    if not receipts:
        return []
    rows = backend.query(
        f"SELECT DISTINCT receipt_id FROM {backend.database}.receipts "
        "WHERE ts_close >= {t0:Int64} AND ts_close <= {t1:Int64} "
        "AND receipt_id IN {ids:Array(String)}",
        {"t0": min(r.ts_close for r in receipts), "t1": max(r.ts_close for r in receipts),
         "ids": list({r.receipt_id for r in receipts})})
    known = {r[0] for r in rows.rows}
    return list({r.receipt_id: r for r in receipts if r.receipt_id not in known}.values())


def insert_new_incidents(backend: Backend, incidents: Sequence[Incident]) -> int:
    """Insert only the incidents whose id is not stored yet (archive reruns add nothing).

    Returns:
        How many were new.
    """
    fresh = new_incidents(backend, incidents)
    insert_incidents(backend, fresh)
    return len(fresh)


def stored_event_ids(backend: Backend, events: Sequence[PosEvent]) -> set[str]:
    """Which of `events`' ids are stored already (under any topic id). Restricted to their
    hour buckets, the first key of the events table, so the check reads a few granules."""
    if not events:
        return set()
    rows = backend.query(
        f"SELECT DISTINCT event_id FROM {backend.database}.events "
        "WHERE intDiv(ts_received, 3600000000) IN {hours:Array(Int64)} "
        "AND event_id IN {ids:Array(String)}",
        {"hours": sorted({e.ts_received // 3_600_000_000 for e in events}),
         "ids": list({e.event_id for e in events})})
    return {r[0] for r in rows.rows}


def recent_event_ids(backend: Backend, topic_id: str, partition: int, last_offset: int,
                     window: int) -> list[str]:
    """Event ids stored from the last `window` offsets of a partition (sink dedup memory)."""
    rows = backend.query(
        f"SELECT event_id FROM {backend.database}.events WHERE kafka_topic_id = {{tid:String}} "
        "AND kafka_partition = {p:Int32} AND kafka_offset > {lo:Int64} ORDER BY kafka_offset",
        {"tid": topic_id, "p": partition, "lo": last_offset - window})
    return [r[0] for r in rows.rows]


_FRAUD_COLUMNS = ("event_id", "pos_terminal", "op_id", "text", "script", "ts_in_receipt",
                  "ts_received")


def insert_frauds(backend: Backend, frauds: Sequence[FraudRecord],
                  dedup_token: str | None = None) -> None:
    """Insert script alarms (pos_fraud) as one block."""
    if frauds:
        cols = [[getattr(f, c) for f in frauds] for c in _FRAUD_COLUMNS]
        backend.insert(f"{backend.database}.frauds", _FRAUD_COLUMNS, cols, dedup_token)
