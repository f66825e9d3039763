"""Cross-terminal scopes live (ordered_step + order buffer in the state) == the archive.

The live side is simulated as the cashier/card agents see it: a scope's forwarded events
arrive on its repartition stream with each terminal in order and terminals interleaved
(no event more than `lateness` of reception time behind the newest one before it), cut into
random batches; per batch each key's events go through `ordered_step` with its state read
from and written back to a "table" of msgpack bytes; keys with events held are ticked with
the stream's newest reception time; workers crash and replay from the last committed table.
The archive side is `run_archive` over the same events.
"""

from __future__ import annotations

import doctest
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import pytest
from detector_scenarios import canon, random_stream, sensitive_engine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from posguard.detectors import ordered_scope, ordering
from posguard.detectors.base import Detector, NoState, Params, Scope, scope_key
from posguard.detectors.config import default_config
from posguard.detectors.discount_card_overuse import (
    DiscountCardOveruse,
    DiscountCardOveruseParams,
)
from posguard.detectors.engine import (
    DetectorEngine,
    archive_order,
    encode_state,
    run_archive,
    run_scope,
)
from posguard.detectors.errors import StateError
from posguard.detectors.ordered_scope import (
    DEFAULT_LATENESS_US,
    OrderedScopeState,
    decode_ordered,
    encode_ordered,
    next_release_us,
    ordered_flush,
    ordered_step,
)
from posguard.detectors.testing import START, pos_event
from posguard.ingest.simulator import ChainSimulator
from posguard.model.events import PosEvent
from posguard.model.incidents import Incident

SEC = 1_000_000
CROSS: tuple[Scope, ...] = ("cashier", "card")


class _NoParams(Params, frozen=True):
    """No parameters."""


class EveryCashierEvent(Detector[_NoParams, NoState]):
    """Test rule: an incident for every event it is stepped over, so the incidents show which
    events a key was stepped over and in which order."""

    type_name = "test_every_cashier_event"
    title = "Every event"
    scope: ClassVar[Scope] = "cashier"
    params_type = _NoParams
    state_type = NoState

    def event_types(self) -> frozenset[str] | None:
        return None

    def step(self, state: NoState, ev: PosEvent, ctx: object) -> tuple[NoState, list[Incident]]:
        return state, [self.incident(ev, columns={"key": scope_key(self.scope, ev) or ""})]


class EveryCardEvent(EveryCashierEvent):
    type_name = "test_every_card_event"
    scope = "card"


def cross_only(engine: DetectorEngine, *extra: Detector) -> DetectorEngine:  # type: ignore[type-arg]
    return DetectorEngine([*(d for d in engine.detectors if d.scope != "terminal"), *extra])


# Sensitive cross-terminal rules (day counts, rate, a sliding window) plus the witnesses.
WITNESSED = cross_only(sensitive_engine(), EveryCashierEvent("EVERYCSH"),
                       EveryCardEvent("EVERYCRD"))
# The default configuration's rules 9 and 10: only voids and cards are forwarded.
DEFAULTS = cross_only(DetectorEngine.from_config(default_config()))
WITNESS_IDS = {"EVERYCSH", "EVERYCRD"}


# -- the live side, simulated --------------------------------------------------------------

def arrivals(events: list[PosEvent], rng: random.Random, lateness: int) -> list[PosEvent]:
    """A random arrival order of `events`: each terminal keeps its order, and every event
    arrives at most `lateness` behind the newest one before it when that is possible (a
    random choice among the terminals that keep every later event on time too)."""
    lanes: dict[str, list[PosEvent]] = {}
    for ev in events:
        lanes.setdefault(ev.pos_terminal, []).append(ev)
    lane = list(lanes.values())
    inf = float("inf")
    suffix_min = []
    for evs in lane:
        mins = [inf] * (len(evs) + 1)
        for i in range(len(evs) - 1, -1, -1):
            mins[i] = min(evs[i].ts_received, mins[i + 1])
        suffix_min.append(mins)
    at = [0] * len(lane)
    newest = -inf
    out: list[PosEvent] = []
    while len(out) < len(events):
        live = [j for j in range(len(lane)) if at[j] < len(lane[j])]
        ok = []
        for j in live:
            head = lane[j][at[j]].ts_received
            rest = min([suffix_min[j][at[j] + 1],
                        *(suffix_min[k][at[k]] for k in live if k != j)])
            if newest - lateness <= head and max(newest, head) <= rest + lateness:
                ok.append(j)
        j = rng.choice(ok) if ok else min(live, key=lambda k: lane[k][at[k]].ts_received)
        ev = lane[j][at[j]]
        at[j] += 1
        newest = max(newest, ev.ts_received)
        out.append(ev)
    return out


