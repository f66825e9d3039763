"""DetectorEngine: the enabled detectors grouped by scope, one state value per key.

The engine is what streams/ (Faust agents) and the archive runner call; both go through the
same `step`, so they give the same incidents.

    engine = DetectorEngine.from_config(config, zones=zones)
    for scope in engine.scopes():                  # "terminal", "cashier", "card"
        key = engine.key(scope, ev)                # None: this scope ignores the event
        state = table.get(key) or engine.initial(scope)
        state, incidents = engine.step(scope, state, ev)
        table[key] = state                         # or encode_state(state) for bytes

A `ScopeState` holds, for one key of one scope, the state of every detector of that scope
(and, for the terminal scope, the terminal's receipt context), so a Faust table keyed by
terminal / cashier / card holds one value per key. A state built by an engine of another
configuration is carried over by detector GUID on its next step: workers swap engines when
the configuration changes and keep their tables.

Per event the work is a dict lookup of (terminal, event type) -> the detectors that react to
it; the receipt context is folded with `posguard.model.receipts.assemble` after them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Union

import msgspec

from posguard.detectors.base import SCOPES, Detector, DetectorState, Scope, scope_key
from posguard.detectors.errors import StateError
from posguard.detectors.localtime import Zones
from posguard.detectors.ordering import archive_order
from posguard.detectors.registry import STATE_TYPES
from posguard.model.events import PosEvent
from posguard.model.incidents import Incident
from posguard.model.receipts import TerminalState, assemble

if TYPE_CHECKING:
    from posguard.detectors.config import DetectorConfig

    AnyState = DetectorState
else:
    AnyState = Union[STATE_TYPES]  # noqa: UP007 - a tagged union built from the registry

__all__ = [
    "DetectorEngine",
    "ScopeState",
    "encode_state",
    "decode_state",
    "run_scope",
    "run_archive",
    "archive_order",
]

_Step = Callable[[Any, PosEvent, TerminalState | None], tuple[Any, Sequence[Incident]]]
_Handlers = tuple[tuple[int, _Step], ...]


class ScopeState(msgspec.Struct, kw_only=True):
    """Everything one key of one scope carries from event to event.

    Attributes:
        scope: the scope this state belongs to.
        fp: fingerprint of the detector set that built it (changes with the configuration).
        guids: the detectors' GUIDs, parallel to `states`.
        states: each detector's state.
        ctx: terminal scope: the terminal's receipt context; other scopes: None.
    """

    scope: str
    fp: str
    guids: list[str]
    states: list[AnyState]
    ctx: TerminalState | None = None


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(ScopeState)


def encode_state(state: ScopeState) -> bytes:
    """Bytes of a scope state (msgpack), e.g. for a Faust table with raw values."""
    return _encoder.encode(state)


def decode_state(data: bytes) -> ScopeState:
    """The scope state of `encode_state` bytes; StateError when they are not one."""
    try:
        return _decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as e:
        raise StateError(f"not a detector scope state: {e}") from None


def _fingerprint(scope: str, detectors: Sequence[Detector[Any, Any]]) -> str:
    h = hashlib.blake2b(scope.encode(), digest_size=8)
    for d in detectors:
        h.update(f"\x00{d.guid}\x01{d.type_name}".encode())
    return h.hexdigest()


class _ScopeRuntime:
    """The detectors of one scope with their per-(terminal, type) dispatch tables."""

    def __init__(self, scope: Scope, detectors: Sequence[Detector[Any, Any]]) -> None:
        self.scope = scope
        self.detectors = tuple(detectors)
        self.fp = _fingerprint(scope, self.detectors)
        self.guids = [d.guid for d in self.detectors]
        self.filtered = any(d.terminals for d in self.detectors)
        self._tables: dict[str, dict[str, _Handlers]] = {}
        self._shared: dict[str, _Handlers] = {}  # used when no detector filters terminals

    def _table(self, terminal: str) -> dict[str, _Handlers]:
        if not self.filtered:
            return self._shared
        table = self._tables.get(terminal)
        if table is None:
            table = self._tables[terminal] = {}
        return table

    def _handlers(self, table: dict[str, _Handlers], terminal: str, etype: str) -> _Handlers:
        hs = tuple(
            (i, d.step)
            for i, d in enumerate(self.detectors)
            if d.applies_to(terminal) and (d.types is None or etype in d.types)
        )
        table[etype] = hs
        return hs

    def applies(self, terminal: str) -> bool:
        return not self.filtered or any(d.applies_to(terminal) for d in self.detectors)

    def make_key(self) -> Callable[[PosEvent], str | None]:
        """The scope's key function, specialised once (it runs for every event)."""
        if self.scope == "terminal":
            if not self.filtered:
                return lambda ev: ev.pos_terminal or None
            watched: dict[str, bool] = {}

            def terminal_key(ev: PosEvent) -> str | None:
                ok = watched.get(ev.pos_terminal)
                if ok is None:
                    ok = watched[ev.pos_terminal] = self.applies(ev.pos_terminal)
                return (ev.pos_terminal or None) if ok else None

            return terminal_key
        scope = self.scope
        if any(d.types is None for d in self.detectors):
            types: frozenset[str] | None = None
        else:
            types = frozenset().union(*(d.types or () for d in self.detectors))

        def cross_key(ev: PosEvent) -> str | None:
            if types is not None and ev.type not in types:
                return None
            if self.filtered:
                table = self._table(ev.pos_terminal)
                hs = table.get(ev.type)
                if hs is None:
                    hs = self._handlers(table, ev.pos_terminal, ev.type)
                if not hs:
                    return None
            return scope_key(scope, ev)

        return cross_key

    def initial(self) -> ScopeState:
        return ScopeState(
            scope=self.scope,
            fp=self.fp,
            guids=list(self.guids),
            states=[d.initial() for d in self.detectors],
            ctx=TerminalState() if self.scope == "terminal" else None,
        )

    def reconcile(self, state: ScopeState) -> ScopeState:
        """Carry a state of another detector set over to this one, by GUID."""
        if state.scope != self.scope:
            raise StateError(f"a {state.scope!r} state given to the {self.scope!r} scope")
        old = dict(zip(state.guids, state.states, strict=False))
        states = []
        for d in self.detectors:
            s = old.get(d.guid)
            states.append(s if type(s) is d.state_type else d.initial())
        ctx = (state.ctx or TerminalState()) if self.scope == "terminal" else None
        return ScopeState(scope=self.scope, fp=self.fp, guids=list(self.guids), states=states,
                          ctx=ctx)

    def make_step(self) -> Callable[[ScopeState, PosEvent], tuple[ScopeState, list[Incident]]]:
        """The scope's step function, specialised once (it runs for every event)."""
        fp = self.fp
        reconcile = self.reconcile
        shared = None if self.filtered else self._shared
        table_of = self._table
        handlers = self._handlers
        fold = assemble if self.scope == "terminal" else None

        def step(state: ScopeState, ev: PosEvent) -> tuple[ScopeState, list[Incident]]:
            if state.fp != fp:
                state = reconcile(state)
            table = shared if shared is not None else table_of(ev.pos_terminal)
            hs = table.get(ev.type)
            if hs is None:
                hs = handlers(table, ev.pos_terminal, ev.type)
            out: list[Incident] | None = None
            ctx = state.ctx
            if hs:
                states = state.states
                for i, fn in hs:
                    st, inc = fn(states[i], ev, ctx)
                    states[i] = st
                    if inc:
                        if out is None:
                            out = list(inc)
                        else:
                            out.extend(inc)
            if fold is not None and ctx is not None:
                fold(ctx, ev)
            return state, out if out is not None else []

        return step


