"""Store and search on both backends (chDB in-process, clickhouse-connect over HTTP)."""

from __future__ import annotations

import re

import pytest

from posguard.model.codec import encode
from posguard.model.events import PosEvent
from posguard.model.filters import SearchFlags, StringFilter, event_filter_from_dict
from posguard.store.errors import QueryError
from posguard.store.migrations import applied_versions, migrate
from posguard.store.schema import MIGRATIONS
from posguard.store.search import count_events, iter_events, search_events
from posguard.store.writer import insert_consumed_events, insert_events, stored_offsets

pytestmark = pytest.mark.integration

T0 = 1_796_000_000_000_000
HOSTILE = ["O'Brien", "'; DROP TABLE events; --", "back\\slash", "Молоко «Простоквашино»",
           "100%_off", "{p0:String}", "\x00nul", "two\nlines", "tab\there", "lit\\nslash",
           "\\'\\\\"]


def make_events() -> list[PosEvent]:
    rows = [
        ("T1", "Ivanov I", "100", "POS_POSITION_ADD", "Milk 3.2% 1l", "10001", "4607001234561"),
        ("T1", "Ivanov I", "100", "POS_POSITION_ADD", "Buttermilk", "10002", "0760557822035"),
        ("T1", "Ivanov I", "100", "POS_RECEIPT_CLOSE", "", "", ""),
        ("T2", "Petrova A", "200", "POS_POSITION_ADD_BY_SCANNER", "milk chocolate", "40010", "46"),
        ("T2", "Petrova A", "200", "POS_POSITION_DELETE", "Beer lager", "50001", "4600500000011"),
        ("T3", "Sidorov K", "300", "POS_POSITION_ADD", "MILK", "x-milk", ""),
    ]
    out = [PosEvent(type=t, pos_terminal=term, cashier_name=c, op_id=op, text=text,
                    article=art, barcode=bc, ts_in_receipt=T0 + i, ts_received=T0 + i,
                    event_id=f"e{i}", price=100 * i)
           for i, (term, c, op, t, text, art, bc) in enumerate(rows)]
    out += [PosEvent(type="POS_POSITION_ADD", pos_terminal="T9", cashier_name=h, text=h,
                     op_id=h, ts_in_receipt=T0 + 100 + i, ts_received=T0 + 100 + i,
                     event_id=f"h{i}") for i, h in enumerate(HOSTILE)]
    return out


@pytest.fixture
def filled(any_store):  # type: ignore[no-untyped-def]
    insert_events(any_store, make_events(), partition=0, offsets=list(range(len(make_events()))))
    return any_store


def ids(backend, f: dict, **kw) -> list[str]:  # type: ignore[no-untyped-def]
    return [e.event_id for e in search_events(backend, T0, T0 + 1000,
                                              event_filter_from_dict(f), **kw)]


def test_migrations_are_idempotent(any_store) -> None:  # type: ignore[no-untyped-def]
    assert migrate(any_store) == []
    assert applied_versions(any_store) == {m.version for m in MIGRATIONS}


def test_round_trip_keeps_every_field(filled) -> None:  # type: ignore[no-untyped-def]
    got = search_events(filled, T0, T0 + 1000, event_filter_from_dict({}), limit=-1)
    assert sorted(got, key=lambda e: e.event_id) == sorted(make_events(), key=lambda e: e.event_id)


def test_consumed_events_store_the_same_rows(any_store) -> None:  # type: ignore[no-untyped-def]
    """The sink's path: chDB parses each event's JSON (hostile strings, escapes, left-out
    defaults, fields it does not know) into the same rows the column insert writes; over
    HTTP the decoded events go as columns."""
    evs = make_events() + [PosEvent(type="POS_POSITION_ADD", pos_terminal="T8", price=-5,
                                    flags=2**31, weight=2**53, ts_in_receipt=T0 + 200,
                                    ts_received=T0 + 200, event_id="big")]
    rows = [encode(e) for e in evs]
    rows[0] = rows[0][:-1] + b',"not_a_column":{"x":[1]}}'
    rows[1] = rows[1].replace(b'"Buttermilk"', b'"\\u0042uttermilk"')
    for _ in range(2):  # a retried batch with the same token is written once
        insert_consumed_events(any_store, evs, rows, topic_id="tid",
                               partitions=[3] * (len(rows) - 1) + [4],
                               offsets=list(range(10, 10 + len(rows))), dedup_token="t:3:10-")
    got = search_events(any_store, T0, T0 + 1000, event_filter_from_dict({}), limit=-1)
    assert sorted(got, key=lambda e: e.event_id) == sorted(evs, key=lambda e: e.event_id)
    assert stored_offsets(any_store, "tid", [3, 4]) == {3: 8 + len(rows), 4: 9 + len(rows)}


