"""The worker's per-batch logic, without Faust: what the agents in streams/pipeline.py do
with a batch of records, so it is tested with dicts for tables and lists for topics.

- `terminal_batch`: pos.events records -> receipt assembly (table terminal_state), the
  terminal-scope detectors (table detector_terminal) and the events the cross-terminal
  scopes need, bundled per key (`Routed`).
- `scope_batch`: `Routed` bundles of one cross-terminal scope -> its detectors (table
  detector_<scope>), in archive order (`detectors/ordered_scope.py`).
Each key's state skips what it has folded in already (see table_values), so a replayed batch
changes nothing and yields the same outputs again.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from posguard.detectors.engine import DetectorEngine, ScopeState
from posguard.detectors.ordered_scope import OrderedScopeState, next_release_us, ordered_step
from posguard.model.codec import decode_event, encode
from posguard.model.errors import DecodeError
from posguard.model.events import PosEvent
from posguard.model.receipts import TerminalState, assemble
from posguard.streams.routing import Routed, decode_routed
from posguard.streams.state_cache import StateCache
from posguard.streams.table_values import is_new

__all__ = ["Record", "BatchOutput", "terminal_batch", "scope_batch", "release_held",
           "CROSS_SCOPES"]

CROSS_SCOPES = ("cashier", "card")
_END_OF_TIME = 2**62  # microseconds: a release point past every held event


class Record(NamedTuple):
    """A consumed Kafka record."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes


@dataclass
class BatchOutput:
    """What a batch sends: (key, value) per topic, and counters."""

    receipts: list[tuple[bytes, bytes]] = field(default_factory=list)
    incidents: list[tuple[bytes, bytes]] = field(default_factory=list)
    routed: dict[str, dict[tuple[bytes, int], Routed]] = field(default_factory=dict)
    """scope -> (key, pos.events partition) -> bundle (sent keyed by key)."""
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add_incidents(self, incs: Sequence[object], terminal: bytes) -> None:
        for inc in incs:
            self.incidents.append((terminal, encode(inc)))
            self.counts[f"incidents_raised:{inc.detector}"] += 1  # type: ignore[attr-defined]
        self.counts["incidents_raised"] += len(incs)


def terminal_batch(records: Sequence[Record], engine: DetectorEngine,
                   receipts: StateCache[TerminalState] | None,
                   detection: StateCache[ScopeState]) -> BatchOutput:
    """Fold a batch of pos.events records into the terminals' states.

    Args:
        records: pos.events records, in partition order.
        engine: the detector engine of the current configuration.
        receipts: the receipt-assembly states (None: assembly off).
        detection: the terminal-scope detector states.
    """
    out = BatchOutput()
    counts = out.counts
    scopes = engine.scopes()
    detect_terminal = "terminal" in scopes
    step = engine.step_function("terminal") if detect_terminal else None
    routes = [(s, engine.key_function(s), out.routed.setdefault(s, {}))
              for s in CROSS_SCOPES if s in scopes]
    for partition, offset, _, raw in records:
        try:
            ev = decode_event(raw)
        except DecodeError:
            counts["events_rejected"] += 1  # the sink dead-letters it
            continue
        key = ev.pos_terminal.encode()
        if receipts is not None:
            entry = receipts.get(key, partition)
            if offset > entry.value.offset:
                entry.state, done = assemble(entry.state, ev)
                entry.value.offset = offset
                out.receipts.extend((key, encode(r)) for r in done)
                counts["events_assembled"] += 1
                counts["receipts_finished"] += len(done)
            else:
                counts["events_replayed_skipped"] += 1
        if not (detect_terminal or routes):
            continue
        d = detection.get(key, partition)
        if offset <= d.value.offset:
            counts["detector_events_replayed_skipped"] += 1
            continue
        d.value.offset = offset
        if step is not None:
            d.state, incs = step(d.state, ev)
            if incs:
                out.add_incidents(incs, key)
            counts["detector_terminal_events"] += 1
        for _scope, key_of, bundles in routes:
            k = key_of(ev)
            if k is not None:
                r = bundles.get((k.encode(), partition))
                if r is None:
                    r = bundles[(k.encode(), partition)] = Routed(partition, [])
                r.events.append((offset, raw))
    return out


def scope_batch(scope: str, records: Sequence[Record], engine: DetectorEngine,
                states: StateCache[OrderedScopeState], *, lateness_us: int,
                waiting: dict[int, dict[bytes, int]] | None = None) -> BatchOutput:
    """Fold `Routed` bundles of a cross-terminal scope into its keys' states.

    Each key's new events go through `ordered_step`, which holds them until they can be
    stepped in archive order (reception time, then terminal), `lateness_us` behind the
    newest reception time seen on their repartition partition.

    Args:
        waiting: per repartition partition, keys holding events -> when they are due
            (`next_release_us`); kept by the caller between batches, so a key that
            receives nothing more is still released once its partition's time moves on.
            In memory only: after a restart such a key waits for its next event.
    """
    out = BatchOutput()
    counts = out.counts
    if scope not in engine.scopes():
        return out
    arrivals: dict[tuple[int, bytes], list[PosEvent]] = {}
    newest: dict[int, int] = {}
    for partition, _, key, raw in records:
        if key is None:
            continue
        try:
            bundle = decode_routed(raw)
        except Exception:
            counts[f"detector_{scope}_rejected"] += 1
            continue
        entry = states.get(key, partition)
        evs = arrivals.setdefault((partition, key), [])
        for offset, event_raw in bundle.events:
            if not is_new(entry.value, bundle.partition, offset):
                counts["detector_events_repartition_duplicates"] += 1
                continue
            try:
                ev = decode_event(event_raw)
            except DecodeError:
                continue
            evs.append(ev)
            if ev.ts_received > newest.get(partition, 0):
                newest[partition] = ev.ts_received
    waiting = waiting if waiting is not None else {}
    for partition, now in newest.items():  # quiet keys whose time has come
        for key, due in list(waiting.get(partition, {}).items()):
            if due <= now:
                arrivals.setdefault((partition, key), [])
    for (partition, key), evs in arrivals.items():
        entry = states.get(key, partition)
        late = entry.state.late
        entry.state, incs = ordered_step(engine, scope, entry.state, evs,  # type: ignore[arg-type]
                                         lateness_us=lateness_us, now_us=newest.get(partition))
        for inc in incs:
            out.add_incidents([inc], inc.terminal_guid.encode())
        counts[f"detector_{scope}_events"] += len(evs)
        counts[f"detector_{scope}_late_events"] += entry.state.late - late
        due = next_release_us(entry.state, lateness_us=lateness_us)
        held = waiting.setdefault(partition, {})
        if due is None:
            held.pop(key, None)
        else:
            held[key] = due
    return out


def release_held(scope: str, engine: DetectorEngine, states: StateCache[OrderedScopeState],
                 waiting: dict[int, dict[bytes, int]], *, lateness_us: int) -> BatchOutput:
    """Step every held event of the keys in `waiting` (the scope's stream has been quiet
    for longer than the lateness in wall time: nothing earlier can still arrive in time)."""
    out = BatchOutput()
    if scope not in engine.scopes():
        return out
    for partition, keys in waiting.items():
        for key in list(keys):
            entry = states.get(key, partition)
            entry.state, incs = ordered_step(engine, scope, entry.state, [],  # type: ignore[arg-type]
                                             lateness_us=lateness_us, now_us=_END_OF_TIME)
            for inc in incs:
                out.add_incidents([inc], inc.terminal_guid.encode())
            del keys[key]
    return out
