"""DetectorEngine: scopes, keys, state codec, configuration changes, archive runs, resume."""

from __future__ import annotations

import msgspec
import pytest
from detector_scenarios import (
    SENSITIVE,
    ZONES,
    canon,
    config_with,
    everything_stream,
    random_stream,
    sensitive_engine,
)

from posguard.detectors.config import ConfigError, default_config
from posguard.detectors.delete_without_admin import DeleteWithoutAdmin
from posguard.detectors.engine import (
    DetectorEngine,
    ScopeState,
    archive_order,
    decode_state,
    encode_state,
    run_archive,
    run_scope,
)
from posguard.detectors.errors import StateError
from posguard.detectors.events_filter import EventsFilter
from posguard.detectors.large_discount import LargeDiscount
from posguard.detectors.ordering import OrderBuffer
from posguard.detectors.registry import STANDARD_DETECTORS
from posguard.detectors.spec import build_detectors
from posguard.detectors.testing import CRASH, pos_event, receipt, run_detector
from posguard.model.events import PosEvent


def test_default_engine_runs_every_standard_detector_in_three_scopes() -> None:
    engine = DetectorEngine.from_config(default_config())
    assert engine.scopes() == ("terminal", "cashier", "card")
    assert sorted(d.type_name for d in engine.detectors) == sorted(STANDARD_DETECTORS)
    assert {d.scope for d in engine.detectors if d.type_name == "cashier_voids"} == {"cashier"}


def test_engine_keys_per_scope() -> None:
    engine = DetectorEngine.from_config(default_config())
    dele = pos_event("T1", "POS_POSITION_DELETE", cashier_name="A")
    card = pos_event("T1", "POS_DISCOUNT_CARD", discount_card="77", cashier_name="A")
    assert [engine.key(s, dele) for s in engine.scopes()] == ["T1", "A", None]
    assert [engine.key(s, card) for s in engine.scopes()] == ["T1", None, "77"]
    assert engine.key_function("card")(card) == "77"
    assert engine.key_function("cashier")(card) is None


def test_engine_without_a_scope() -> None:
    engine = DetectorEngine([DeleteWithoutAdmin("DelAdm01")])
    assert engine.scopes() == ("terminal",)
    assert engine.key("card", pos_event("T1", "POS_DISCOUNT_CARD", discount_card="1")) is None
    with pytest.raises(ValueError, match="scope"):
        engine.initial("card")
    with pytest.raises(ValueError, match="scope"):
        engine.step("cashier", engine.initial("terminal"), pos_event("T1", "POS_FRAUD"))


def test_duplicate_guids_refused() -> None:
    with pytest.raises(ValueError, match="twice"):
        DetectorEngine([DeleteWithoutAdmin("DelAdm01"), LargeDiscount("DelAdm01")])


def test_terminal_filters() -> None:
    only_t1 = DeleteWithoutAdmin("DelAdm01", terminals=["T1"])
    everywhere = LargeDiscount("Discnt01")
    evs = receipt("T1").item("a", 100_00).delete().events()
    evs += receipt("T2", at=evs[-1].ts_in_receipt + 1).item("a", 100_00).delete().events()
    assert [i.terminal_guid for i in run_detector(only_t1, evs)] == ["T1"]
    lone = DetectorEngine([only_t1])
    assert lone.key("terminal", evs[0]) == "T1" and lone.key("terminal", evs[-1]) is None
    both = DetectorEngine([only_t1, everywhere])
    assert both.key("terminal", evs[-1]) == "T2"
    assert [i.terminal_guid for i in run_detector(both, evs)] == ["T1"]


def test_state_codec_round_trip_msgpack_and_json() -> None:
    engine = sensitive_engine()
    states: dict[tuple[str, str], ScopeState] = {}
    for ev in everything_stream():
        for scope in engine.scopes():
            k = engine.key(scope, ev)
            if k is None:
                continue
            st = states.get((scope, k)) or engine.initial(scope)
            states[(scope, k)] = engine.step(scope, st, ev)[0]
    assert {s for s, _ in states} == {"terminal", "cashier", "card"}
    for st in states.values():
        assert decode_state(encode_state(st)) == st
        assert msgspec.json.decode(msgspec.json.encode(st), type=ScopeState) == st


def test_decode_garbage_is_a_state_error() -> None:
    with pytest.raises(StateError):
        decode_state(b"\x93not a state")
    with pytest.raises(StateError):
        decode_state(msgspec.msgpack.encode({"scope": "terminal"}))


def test_a_state_of_another_configuration_is_carried_over_by_guid() -> None:
    a = DetectorEngine([EventsFilter("KeepMe01"), DeleteWithoutAdmin("DropMe01")])
    b = DetectorEngine([LargeDiscount("NewOne01"), EventsFilter("KeepMe01")])
    st = a.initial("terminal")
    evs = receipt("T1", op_id="9").item("x", 100_00).events()
    for ev in evs:
        st, _ = a.step("terminal", st, ev)
    st = decode_state(encode_state(st))
    st, incs = b.step("terminal", st, receipt("T1", op_id="9", opened=False,
                                               at=evs[-1].ts_in_receipt + 1)
                      .discount(90_00, position=1).events()[0])
    assert st.guids == ["NewOne01", "KeepMe01"] and st.fp == b.fingerprint("terminal")
    assert st.ctx is not None and st.ctx.receipt is not None  # the receipt context survived
    assert [i.custom_columns["percent"] for i in incs] == ["90"]


