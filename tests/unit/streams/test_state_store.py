"""ForwardOnlyStore: a changelog replay never moves a key back to an older state."""

from __future__ import annotations

from types import SimpleNamespace

import faust

from posguard.streams.state_store import STATE_STORE, ForwardOnlyStore, is_older
from posguard.streams.table_values import KeyedValue, pack


def value(version: int, state: bytes = b"s") -> bytes:
    return pack(KeyedValue(offset=version * 10, state=state, version=version))


def record(key: bytes, raw: bytes | None, partition: int = 0) -> SimpleNamespace:
    """What Faust hands apply_changelog_batch: an event with key, value and its message."""
    return SimpleNamespace(key=key, value=raw,
                           message=SimpleNamespace(partition=partition, value=raw))


def store() -> ForwardOnlyStore:
    app = faust.App("test-state-store", broker="memory://", store="memory://")
    table = app.Table("t", key_type=bytes, value_type=bytes, store=STATE_STORE)
    assert isinstance(table.data, ForwardOnlyStore)  # what the worker's tables get
    return table.data


def apply(s: ForwardOnlyStore, *records: SimpleNamespace) -> None:
    s.apply_changelog_batch(list(records), lambda k: k, lambda v: v)


def test_older_records_do_not_replace_a_newer_state() -> None:
    s = store()
    s.data[b"T1"] = value(5, b"mine")  # what the agent wrote last
    apply(s, record(b"T1", value(3)), record(b"T1", value(4)))  # its own records echoed
    assert s.data[b"T1"] == value(5, b"mine")


def test_newer_and_equal_records_replace_it() -> None:
    s = store()
    s.data[b"T1"] = value(5, b"stale")
    apply(s, record(b"T1", value(5, b"theirs")))
    assert s.data[b"T1"] == value(5, b"theirs")
    apply(s, record(b"T1", value(6, b"later")), record(b"T2", value(1)))
    assert s.data[b"T1"] == value(6, b"later") and s.data[b"T2"] == value(1)


def test_tombstones_delete_and_recovery_forgets_partitions_given_away() -> None:
    s = store()
    apply(s, record(b"T1", value(1), partition=0), record(b"", value(1), partition=1),
          record(b"", None, partition=1), record(b"T3", value(2), partition=2))
    assert b"" not in s.data and b"T1" in s.data
    import asyncio

    from faust.types import TP
    asyncio.run(s.on_recovery_completed({TP("t", 0)}, set()))
    assert set(s.data) == {b"T1"}


def test_is_older_compares_versions_only_of_keyed_values() -> None:
    assert is_older(value(1), value(2)) and not is_older(value(2), value(2))
    assert not is_older(value(1), None) and not is_older(b"\xc1not msgpack", value(2))


def test_every_worker_table_uses_it() -> None:
    from posguard.streams.app import WorkerConfig, create_app
    from posguard.streams.extensions import default_extensions

    ctx = create_app(WorkerConfig(bootstrap="127.0.0.1:9"), default_extensions({}))
    assert ctx.app.tables, "the worker has tables"
    assert all(isinstance(t.data, ForwardOnlyStore) for t in ctx.app.tables.values())