def late_arrivals(arrived: Sequence[PosEvent], lateness: int) -> int:
    """How many events arrive more than `lateness` behind the newest one before them."""
    newest, late = None, 0
    for ev in arrived:
        if newest is not None and ev.ts_received < newest - lateness:
            late += 1
        newest = ev.ts_received if newest is None else max(newest, ev.ts_received)
    return late


@dataclass
class LiveRun:
    incidents: list[Incident] = field(default_factory=list)
    late_counted: int = 0
    late_expected: int = 0
    crashes: int = 0


def run_live(engine: DetectorEngine, events: list[PosEvent], rng: random.Random, *,
             lateness: int, max_batch: int, tick: bool, crash_rate: float) -> LiveRun:
    """Both cross-terminal scopes as the agents run them, table values as bytes."""
    run = LiveRun()
    for scope in engine.scopes():
        if scope == "terminal":
            continue
        forwarded = [ev for ev in events if engine.key(scope, ev) is not None]
        arrived = arrivals(forwarded, rng, lateness)
        run.late_expected += late_arrivals(arrived, lateness)
        cuts = [0]
        while cuts[-1] < len(arrived):
            cuts.append(min(len(arrived), cuts[-1] + rng.randint(1, max_batch)))
        table: dict[str, bytes] = {}
        newest: int | None = None
        committed: tuple[dict[str, bytes], int, int | None] = ({}, 0, None)  # table, batch, newest
        b = 0
        while b + 1 < len(cuts):
            batch = arrived[cuts[b]:cuts[b + 1]]
            by_key: dict[str, list[PosEvent]] = {}
            for ev in batch:
                by_key.setdefault(engine.key(scope, ev), []).append(ev)  # type: ignore[arg-type]
                newest = ev.ts_received if newest is None else max(newest, ev.ts_received)
            now = newest if tick else None
            for key, evs in by_key.items():
                state = decode_ordered(table[key]) if key in table else None
                state, incs = ordered_step(engine, scope, state, evs, lateness_us=lateness,
                                           now_us=now)
                table[key] = encode_ordered(state)
                run.incidents.extend(incs)
            if tick:
                for key, raw in table.items():
                    if key not in by_key:
                        state, incs = ordered_step(engine, scope, decode_ordered(raw), [],
                                                   lateness_us=lateness, now_us=now)
                        table[key] = encode_ordered(state)
                        run.incidents.extend(incs)
            b += 1
            if rng.random() < crash_rate and run.crashes < 5:
                # Killed before committing: the table and offsets go back; replay from there.
                run.crashes += 1
                table, b, newest = dict(committed[0]), committed[1], committed[2]
            else:
                committed = (dict(table), b, newest)
        for raw in table.values():
            state, incs = ordered_flush(engine, scope, decode_ordered(raw))
            assert not state.pending
            run.late_counted += state.late
            run.incidents.extend(incs)
    return run


def archived(engine: DetectorEngine, events: list[PosEvent]) -> list[Incident]:
    return run_archive(engine, events)


def witnessed_order(incidents: Sequence[Incident]) -> dict[tuple[str, str], list[str]]:
    """Per (witness, key): the events stepped, in the order they were stepped."""
    out: dict[tuple[str, str], list[str]] = {}
    for inc in incidents:
        if inc.detector in WITNESS_IDS:
            key = (inc.detector, inc.custom_columns["key"])
            out.setdefault(key, []).append(inc.related_events[-1])
    return out


# -- streams --------------------------------------------------------------------------------

def reshape(events: list[PosEvent], rng: random.Random, *, quantum: int, regress: int,
            share: bool = False) -> list[PosEvent]:
    """The same events with reception times rounded down to `quantum` (ties within and across
    terminals) and, now and then, pulled back by up to `regress` (a terminal's reception
    times going backwards a little); with `share`, every cashier and card is one of two,
    used on every terminal (so a key's events interleave many terminals)."""
    out = []
    for ev in events:
        f = _fields(ev)
        ts = ev.ts_received - ev.ts_received % quantum
        if regress and rng.random() < 0.15:
            ts -= rng.randint(0, regress)
        f["ts_received"] = ts
        if share:
            if ev.cashier_name:
                f["cashier_name"] = rng.choice(["C0", "C1"])
            if ev.discount_card:
                f["discount_card"] = rng.choice(["K1", "K2"])
        out.append(PosEvent(**f))  # type: ignore[arg-type]
    return out


def _fields(ev: PosEvent) -> dict[str, object]:
    return {f: getattr(ev, f) for f in ev.__struct_fields__}