def _no_key(ev: PosEvent) -> str | None:
    return None


class DetectorEngine:
    """The enabled detectors of a configuration, grouped by scope.

    Args:
        detectors: built detectors (GUIDs unique), in the order incidents are raised.

    Example:
        >>> from posguard.detectors.config import default_config
        >>> engine = DetectorEngine.from_config(default_config())
        >>> engine.scopes()
        ('terminal', 'cashier', 'card')
    """

    def __init__(self, detectors: Iterable[Detector[Any, Any]]) -> None:
        dets = tuple(detectors)
        seen: set[str] = set()
        for d in dets:
            if d.guid in seen:
                raise ValueError(f"detector GUID {d.guid!r} used twice")
            seen.add(d.guid)
        self.detectors = dets
        self._rt: dict[str, _ScopeRuntime] = {}
        for scope in SCOPES:
            mine = [d for d in dets if d.scope == scope]
            if mine:
                self._rt[scope] = _ScopeRuntime(scope, mine)
        self._scopes: tuple[Scope, ...] = tuple(s for s in SCOPES if s in self._rt)
        # Bound once: key and step run for every event.
        self._keys = {s: rt.make_key() for s, rt in self._rt.items()}
        self._steps = {s: rt.make_step() for s, rt in self._rt.items()}

    @classmethod
    def from_config(
        cls,
        config: DetectorConfig,
        *,
        zones: Zones | None = None,
        only: Collection[str] | None = None,
    ) -> DetectorEngine:
        """Build the engine of a configuration's enabled detectors.

        Args:
            config: the detector configuration.
            zones: each terminal's timezone, for rules in local time (default: all UTC).
            only: run just these detector GUIDs, enabled or not (archive runs of one
                detector, as `pos_process_archive(guid, ...)`); None: every enabled one.
        """
        from posguard.detectors.config import build_detectors

        return cls(build_detectors(config, zones=zones, only=only))

    def scopes(self) -> tuple[Scope, ...]:
        """The scopes that have at least one detector, in the order terminal, cashier, card."""
        return self._scopes

    def key(self, scope: Scope, ev: PosEvent) -> str | None:
        """The key of `ev` in `scope` (terminal GUID, cashier, card), or None to skip it."""
        fn = self._keys.get(scope)
        return fn(ev) if fn is not None else None

    def initial(self, scope: Scope) -> ScopeState:
        """A fresh state for a new key of `scope`."""
        return self._runtime(scope).initial()

    def step(
        self, scope: Scope, state: ScopeState, ev: PosEvent
    ) -> tuple[ScopeState, list[Incident]]:
        """Fold one event into its key's state; return the state and the incidents raised.

        Args:
            scope: the scope the state belongs to.
            state: the key's state (mutated in place and returned; keep the returned one).
            ev: the next event of that key: for "terminal", the terminal's next event; for
                "cashier"/"card", the key's next event in `archive_order` (reception order
                across terminals; `ordered_scope.ordered_step` restores it live).
        """
        try:
            fn = self._steps[scope]
        except KeyError:
            raise ValueError(f"no enabled detector has scope {scope!r}") from None
        return fn(state, ev)

    def key_function(self, scope: Scope) -> Callable[[PosEvent], str | None]:
        """`key` for one scope as a one-argument function, for hot loops and group_by."""
        fn = self._keys.get(scope)
        return fn if fn is not None else _no_key

    def step_function(
        self, scope: Scope
    ) -> Callable[[ScopeState, PosEvent], tuple[ScopeState, list[Incident]]]:
        """`step` for one scope as a two-argument function, for hot loops."""
        self._runtime(scope)
        return self._steps[scope]

    def fingerprint(self, scope: Scope) -> str:
        """Fingerprint of the detector set of `scope` (stored in its states)."""
        return self._runtime(scope).fp

    def _runtime(self, scope: Scope) -> _ScopeRuntime:
        rt = self._rt.get(scope)
        if rt is None:
            raise ValueError(f"no enabled detector has scope {scope!r}")
        return rt

    encode_state = staticmethod(encode_state)
    decode_state = staticmethod(decode_state)


