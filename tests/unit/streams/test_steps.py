"""The worker's batch logic with dicts for tables: same incidents and receipts as the pure
core, replays change nothing, re-forwarded bundles are skipped."""

from __future__ import annotations

import random

import msgspec

from posguard.detectors.config import default_config
from posguard.detectors.engine import DetectorEngine, decode_state, encode_state, run_scope
from posguard.detectors.ordered_scope import OrderedScopeState, decode_ordered, encode_ordered
from posguard.detectors.ordering import archive_order
from posguard.ingest.simulator import ChainSimulator
from posguard.model.codec import decode_incident, encode
from posguard.model.events import PosEvent
from posguard.model.receipts import TerminalState, assemble
from posguard.streams.routing import encode_routed
from posguard.streams.state_cache import StateCache
from posguard.streams.steps import Record, release_held, scope_batch, terminal_batch

T0 = 1_796_000_000_000_000
PARTITIONS = 3


def chain(n: int = 3000) -> list[PosEvent]:
    return list(ChainSimulator(2, 3, seed=5, fraud_rate=0.3).events(n, T0, 1000))


def records(events: list[PosEvent]) -> list[Record]:
    """pos.events as a broker would hold it: a terminal per partition, offsets per partition."""
    parts: dict[str, int] = {}
    offsets = [0] * PARTITIONS
    out = []
    for ev in events:
        p = parts.setdefault(ev.pos_terminal, len(parts) % PARTITIONS)
        out.append(Record(p, offsets[p], ev.pos_terminal.encode(), encode(ev)))
        offsets[p] += 1
    return out


def caches(engine: DetectorEngine, tables: dict[str, dict[bytes, bytes]]):  # type: ignore[no-untyped-def]
    mp = msgspec.msgpack
    return (StateCache(tables.setdefault("receipts", {}), mp.Decoder(TerminalState).decode,
                       mp.Encoder().encode, TerminalState, changelog(tables, "receipts")),
            StateCache(tables.setdefault("terminal", {}), decode_state, encode_state,
                       lambda: engine.initial("terminal"), changelog(tables, "terminal")))


def changelog(tables: dict[str, dict[bytes, bytes]], name: str):  # type: ignore[no-untyped-def]
    """A changelog topic per table: (partition, key) -> last value, as compaction keeps."""
    log = tables.setdefault(f"{name}-changelog", {})

    def send(partition: int, key: bytes, value: bytes) -> None:
        log[b"%d|" % partition + key] = value
    return send


def batches(recs: list[Record], rng: random.Random) -> list[list[Record]]:
    out, i = [], 0
    while i < len(recs):
        n = rng.randint(1, 400)
        out.append(recs[i:i + n])
        i += n
    return out


def test_terminal_batches_equal_the_pure_core_and_replays_change_nothing() -> None:
    events = chain()
    engine = DetectorEngine.from_config(default_config())
    tables: dict[str, dict[bytes, bytes]] = {}
    receipts, terminal = caches(engine, tables)
    got_incidents, got_receipts = [], []
    rng = random.Random(3)
    for batch in batches(records(events), rng):
        out = terminal_batch(batch, engine, receipts, terminal)
        got_incidents += [decode_incident(v).id for _, v in out.incidents]
        got_receipts += [v for _, v in out.receipts]
        receipts.write_back()
        terminal.write_back()
        if rng.random() < 0.3:  # a rebalance: states come back from the tables
            receipts.clear()
            terminal.clear()
    expected = [i.id for i in run_scope(engine, "terminal", events)]
    assert got_incidents == expected and expected
    part_of = {r.key: r.partition for r in records(events)}
    for name in ("receipts", "terminal"):  # what recovery would rebuild = the table
        assert tables[f"{name}-changelog"] == {
            b"%d|" % part_of[k] + k: v for k, v in tables[name].items()}
    states: dict[str, TerminalState] = {}
    done = []
    for ev in events:
        st, rs = assemble(states.get(ev.pos_terminal, TerminalState()), ev)
        states[ev.pos_terminal] = st
        done += [encode(r) for r in rs]
    assert sorted(got_receipts) == sorted(done) and done

    # the whole topic again (a worker restarted from offset 0): nothing new
    receipts.clear()
    terminal.clear()
    again = terminal_batch(records(events), engine, receipts, terminal)
    assert not again.incidents and not again.receipts
    assert again.counts["events_replayed_skipped"] == len(events)


def test_a_batch_lost_before_its_states_were_written_is_replayed_whole() -> None:
    """Killed after sending, before write_back: the replay sends the same outputs again."""
    events = chain(1500)
    engine = DetectorEngine.from_config(default_config())
    recs = records(events)
    tables: dict[str, dict[bytes, bytes]] = {}
    receipts, terminal = caches(engine, tables)
    first = terminal_batch(recs[:700], engine, receipts, terminal)
    receipts.write_back()
    terminal.write_back()
    lost = terminal_batch(recs[700:], engine, receipts, terminal)  # no write_back
    restarted = caches(engine, tables)  # a new worker: the tables only
    replay = terminal_batch(recs[700:], engine, *restarted)
    assert replay.incidents == lost.incidents and replay.receipts == lost.receipts
    assert replay.routed == lost.routed
    assert first.incidents or lost.incidents


def test_scope_batches_skip_reforwarded_bundles_and_match_the_archive() -> None:
    """Bundles in the order a router sends them (terminals interleaved by batch), each
    forwarded twice: the card scope steps every event once, in archive order."""
    events = chain()
    engine = DetectorEngine.from_config(default_config())
    recs = records(events)
    tables: dict[str, dict[bytes, bytes]] = {}
    receipts, terminal = caches(engine, tables)
    routed = []
    for batch in batches(recs, random.Random(1)):
        out = terminal_batch(batch, engine, receipts, terminal)
        routed += [(k, r) for (k, _), r in out.routed.get("card", {}).items()]
    assert routed, "the data must use discount cards"
    card = StateCache(tables.setdefault("card", {}), decode_ordered, encode_ordered,
                      OrderedScopeState, lambda p, k, v: None)
    waiting: dict[int, dict[bytes, int]] = {}
    incidents = []
    lateness = 10**12  # longer than the data: exact archive order whatever the interleaving
    for i, (key, r) in enumerate(routed + routed):
        out = scope_batch("card", [Record(0, i, key, encode_routed(r))], engine, card,
                          lateness_us=lateness, waiting=waiting)
        card.write_back()
        incidents += [decode_incident(v).id for _, v in out.incidents]
    assert not incidents, "everything is held within the lateness"
    assert waiting[0], "the held keys are known"
    out = release_held("card", engine, card, waiting, lateness_us=lateness)
    card.write_back()
    incidents += [decode_incident(v).id for _, v in out.incidents]
    assert len(incidents) == len(set(incidents)) and incidents
    card_events = [ev for ev in events if engine.key("card", ev) is not None]
    assert sorted(incidents) == sorted(
        i.id for i in run_scope(engine, "card", archive_order(card_events)))
    assert not any(waiting.values())