BATCH = st.sampled_from([1, 2, 3, 5, 10, 40])


@st.composite
def scenario(draw: st.DrawFn) -> tuple[list[PosEvent], int, random.Random]:
    """Events of a few terminals sharing cashiers and cards, a lateness, and a Random.

    Reception times are rounded to a quantum (many ties) and the lateness is a multiple of
    it or the default, so events often sit exactly at the release bound."""
    # A seeded Random, not st.randoms(): hypothesis's own random values lean to the simple
    # ones, which leaves few interleavings with events right at the release bound.
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    quantum = draw(st.sampled_from([3600 * SEC, 60 * SEC, SEC, 1]))
    lateness = draw(st.sampled_from([0, quantum, 3 * quantum, DEFAULT_LATENESS_US]))
    events = random_stream(rng, draw(st.integers(30, 250)), terminals=draw(st.integers(2, 4)))
    regress = draw(st.sampled_from([0, lateness // 2]))
    share = draw(st.booleans())
    return reshape(events, rng, quantum=quantum, regress=regress, share=share), lateness, rng


# -- the properties -----------------------------------------------------------------------

@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=scenario(), max_batch=BATCH, tick=st.booleans())
def test_live_ordered_scopes_equal_the_archive_exactly(
        case: tuple[list[PosEvent], int, random.Random], max_batch: int, tick: bool) -> None:
    events, lateness, rng = case
    for engine in (WITNESSED, DEFAULTS):
        live = run_live(engine, events, rng, lateness=lateness, max_batch=max_batch,
                        tick=tick, crash_rate=0)
        assert live.late_counted <= live.late_expected
        if live.late_expected:
            continue  # the generator found no on-time interleaving: the next test's case
        expected = archived(engine, events)
        assert canon(live.incidents) == canon(expected)
        assert sorted(i.id for i in live.incidents) == sorted(i.id for i in expected)
        if engine is WITNESSED:
            # Each key was stepped over exactly its archive sequence, in that order.
            in_archive: list[Incident] = []
            for scope in CROSS:
                in_archive.extend(run_scope(engine, scope, archive_order(events)))
            assert witnessed_order(live.incidents) == witnessed_order(in_archive)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=scenario(), max_batch=BATCH, tick=st.booleans())
def test_a_crash_and_replay_from_the_committed_table_changes_nothing(
        case: tuple[list[PosEvent], int, random.Random], max_batch: int, tick: bool) -> None:
    events, lateness, rng = case
    live = run_live(WITNESSED, events, rng, lateness=lateness, max_batch=max_batch, tick=tick,
                    crash_rate=0.3)
    if live.late_expected:
        return
    # Replayed batches raise their incidents again under the same ids (the store keeps one).
    assert set(canon(live.incidents)) == set(canon(archived(WITNESSED, events)))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=st.builds(lambda r, n, t: random_stream(r, n, terminals=t),
                        st.randoms(use_true_random=False), st.integers(1, 200),
                        st.integers(2, 4)),
       rng=st.randoms(use_true_random=False), jitter_s=st.integers(0, 7200),
       max_batch=st.integers(1, 20))
def test_events_later_than_the_lateness_are_processed_once_and_counted(
        events: list[PosEvent], rng: random.Random, jitter_s: int, max_batch: int) -> None:
    lateness = DEFAULT_LATENESS_US
    run = LiveRun()
    for scope in CROSS:
        forwarded = [ev for ev in events if WITNESSED.key(scope, ev) is not None]
        # Each terminal delayed by its own random lag: far beyond the lateness.
        lag = {t: rng.randint(0, jitter_s) * SEC for t in {e.pos_terminal for e in forwarded}}
        arrived = sorted(forwarded, key=lambda e: e.ts_received + lag[e.pos_terminal])
        run.late_expected += late_arrivals(arrived, lateness)
        states: dict[str, OrderedScopeState] = {}
        at = 0
        while at < len(arrived):
            batch = arrived[at:at + rng.randint(1, max_batch)]
            at += len(batch)
            for ev in batch:
                key = WITNESSED.key(scope, ev)
                assert key is not None
                state, incs = ordered_step(WITNESSED, scope, states.get(key), [ev],
                                           lateness_us=lateness)
                states[key] = decode_ordered(encode_ordered(state))
                run.incidents.extend(incs)
        for state in states.values():
            state, incs = ordered_flush(WITNESSED, scope, state)
            run.late_counted += state.late
            run.incidents.extend(incs)
    # Every forwarded event was stepped exactly once: one witness incident each.
    witnessed = sorted(i.id for i in run.incidents if i.detector in WITNESS_IDS)
    expected = sorted(i.id for i in archived(WITNESSED, events) if i.detector in WITNESS_IDS)
    assert witnessed == expected
    # Stepped one event at a time, the key's watermark is its own newest - lateness, never
    # ahead of the stream's: an event late on its key is late on the stream.
    assert run.late_counted <= run.late_expected