@pytest.mark.parametrize("f,expected", [
    ({"cashiers": "Ivanov I"}, ["e0", "e1", "e2"]),
    ({"cashiers": ["Petrova A", "Sidorov K"]}, ["e3", "e4", "e5"]),
    ({"events": ["POS_POSITION_DELETE"]}, ["e4"]),
    ({"events": "POSNG_RECEIPT_CLOSE"}, ["e2"]),
    ({"receipt_number": "200"}, ["e3", "e4"]),
    ({"terminals": ("T3",)}, ["e5"]),
    ({"text": [StringFilter("milk", SearchFlags.STARTS_WITH)]}, ["e0", "e3", "e5"]),
    ({"text": [StringFilter("Milk", SearchFlags.STARTS_WITH | SearchFlags.CASE_SENSITIVE)]},
     ["e0"]),
    ({"text": [StringFilter("milk", SearchFlags.CONTAINS)]}, ["e0", "e1", "e3", "e5"]),
    ({"text": [StringFilter("milk", SearchFlags.EXACT)]}, ["e5"]),
    ({"text": [StringFilter("milk", SearchFlags.ENDS_WITH)]}, ["e1", "e5"]),
    ({"text": [StringFilter("4600500", SearchFlags.CONTAINS)]}, ["e4"]),  # barcode
    ({"text": [StringFilter("x-", SearchFlags.STARTS_WITH)]}, ["e5"]),  # article
    ({"text": "chocolate"}, ["e3"]),
    ({"receipt_number": "100", "text": [StringFilter("Milk", SearchFlags.STARTS_WITH)],
      "cashiers": ("Ivanov I",)}, ["e0"]),
    ({"cashiers": "Nobody"}, []),
])
def test_each_filter_key_and_mode(filled, f: dict, expected: list[str]) -> None:  # type: ignore[no-untyped-def]
    got = [i for i in ids(filled, f) if i.startswith("e")]
    assert got == expected


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_strings_match_literally(filled, hostile: str) -> None:  # type: ignore[no-untyped-def]
    i = HOSTILE.index(hostile)
    for f in ({"cashiers": hostile}, {"receipt_number": hostile},
              {"text": [StringFilter(hostile, SearchFlags.EXACT | SearchFlags.CASE_SENSITIVE)]}):
        assert ids(filled, f) == [f"h{i}"], f
    assert count_events(filled, T0, T0 + 1000) == len(make_events())  # nothing dropped


def test_limit_order_and_time_range(filled) -> None:  # type: ignore[no-untyped-def]
    assert ids(filled, {}, limit=2) == ["e0", "e1"]
    last = len(HOSTILE) - 1
    assert ids(filled, {}, limit=2, newest_first=True) == [f"h{last}", f"h{last - 1}"]
    assert search_events(filled, T0 + 2, T0 + 3, event_filter_from_dict({})) \
        [0].event_id == "e2"


def test_archive_iteration_in_terminal_order(filled) -> None:  # type: ignore[no-untyped-def]
    got = list(iter_events(filled, T0, T0 + 1000, page=2))
    keys = [(e.pos_terminal, e.ts_in_receipt) for e in got]
    assert keys == sorted(keys) and len(got) == len(make_events())
    assert [e.event_id for e in iter_events(filled, T0, T0 + 1000, terminals=("T2",))] == \
        ["e3", "e4"]


def test_insert_dedup_token_and_stored_offsets(any_store) -> None:  # type: ignore[no-untyped-def]
    evs = make_events()[:3]
    for _ in range(2):
        insert_events(any_store, evs, topic_id="tid", partition=1, offsets=[5, 6, 7],
                      dedup_token="pos.events:1:5-7")
    assert count_events(any_store, T0, T0 + 1000) == 3
    assert stored_offsets(any_store, "tid", [0, 1]) == {1: 7}
    assert stored_offsets(any_store, "other-incarnation", [1]) == {}


def test_engine_errors_are_translated(any_store) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(QueryError, match="(?i)unknown|doesn't exist|does not exist"):
        any_store.query(f"SELECT nope FROM {any_store.database}.events")


def test_default_incident_and_receipt_round_trip(any_store) -> None:  # type: ignore[no-untyped-def]
    from posguard.model.incidents import Incident
    from posguard.model.receipts import Receipt
    from posguard.store.writer import insert_incidents, insert_receipts

    insert_incidents(any_store, [Incident(id="a", detector="d", type_name="t",
                                          terminal_guid="T", ts_created=1)])
    insert_receipts(any_store, [Receipt(receipt_id="r", pos_terminal="T", op_id="1", ts_open=1,
                                        ts_close=2, status="closed")])
    db = any_store.database
    assert any_store.query(f"SELECT related_ts, related_events FROM {db}.incidents").rows == \
        [([], [])]
    assert any_store.query(f"SELECT payment_types FROM {db}.receipts").rows == [([],)]


def test_incident_time_and_terminal_filters_skip_granules(store) -> None:  # type: ignore[no-untyped-def]
    """Migration 4: incidents (sorted by id) get skip indexes on ts_created and terminal_guid,
    so a time range or a terminal reads the granules that hold them, not the month."""
    db = store.database
    day = 86_400_000_000
    for d in range(4):  # a day and a terminal per insert
        store.command(
            f"INSERT INTO {db}.incidents (id, terminal_guid, ts_created, version) "
            f"SELECT concat('inc-{d}-', toString(number)), 'T{d}', "
            f"{T0 + d * day} + number, 1 FROM numbers(20000)")
    store.command(f"OPTIMIZE TABLE {db}.incidents FINAL")  # one part: only skip indexes help

    def granules_read(where: str) -> tuple[int, int]:
        plan = "\n".join(r[0] for r in store.query(
            f"EXPLAIN indexes = 1 SELECT count() FROM {db}.incidents WHERE {where}").rows)
        read = re.search(r"ReadFromMergeTree.*?Granules: (\d+)", plan, re.S)
        total = re.search(r"PrimaryKey.*?Granules: \d+/(\d+)", plan, re.S)
        assert read and total, plan
        return int(read[1]), int(total[1])

    read, total = granules_read(f"ts_created BETWEEN {T0 + 2 * day} AND {T0 + 2 * day + 100}")
    assert read <= 2 < total, (read, total)  # a day / a terminal: 20k of 80k rows
    read, total = granules_read("terminal_guid = 'T3'")
    assert read <= 2 < total, (read, total)  # a day / a terminal: 20k of 80k rows
    got = store.query(f"SELECT count() FROM {db}.incidents WHERE terminal_guid = 'T3' "
                      f"AND ts_created >= {T0 + 3 * day}").rows[0][0]
    assert int(got) == 20000
