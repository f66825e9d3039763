"""Searching from scripts: the reference's search examples run verbatim against the store."""

from __future__ import annotations

import pytest

from posguard.model.events import PosEvent
from posguard.model.incidents import Incident
from posguard.store.writer import insert_events, insert_incidents

pytestmark = pytest.mark.integration

NOW = 1_796_000_000.0  # the scripts' clock
US = 1_000_000
HOUR = 3600 * US


def stored(n: int, text: str, *, ago_us: int = HOUR, **kw) -> PosEvent:  # type: ignore[no-untyped-def]
    ts = int(NOW * US) - ago_us
    base = dict(pos_terminal="T1RuoVF7", op_id="1234567", cashier_name="Ivanov I",
                ts_in_receipt=ts, ts_received=ts, event_id=f"s{n}")
    base.update(kw)
    return PosEvent(type="POS_POSITION_ADD", text=text, **base)


def test_example_2_finds_exactly_the_matching_events(make_host, store, notes, h) -> None:
    insert_events(store, [
        stored(1, "Milk 3.2%", ago_us=3 * HOUR),
        stored(2, "Shake", article="MILKSHAKE-01", ago_us=2 * HOUR),   # via the article
        stored(3, "milk chocolate", ago_us=1 * HOUR),                  # case ignored
        stored(4, "Buttermilk"),                                       # contains, not starts
        stored(5, "Milk", op_id="1234568"),                            # another receipt
        stored(6, "Milk", cashier_name="Petrov P"),                    # another cashier
        stored(7, "Milk", ago_us=25 * HOUR),                           # older than a day
        stored(8, "Milk", ago_us=-HOUR),                               # after time.time()
        stored(9, "Bread", barcode="4600000000001"),
    ])
    host = make_host(now=lambda: NOW)
    script = host.add(h.scripts / "ex2_search_pos_events.py")
    assert host.wait_ready(30) and host.wait_idle(30)
    assert notes.of("alert") == ["Milk 3.2%", "Shake", "milk chocolate"]  # oldest first
    assert script.stats()["errors"] == 0 and script.feed is None  # no subscription made


def test_search_returns_at_most_500_events_and_takes_microsecond_strings(
        make_host, store, notes, tmp_path, h) -> None:
    insert_events(store, [stored(i, f"Item {i}", ago_us=HOUR + i) for i in range(520)])
    path = tmp_path / "count.py"
    path.write_text(
        "import time\n"
        "found = []\n"
        "search_pos_events(found.append, str(int((time.time() - 86400) * 1e6)),\n"
        "                  int(time.time() * 1e6), {'terminals': 'T1RuoVF7'})\n"
        "message('found %d, first %s, units %s' % (len(found), found[0].text,\n"
        "        type(found[0].ts_received).__name__))\n")
    host = make_host(now=lambda: NOW)
    host.add(path)
    assert host.wait_ready(30) and host.wait_idle(30)
    assert notes.of("message") == ["found 500, first Item 519, units int"]


def incident(n: int, *, status: int = 0, estimate: int = 0, ago_us: int = HOUR,
             **kw) -> Incident:  # type: ignore[no-untyped-def]
    ts = int(NOW * US) - ago_us
    base = dict(id=f"i{n:03d}", detector="PGD00002", type_name=f"Type {n}",
                terminal_guid="T1RuoVF7", ts_created=ts, status=status,
                expert_estimate=estimate, related_ts=[ts], related_events=[f"e{n}"],
                custom_columns={"n": str(n)})
    base.update(kw)
    return Incident(**base)


def test_example_5_last_20_confirmed_incidents_with_an_estimate(make_host, store, notes,
                                                                h) -> None:
    incidents = [incident(i, status=1, estimate=100 + i, ago_us=HOUR + i * US)
                 for i in range(25)]                                     # 25 that match
    incidents += [
        incident(100, status=0, estimate=500),                          # new
        incident(101, status=2, estimate=500),                          # declined
        incident(102, status=1, estimate=0),                            # no estimate
        incident(103, status=1, estimate=500, ago_us=49 * HOUR),        # older than 2 days
    ]
    insert_incidents(store, incidents)
    host = make_host(now=lambda: NOW)
    script = host.add(h.scripts / "ex5_search_pos_incidents.py")
    assert host.wait_ready(30) and host.wait_idle(30)
    # The 20 newest of the 25 (newest first): i000 is the newest.
    assert notes.of("alert") == [f"Type {i}" for i in range(20)]
    assert script.stats()["errors"] == 0
