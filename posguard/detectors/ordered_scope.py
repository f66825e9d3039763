"""Cross-terminal scopes live: a key's engine state plus its order buffer, in one value.

The cashier and card scopes (rules 9 and 10) must see a key's events in `archive_order`
(reception time, then terminal), as the archive feeds them. Live they come from a
repartition topic in arrival order: each terminal's events in order, terminals interleaved
as the routing agents forwarded them. `ordered_step` holds a key's events back until the
newest reception time seen is more than `lateness` past them, then steps the engine over them
in archive order. The held events live in the key's state (`OrderedScopeState`), which the
agent stores in its table after every batch, so a restarted worker finds them there.

    state = decode_ordered(raw) if raw else None
    state, incidents = ordered_step(engine, "cashier", state, batch_of_that_key,
                                    lateness_us=2_000_000, now_us=newest_on_the_partition)
    table[key] = encode_ordered(state)

Exactness: when no event arrives more than `lateness` of reception time behind the newest
event seen before it (on the key; or on the partition, when its newest time is passed as
`now_us`), the incidents are exactly the archive's, whatever the interleaving and however
the arrivals are cut into batches. An event later than that is still processed, in the
release it arrives in (never dropped), and counted in `OrderedScopeState.late`; rules that
depend on order may then differ from the archive for that key.

The trade-off is delay: a key's incident comes at least `lateness` of reception time after
its triggering event, later still when the key is quiet, until something newer (on the key,
or `now_us`) moves the watermark, or `ordered_flush` releases everything.

Pure: no clock. The caller passes `now_us` (e.g. the newest reception time on the partition,
or wall time) and decides when to flush.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from posguard.detectors.base import Scope
from posguard.detectors.engine import DetectorEngine, ScopeState, decode_state
from posguard.detectors.errors import StateError
from posguard.detectors.ordering import archive_order, release
from posguard.model.events import PosEvent
from posguard.model.incidents import Incident

__all__ = [
    "DEFAULT_LATENESS_US",
    "OrderedScopeState",
    "ordered_step",
    "ordered_flush",
    "next_release_us",
    "encode_ordered",
    "decode_ordered",
]

DEFAULT_LATENESS_US = 2_000_000  # 2 s of reception time (setting cross_terminal_lateness_ms)
_NEVER = -(1 << 63)  # before any reception time; msgpack's smallest int64


class OrderedScopeState(msgspec.Struct, kw_only=True, array_like=True):
    """What one key of a cross-terminal scope carries from batch to batch.

    Attributes:
        state: the engine's state of the key; None until its first event is stepped.
        pending: events held back, in arrival order (each terminal's in its order).
        newest: the newest `ts_received` seen on this key.
        watermark: every event received before this time has been released; one arriving
            now with `ts_received` below it is late.
        late: how many events arrived late (processed anyway, maybe out of archive order).
    """

    state: ScopeState | None = None
    pending: list[PosEvent] = msgspec.field(default_factory=list)
    newest: int = _NEVER
    watermark: int = _NEVER
    late: int = 0


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(OrderedScopeState)


def encode_ordered(state: OrderedScopeState) -> bytes:
    """Bytes of an ordered scope state (msgpack), for a Faust table with raw values."""
    return _encoder.encode(state)


def decode_ordered(data: bytes) -> OrderedScopeState:
    """The state of `encode_ordered` bytes; also takes plain `encode_state` bytes.

    A table written before the order buffer existed holds plain `ScopeState` bytes; they
    come back as that state with nothing held.

    Raises:
        StateError: the bytes are neither.
    """
    try:
        return _decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError):
        pass
    try:
        return OrderedScopeState(state=decode_state(data))
    except StateError:
        raise StateError("not an ordered detector scope state") from None


def _check(lateness_us: int) -> None:
    if lateness_us < 0:
        raise ValueError("lateness_us must not be negative")


def _run(
    engine: DetectorEngine, scope: Scope, state: OrderedScopeState, due: list[PosEvent]
) -> list[Incident]:
    """Step the engine over released events (already in archive order)."""
    if not due or scope not in engine.scopes():
        # No detector of this scope is enabled any more: nothing to run them through.
        return []
    st = state.state
    if st is None:
        st = engine.initial(scope)
    step = engine.step_function(scope)
    out: list[Incident] = []
    for ev in due:
        st, incs = step(st, ev)
        if incs:
            out.extend(incs)
    state.state = st
    return out


def _release_before(
    engine: DetectorEngine, scope: Scope, state: OrderedScopeState, mark: int
) -> tuple[OrderedScopeState, list[Incident]]:
    if mark > state.watermark:
        state.watermark = mark
    if not state.pending:
        return state, []
    due, state.pending = release(state.pending, state.watermark)
    return state, _run(engine, scope, state, due)


def ordered_step(
    engine: DetectorEngine,
    scope: Scope,
    state: OrderedScopeState | None,
    events: Iterable[PosEvent],
    *,
    lateness_us: int,
    now_us: int | None = None,
) -> tuple[OrderedScopeState, list[Incident]]:
    """Add a key's new arrivals; step the engine over every event now due, in archive order.

    An event is due once a reception time more than `lateness_us` after its own has been
    seen: the newest `ts_received` of the key, or `now_us` when that is later.

    Args:
        engine: the current engine (a state of another configuration is carried over).
        scope: "cashier" or "card".
        state: the key's state from the table, or None for a new key. Mutated and returned.
        events: the key's events of this batch, in arrival order; may be empty (a tick).
        lateness_us: how far (microseconds of reception time) an event may arrive behind the
            newest one and still be put in its place; setting `cross_terminal_lateness_ms`.
        now_us: a reception time known to have been reached, e.g. the newest `ts_received`
            on the partition; None: only this key's events count.

    Returns:
        The key's state (store it) and the incidents raised, in the order they were raised.

    Example:
        >>> from posguard.detectors.cashier_voids import CashierVoids, CashierVoidsParams
        >>> from posguard.detectors.testing import pos_event
        >>> engine = DetectorEngine([CashierVoids("PGD00009", CashierVoidsParams(max_count=1))])
        >>> void = lambda t, at: pos_event(t, "POS_POSITION_DELETE", at=at, cashier_name="Ann")
        >>> st, incs = ordered_step(engine, "cashier", None, [void("T2", 2_000_000),
        ...                         void("T1", 1_000_000)], lateness_us=1_000_000)
        >>> len(st.pending), incs
        (2, [])
        >>> st, incs = ordered_step(engine, "cashier", st, [], lateness_us=1_000_000,
        ...                         now_us=4_000_000)
        >>> len(st.pending), [i.terminal_guid for i in incs]
        (0, ['T2'])
    """
    _check(lateness_us)
    if state is None:
        state = OrderedScopeState()
    newest, mark, pending = state.newest, state.watermark, state.pending
    for ev in events:
        ts = ev.ts_received
        if ts < mark:
            state.late += 1
        pending.append(ev)
        if ts > newest:
            newest = ts
            if ts - lateness_us > mark:
                mark = ts - lateness_us
    state.newest = newest
    if now_us is not None and now_us - lateness_us > mark:
        mark = now_us - lateness_us
    return _release_before(engine, scope, state, mark)


def ordered_flush(
    engine: DetectorEngine, scope: Scope, state: OrderedScopeState
) -> tuple[OrderedScopeState, list[Incident]]:
    """Release every held event of a key, in archive order, and step the engine over them.

    For the end of a finite run (a replay, a test). Live, prefer `ordered_step(engine,
    scope, state, [], lateness_us=..., now_us=...)`, which releases only what is `lateness`
    behind `now_us`: after a flush, an event received before the newest one seen counts as
    late.

    Args:
        engine: the current engine.
        scope: "cashier" or "card".
        state: the key's state. Mutated and returned.

    Returns:
        The key's state (nothing held) and the incidents raised.
    """
    mark = state.watermark
    if state.newest != _NEVER and state.newest + 1 > mark:
        mark = state.newest + 1
    if mark > state.watermark:
        state.watermark = mark
    due, state.pending = archive_order(state.pending), []
    return state, _run(engine, scope, state, due)


def next_release_us(state: OrderedScopeState, *, lateness_us: int) -> int | None:
    """The smallest `now_us` at which `ordered_step(..., [], now_us=...)` releases something.

    None when nothing is held. For a timer: keep keys by this time and tick the due ones.
    """
    _check(lateness_us)
    if not state.pending:
        return None
    return min(ev.ts_received for ev in state.pending) + lateness_us + 1