def test_the_simulated_chain_with_frauds_gives_the_archive_incidents() -> None:
    rng = random.Random(7)
    sim = ChainSimulator(stores=3, terminals=3, seed=11, fraud_rate=0.5)
    events = list(sim.events(3000, START, step_us=150_000))
    events = reshape(events, rng, quantum=SEC, regress=0)  # 1 s ticks: many ties
    engine = cross_only(DetectorEngine.from_config(default_config()),
                        EveryCashierEvent("EVERYCSH"), EveryCardEvent("EVERYCRD"))
    expected = archived(engine, events)
    assert {i.detector for i in expected} >= {"PGD00010", "EVERYCSH", "EVERYCRD"}
    for max_batch, tick in ((1, False), (50, True), (500, True)):
        live = run_live(engine, events, rng, lateness=DEFAULT_LATENESS_US,
                        max_batch=max_batch, tick=tick, crash_rate=0.05)
        assert live.late_expected == 0
        assert set(canon(live.incidents)) == set(canon(expected))


# -- the details -----------------------------------------------------------------------------

CARD_RULE = DetectorEngine([DiscountCardOveruse("CARDRULE", DiscountCardOveruseParams(
    max_uses=2)), EveryCardEvent("EVERYCRD")])


def card_use(terminal: str, at_s: int) -> PosEvent:
    return pos_event(terminal, "POS_DISCOUNT_CARD", at=START + at_s * SEC, op_id=terminal,
                     discount_card="K1")


def test_a_late_event_is_processed_on_arrival_and_counted() -> None:
    t1, t2, t3 = card_use("T1", 0), card_use("T2", 10), card_use("T3", 20)
    state, first = ordered_step(CARD_RULE, "card", None, [t2, t3], lateness_us=2 * SEC)
    assert [i.related_events[-1] for i in first] == [t2.event_id]  # T3 held, T2 released
    state, then = ordered_step(CARD_RULE, "card", state, [t1], lateness_us=2 * SEC)
    assert state.late == 1
    # T1 (10 s late) is stepped at once, after T2 which was released before it came.
    assert [(i.detector, i.related_events[-1]) for i in then] == [
        ("EVERYCRD", t1.event_id)]
    state, last = ordered_flush(CARD_RULE, "card", state)
    assert [(i.detector, i.related_events[-1]) for i in last] == [
        ("CARDRULE", t3.event_id), ("EVERYCRD", t3.event_id)]
    # The day count fires under the archive's id; here even on the same event.
    archive = [i for i in archived(CARD_RULE, [t1, t2, t3]) if i.detector == "CARDRULE"]
    assert [i.id for i in archive] == [last[0].id]


def test_events_are_held_until_something_newer_than_the_lateness_is_seen() -> None:
    a, b = card_use("T1", 0), card_use("T2", 1)
    state, incs = ordered_step(CARD_RULE, "card", None, [b, a], lateness_us=5 * SEC)
    assert incs == [] and state.pending == [b, a] and state.state is None
    due = next_release_us(state, lateness_us=5 * SEC)
    assert due == a.ts_received + 5 * SEC + 1
    state, incs = ordered_step(CARD_RULE, "card", state, [], lateness_us=5 * SEC,
                               now_us=due - 1)
    assert incs == [] and len(state.pending) == 2
    state, incs = ordered_step(CARD_RULE, "card", state, [], lateness_us=5 * SEC, now_us=due)
    assert [i.related_events[-1] for i in incs] == [a.event_id] and state.pending == [b]
    # A reception time exactly `lateness` past an event does not release it: an event with
    # the same time from a terminal sorting first may still come, on time, and go first.
    d = pos_event("T4", "POS_DISCOUNT_CARD", at=START + 9 * SEC, op_id="T4",
                  discount_card="K1", ts_received=b.ts_received + 5 * SEC)
    state, incs = ordered_step(CARD_RULE, "card", state, [d], lateness_us=5 * SEC)
    assert incs == [] and state.pending == [b, d]
    c = pos_event("T1", "POS_DISCOUNT_CARD", at=START + 2 * SEC, op_id="T1b",
                  discount_card="K1", ts_received=b.ts_received)
    state, incs = ordered_step(CARD_RULE, "card", state, [c], lateness_us=5 * SEC)
    assert incs == [] and not state.late
    state, incs = ordered_flush(CARD_RULE, "card", state)
    assert [i.related_events[-1] for i in incs if i.detector == "EVERYCRD"] == [
        c.event_id, b.event_id, d.event_id]
    assert next_release_us(state, lateness_us=0) is None