def test_a_state_of_another_scope_is_refused() -> None:
    engine = DetectorEngine.from_config(default_config())
    other = DetectorEngine([EventsFilter("Other001")])
    with pytest.raises(StateError):
        engine.step("cashier", other.initial("terminal"),
                    pos_event("T1", "POS_POSITION_DELETE", cashier_name="A"))


def test_from_config_only_runs_chosen_guids_even_disabled() -> None:
    cfg = default_config()
    cfg = msgspec.structs.replace(cfg, detectors=tuple(
        msgspec.structs.replace(d, enabled=d.guid != "PGD00002") for d in cfg.detectors))
    assert "PGD00002" not in {d.guid for d in build_detectors(cfg)}
    engine = DetectorEngine.from_config(cfg, only=["PGD00002"])
    assert [d.guid for d in engine.detectors] == ["PGD00002"]
    with pytest.raises(ConfigError, match="NOPE0000"):
        DetectorEngine.from_config(cfg, only=["NOPE0000"])


def test_archive_order_sorts_by_reception_time_then_terminal() -> None:
    t1 = [pos_event("T1", "POS_FRAUD", at=t) for t in (10, 30, 20)]  # T1's clock went back
    t2 = [pos_event("T2", "POS_FRAUD", at=t) for t in (15, 25)]
    merged = archive_order([t1[0], t2[0], t1[1], t1[2], t2[1]])
    assert [(e.pos_terminal, e.ts_in_receipt) for e in merged] == [
        ("T1", 10), ("T2", 15), ("T1", 20), ("T2", 25), ("T1", 30)]


def test_run_archive_equals_a_live_run_whatever_the_terminal_interleaving() -> None:
    engine = sensitive_engine()
    evs = everything_stream()
    live = run_detector(engine, evs)
    assert len(live) >= 14
    by_terminal = sorted(evs, key=lambda e: e.pos_terminal)  # each terminal still in order
    assert canon(run_archive(engine, by_terminal)) == canon(live)
    assert run_archive(engine, by_terminal) == run_archive(engine, evs)


def test_run_archive_since_drops_incidents_of_the_warm_up() -> None:
    engine = sensitive_engine()
    evs = everything_stream()
    cut = evs[len(evs) // 2].ts_in_receipt
    everything = run_archive(engine, evs)
    later = run_archive(engine, evs, since=cut)
    assert later == [i for i in everything if i.related_ts[-1] >= cut]
    assert 0 < len(later) < len(everything)


def test_run_scope_streams_one_scope() -> None:
    engine = sensitive_engine()
    evs = everything_stream()
    cards = list(run_scope(engine, "card", archive_order(evs)))
    assert [i.detector for i in cards] == ["TSD00010"]


def test_incident_ids_are_deterministic_and_unique() -> None:
    engine = sensitive_engine()
    evs = random_stream(7, 600)
    first = run_archive(engine, evs)
    again = run_archive(sensitive_engine(), evs)
    assert first == again
    ids = [i.id for i in first]
    assert len(ids) == len(set(ids)) and len(ids) > 20


def test_ts_created_comes_from_events_not_the_clock() -> None:
    engine = sensitive_engine()
    evs = everything_stream()
    received = {e.ts_received for e in evs}
    for inc in run_archive(engine, evs):
        assert inc.ts_created in received
        assert set(inc.related_ts) <= {e.ts_in_receipt for e in evs}


# -- resume after a crash == no crash ------------------------------------------------------


@pytest.mark.parametrize("type_name", list(STANDARD_DETECTORS))
def test_every_detector_resumes_after_a_crash_with_the_same_incidents(type_name: str) -> None:
    cfg = config_with(SENSITIVE)
    [spec] = [d for d in cfg.detectors if d.type == type_name]
    [det] = build_detectors(cfg, zones=ZONES, only=[spec.guid])
    evs = everything_stream() + random_stream(3, 300)
    evs.sort(key=lambda e: e.ts_in_receipt)
    whole = run_detector(det, evs)
    assert whole, f"{type_name} never fired: the scenario does not exercise it"
    for every in (1, 7):
        crashed: list[PosEvent | object] = []
        for n, ev in enumerate(evs):
            crashed.append(ev)
            if n % every == 0:
                crashed.append(CRASH)
        assert run_detector(det, crashed) == whole  # type: ignore[arg-type]


def test_the_whole_engine_resumes_after_a_crash_at_every_event() -> None:
    engine = sensitive_engine()
    evs = everything_stream()
    with_crashes: list[PosEvent | object] = [CRASH]
    for ev in evs:
        with_crashes += [ev, CRASH]
    assert run_detector(engine, with_crashes) == run_detector(engine, evs)  # type: ignore[arg-type]


def test_order_buffer_releases_in_archive_order() -> None:
    evs = [pos_event(t, "POS_DISCOUNT_CARD", at=at, ts_received=rx, discount_card="1")
           for t, at, rx in [("T1", 100, 10), ("T2", 50, 12), ("T1", 110, 30), ("T3", 5, 31)]]
    buf = OrderBuffer(lateness=5)
    released = []
    for ev in [evs[1], evs[0], evs[3], evs[2]]:  # arrival order, each < 5 late
        released += buf.push(ev)
        assert len(buf) + len(released) <= 4
    released += buf.flush()
    assert released == archive_order(evs) == evs
    assert len(buf) == 0 and buf.flush() == []
    with pytest.raises(ValueError):
        OrderBuffer(lateness=-1)


def test_archive_order_is_by_reception_time_not_terminal_clocks() -> None:
    skewed = pos_event("T1", "POS_FRAUD", at=1_000, ts_received=20)  # clock minutes ahead
    honest = pos_event("T2", "POS_FRAUD", at=15, ts_received=16)
    assert archive_order([skewed, honest]) == [honest, skewed]
