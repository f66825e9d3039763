"""Properties over random streams: one pass per key == run_archive == runs with crashes."""

from __future__ import annotations

import heapq
import random

from detector_scenarios import canon, random_stream, sensitive_engine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from posguard.detectors.cashier_voids import CashierVoids, CashierVoidsParams
from posguard.detectors.config import default_config
from posguard.detectors.discount_card_overuse import (
    DiscountCardOveruse,
    DiscountCardOveruseParams,
)
from posguard.detectors.engine import (
    DetectorEngine,
    ScopeState,
    archive_order,
    decode_state,
    encode_state,
    run_archive,
)
from posguard.detectors.localtime import Zones
from posguard.detectors.ordering import OrderBuffer
from posguard.detectors.testing import CRASH, run_detector
from posguard.model.events import PosEvent
from posguard.model.incidents import Incident

SENSITIVE_ENGINE = sensitive_engine()
DEFAULT_ENGINE = DetectorEngine.from_config(
    default_config(), zones=Zones(terminals={"T2": "Asia/Vladivostok"}, default="Europe/Moscow")
)


def per_key_one_pass(engine: DetectorEngine, events: list[PosEvent]) -> list[Incident]:
    """Each key of each scope on its own, start to end, as a partitioned worker would."""
    out: list[Incident] = []
    merged = archive_order(events)
    for scope in engine.scopes():
        by_key: dict[str, list[PosEvent]] = {}
        for ev in events if scope == "terminal" else merged:
            k = engine.key(scope, ev)
            if k is not None:
                by_key.setdefault(k, []).append(ev)
        for key_events in by_key.values():
            state: ScopeState = engine.initial(scope)
            for ev in key_events:
                state, incs = engine.step(scope, state, ev)
                out.extend(incs)
            assert decode_state(encode_state(state)) == state
    return out


def with_crashes(events: list[PosEvent], at: set[int]) -> list[PosEvent | object]:
    out: list[PosEvent | object] = []
    for n, ev in enumerate(events):
        if n in at:
            out.append(CRASH)
        out.append(ev)
    return out


stream = st.builds(lambda rng, n, t: random_stream(rng, n, terminals=t),
                   st.randoms(use_true_random=False), st.integers(0, 250), st.integers(1, 4))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=stream, crash_at=st.sets(st.integers(0, 250), max_size=20))
def test_one_pass_per_key_equals_archive_equals_crashes(events: list[PosEvent],
                                                        crash_at: set[int]) -> None:
    for engine in (SENSITIVE_ENGINE, DEFAULT_ENGINE):
        per_key = canon(per_key_one_pass(engine, events))
        archived = run_archive(engine, events)
        assert canon(archived) == per_key
        crashed = run_detector(engine, with_crashes(events, crash_at))  # type: ignore[arg-type]
        assert canon(crashed) == per_key
        ids = [i.id for i in archived]
        assert len(ids) == len(set(ids))


@settings(max_examples=30, deadline=None)
@given(events=stream)
def test_archive_is_the_same_whatever_the_interleaving_of_terminals(
        events: list[PosEvent]) -> None:
    # Each terminal keeps its own order: a stable sort on the terminal only.
    by_terminal = sorted(events, key=lambda e: e.pos_terminal)
    assert run_archive(SENSITIVE_ENGINE, by_terminal) == run_archive(SENSITIVE_ENGINE, events)


def interleave(events: list[PosEvent], rng: random.Random, jitter_s: int) -> list[PosEvent]:
    """Another interleaving of the terminals (each keeps its order), each event delayed by up
    to jitter_s, as a repartitioned stream may deliver a cashier's or a card's events live."""
    per: dict[str, list[tuple[int, int, PosEvent]]] = {}
    for n, ev in enumerate(events):
        lane = per.setdefault(ev.pos_terminal, [])
        key = ev.ts_received + rng.randrange(0, jitter_s * 1_000_000 + 1)
        lane.append((max(key, lane[-1][0]) if lane else key, n, ev))
    return [ev for _, _, ev in heapq.merge(*per.values())]


def live_with_buffer(engine: DetectorEngine, arrivals: list[PosEvent], lateness: int
                     ) -> list[Incident]:
    """A live worker: the terminal scope as events come, the cross-terminal scopes each
    behind an OrderBuffer (one per scope, as one agent per repartitioned stream)."""
    out: list[Incident] = []
    states: dict[tuple[str, str], ScopeState] = {}

    def step(scope: str, ev: PosEvent) -> None:
        key = engine.key(scope, ev)  # type: ignore[arg-type]
        if key is None:
            return
        st = states.get((scope, key)) or engine.initial(scope)  # type: ignore[arg-type]
        st, incs = engine.step(scope, st, ev)  # type: ignore[arg-type]
        states[(scope, key)] = st
        out.extend(incs)

    buffers = {s: OrderBuffer(lateness) for s in engine.scopes() if s != "terminal"}
    for ev in arrivals:
        if "terminal" in engine.scopes():
            step("terminal", ev)
        for scope, buf in buffers.items():
            if engine.key(scope, ev) is not None:  # what the router forwards
                for due in buf.push(ev):
                    step(scope, due)
    for scope, buf in buffers.items():
        for due in buf.flush():
            step(scope, due)
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=stream, rng=st.randoms(use_true_random=False))
def test_live_behind_an_order_buffer_equals_the_archive_exactly(
        events: list[PosEvent], rng: random.Random) -> None:
    arrivals = interleave(events, rng, jitter_s=20)
    for engine in (SENSITIVE_ENGINE, DEFAULT_ENGINE):
        live = live_with_buffer(engine, arrivals, lateness=21 * 1_000_000)
        assert canon(live) == canon(run_archive(engine, events))


DAY_COUNTS = DetectorEngine(
    [CashierVoids("DayVoids", CashierVoidsParams(max_count=2)),
     DiscountCardOveruse("DayCards", DiscountCardOveruseParams(max_uses=1))],
)


@settings(max_examples=60, deadline=None)
@given(events=stream, rng=st.randoms(use_true_random=False))
def test_per_day_counts_fire_the_same_ids_whatever_the_live_interleaving(
        events: list[PosEvent], rng: random.Random) -> None:
    live = run_detector(DAY_COUNTS, interleave(events, rng, jitter_s=1800))
    assert {i.id for i in live} == {i.id for i in run_archive(DAY_COUNTS, events)}


def test_random_streams_do_raise_incidents_of_most_types() -> None:
    # Guards the property tests against streams too tame to exercise the detectors.
    seen: set[str] = set()
    for seed in range(5):
        seen |= {i.detector for i in run_archive(SENSITIVE_ENGINE, random_stream(seed, 300))}
    assert len(seen) >= 11, sorted(seen)