def test_after_a_flush_an_event_received_before_the_newest_is_late() -> None:
    a, b = card_use("T1", 10), card_use("T2", 20)
    state, _ = ordered_step(CARD_RULE, "card", None, [a, b], lateness_us=2 * SEC)
    assert state.newest == b.ts_received and state.watermark == b.ts_received - 2 * SEC
    state, incs = ordered_flush(CARD_RULE, "card", state)
    assert len(incs) == 1 and state.watermark == b.ts_received + 1  # a went at once
    # On time before the flush (less than 2 s behind b), but b has been stepped already.
    c = card_use("T0", 19)
    state, incs = ordered_step(CARD_RULE, "card", state, [c], lateness_us=2 * SEC)
    assert state.late == 1 and [i.related_events[-1] for i in incs if i.detector ==
                                "EVERYCRD"] == [c.event_id]


def test_ties_release_by_terminal_then_arrival() -> None:
    same = START + 5 * SEC
    evs = [pos_event(t, "POS_DISCOUNT_CARD", at=START + n, ts_received=same,
                     discount_card="K1", event_id=f"{t}{n}")
           for n, t in enumerate(["T2", "T1", "T2", "T1"])]
    state, incs = ordered_step(CARD_RULE, "card", None, evs, lateness_us=0, now_us=same + 1)
    assert [i.related_events[-1] for i in incs if i.detector == "EVERYCRD"] == [
        "T11", "T13", "T20", "T22"]
    assert not state.pending


def test_lateness_zero_holds_only_the_newest_time() -> None:
    evs = [card_use("T1", s) for s in range(3)]
    state, incs = ordered_step(CARD_RULE, "card", None, evs, lateness_us=0)
    assert [i.related_events[-1] for i in incs if i.detector == "EVERYCRD"] == [
        evs[0].event_id, evs[1].event_id]
    assert state.pending == [evs[2]]


def test_negative_lateness_is_refused() -> None:
    with pytest.raises(ValueError):
        ordered_step(CARD_RULE, "card", None, [], lateness_us=-1)
    with pytest.raises(ValueError):
        next_release_us(OrderedScopeState(), lateness_us=-1)
    with pytest.raises(ValueError):
        ordering.OrderBuffer(-1)


def test_state_round_trips_and_reads_plain_scope_states() -> None:
    state, _ = ordered_step(CARD_RULE, "card", None, [card_use("T1", 0), card_use("T2", 9)],
                            lateness_us=2 * SEC)
    assert state.pending and state.state is not None
    raw = encode_ordered(state)
    assert decode_ordered(raw) == state
    # A table value written before the buffer existed: the state, nothing held.
    old = CARD_RULE.initial("card")
    assert decode_ordered(encode_state(old)) == OrderedScopeState(state=old)
    with pytest.raises(StateError):
        decode_ordered(b"\x93not a state")
    with pytest.raises(StateError):
        decode_ordered(b"")


def test_a_scope_no_longer_enabled_releases_its_held_events_without_rules() -> None:
    state, _ = ordered_step(CARD_RULE, "card", None, [card_use("T1", 0)], lateness_us=SEC)
    terminal_only = DetectorEngine([d for d in DetectorEngine.from_config(
        default_config()).detectors if d.scope == "terminal"])
    state, incs = ordered_flush(terminal_only, "card", state)
    assert incs == [] and not state.pending
    # Enabled again: the key goes on from there.
    state, incs = ordered_step(CARD_RULE, "card", state, [card_use("T2", 5)], lateness_us=0,
                               now_us=START + 60 * SEC)
    assert [i.detector for i in incs] == ["EVERYCRD"]


def test_order_buffer_releases_what_ordered_step_releases() -> None:
    rng = random.Random(3)
    evs = reshape(random_stream(rng, 300, terminals=4), rng, quantum=60 * SEC, regress=0)
    arrived = arrivals(evs, rng, 600 * SEC)
    buf = ordering.OrderBuffer(600 * SEC)
    released = [e for ev in arrived for e in buf.push(ev)] + buf.flush()
    assert released == archive_order(evs)


def test_the_modules_examples_run() -> None:
    for mod in (ordering, ordered_scope):
        failed, tried = doctest.testmod(mod)
        assert tried and not failed, mod.__name__