def run_scope(
    engine: DetectorEngine, scope: Scope, events: Iterable[PosEvent]
) -> Iterator[Incident]:
    """Run one scope over events already in that scope's order, yielding incidents.

    Streaming (only one state per key is kept): for a large archive, read the terminal
    scope's events terminal by terminal (each in its own order) and the cross-terminal
    scopes' events in `archive_order`.
    """
    states: dict[str, ScopeState] = {}
    for ev in events:
        k = engine.key(scope, ev)
        if k is None:
            continue
        st = states.get(k)
        if st is None:
            st = engine.initial(scope)
        st, incs = engine.step(scope, st, ev)
        states[k] = st
        yield from incs


def run_archive(
    engine: DetectorEngine, events: Iterable[PosEvent], *, since: int | None = None
) -> list[Incident]:
    """Run every scope of `engine` over archived events; the incidents a live run raises.

    Args:
        engine: the engine (e.g. `DetectorEngine.from_config(cfg, only=[guid])`).
        events: events of any number of terminals, each terminal's in its order.
        since: drop incidents whose triggering event (the last of `related_ts`) is older
            than this `ts_in_receipt` (microseconds): read from a little before the range so
            detectors see the receipts already open, then cut at the range's start.

    Returns:
        The incidents, sorted by (ts_created, detector, id).
    """
    evs = list(events)
    out: list[Incident] = []
    merged: list[PosEvent] | None = None
    for scope in engine.scopes():
        if scope == "terminal":
            out.extend(run_scope(engine, scope, evs))
        else:
            if merged is None:
                merged = archive_order(evs)
            out.extend(run_scope(engine, scope, merged))
    if since is not None:
        out = [i for i in out if (i.related_ts[-1] if i.related_ts else i.ts_created) >= since]
    out.sort(key=lambda i: (i.ts_created, i.detector, i.id))
    return out
