"""The detector contract: frozen parameters, explicit serialisable state, a pure `step`.

A detector is a plain class. It is built once from its frozen parameters (a msgspec Struct),
its GUID (8 alphanumerics), the incident type it raises and the terminals it applies to. It
never reads a clock: every time it uses is an event's `ts_in_receipt`, turned into store-local
time through the `Zones` it was given.

    det = DeleteWithoutAdmin("PGD00002")
    state = det.initial()
    state, incidents = det.step(state, event, ctx)

`scope` says what the state is keyed by:

- "terminal": one terminal's ordered events. `ctx` is that terminal's receipt context
  (`posguard.model.receipts.TerminalState`) as it was *before* the event; the engine folds the
  event into it with `assemble` after every detector has seen it.
- "cashier": one cashier's events across terminals (rule 9); `ctx` is None.
- "card": one discount card's events across the chain (rule 10); `ctx` is None.

`step` may mutate the state it is given and returns it (the engine keeps the returned value);
states are msgspec Structs, members of a tagged union, so `engine.encode_state` turns them into
bytes and back. Incidents have deterministic ids (`incident_id(guid, trigger keys)`), times
taken from the triggering events, so a live run and an archive run of the same events give
identical incidents.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar, Generic, Literal, TypeVar

import msgspec

from posguard.detectors.localtime import Zones
from posguard.model.event_types import POSITION_TYPES, RECEIPT_START_TYPES
from posguard.model.events import PosEvent
from posguard.model.incidents import Incident, incident_id
from posguard.model.receipts import OpenReceipt, TerminalState

__all__ = [
    "Scope",
    "SCOPES",
    "GUID_RE",
    "IncidentType",
    "Params",
    "DetectorState",
    "NoState",
    "Ref",
    "Detector",
    "NO_INCIDENTS",
    "event_key",
    "ref",
    "scope_key",
    "receipt_of",
    "receipt_identity",
    "NON_RECEIPT_TYPES",
    "cashier_of",
    "money",
]

Scope = Literal["terminal", "cashier", "card"]
SCOPES: tuple[Scope, ...] = ("terminal", "cashier", "card")
GUID_RE = re.compile(r"^[A-Za-z0-9]{8}$")

# (event key, ts_in_receipt) of an event remembered in state, for related_events/related_ts.
Ref = tuple[str, int]

NO_INCIDENTS: tuple[Incident, ...] = ()


class IncidentType(msgspec.Struct, frozen=True, kw_only=True):
    """A kind of incident operators triage (name, description, folder), as in the reference.

    Example:
        >>> IncidentType(guid="PGI00002", name="Delete without admin").folder
        ''
    """

    guid: str
    name: str
    description: str = ""
    folder: str = ""


class Params(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base of detector parameters: frozen, keyword-only, unknown names refused.

    Subclasses check their values in `__post_init__` (raising ValueError), so a bad value is
    refused both when built in Python and when decoded from the configuration.
    """


class DetectorState(msgspec.Struct, kw_only=True, tag=True):
    """Base of every detector state: a tagged union member, mutated in place by `step`."""


class NoState(DetectorState):
    """The state of detectors that need nothing beyond the receipt context."""


def event_key(ev: PosEvent) -> str:
    """The identity of an event in incident ids: its event_id, else terminal|time|type."""
    return ev.event_id or f"{ev.pos_terminal}|{ev.ts_in_receipt}|{ev.type}"


def ref(ev: PosEvent) -> Ref:
    """What state remembers of an event: its key and its time on the terminal."""
    return (ev.event_id or f"{ev.pos_terminal}|{ev.ts_in_receipt}|{ev.type}", ev.ts_in_receipt)


def _card(ev: PosEvent) -> str | None:
    if ev.type != "POS_DISCOUNT_CARD":
        return None
    return ev.discount_card or ev.text or None


def scope_key(scope: Scope, ev: PosEvent) -> str | None:
    """The state key of `ev` in `scope`: terminal GUID, cashier name or card number.

    Example:
        >>> scope_key("cashier", PosEvent(type="POS_POSITION_DELETE", pos_terminal="T1",
        ...     ts_in_receipt=1, ts_received=1, cashier_name="Ivanov I"))
        'Ivanov I'
    """
    if scope == "terminal":
        return ev.pos_terminal or None
    if scope == "cashier":
        return ev.cashier_name or None
    return _card(ev)


# Events that never tear the open receipt: the rule of `posguard.model.receipts.assemble`.
NON_RECEIPT_TYPES = frozenset(
    {"POS_CASHIER_LOGIN", "POS_CASHIER_LOGOUT", "POS_ADMIN_LOGIN", "POS_ADMIN_LOGOUT", "POS_FRAUD"}
)


def receipt_of(ctx: TerminalState | None, ev: PosEvent) -> OpenReceipt | None:
    """The open receipt `ev` belongs to, from the context before the event.

    None when no receipt is open, when `ev` opens a new receipt, or when it carries another
    op_id (the open receipt was torn: `assemble` finishes it as incomplete).
    """
    if ctx is None:
        return None
    r = ctx.receipt
    if r is None or ev.type in RECEIPT_START_TYPES:
        return None
    if ev.op_id and r.op_id and ev.op_id != r.op_id and ev.type not in NON_RECEIPT_TYPES:
        return None
    return r


def receipt_identity(ctx: TerminalState | None, ev: PosEvent) -> str:
    """A string naming the receipt `ev` is part of ("" outside any receipt).

    Follows `assemble`: an opening event starts a new receipt, a position with an op_id and
    no open receipt starts one implicitly.
    """
    if ev.type in RECEIPT_START_TYPES:
        return f"{ev.op_id}|{ev.ts_in_receipt}"
    r = receipt_of(ctx, ev)
    if r is not None:
        return f"{r.op_id}|{r.ts_open}"
    if ev.type in POSITION_TYPES and ev.op_id:
        return f"{ev.op_id}|{ev.ts_in_receipt}"
    return ""


def cashier_of(ev: PosEvent, ctx: TerminalState | None) -> str:
    """The cashier of an event: its own field, else the receipt's, else who is signed in."""
    if ev.cashier_name:
        return ev.cashier_name
    if ctx is None:
        return ""
    if ctx.receipt is not None and ctx.receipt.cashier_name:
        return ctx.receipt.cashier_name
    return ctx.cashier_name


def money(kopecks: int) -> str:
    """Kopecks as a decimal string: 8990 -> '89.90'."""
    sign = "-" if kopecks < 0 else ""
    k = abs(kopecks)
    return f"{sign}{k // 100}.{k % 100:02d}"


P = TypeVar("P", bound=Params)
S = TypeVar("S", bound=DetectorState)


class Detector(Generic[P, S]):
    """Base class of the standard detectors.

    Subclasses set the class attributes and implement `event_types` and `step`.

    Class attributes:
        type_name: the detector type in the XML configuration ("delete_without_admin").
        title: the default incident type name.
        summary: the default incident type description.
        scope: what the state is keyed by ("terminal", "cashier" or "card").
        params_type: the frozen msgspec Struct of parameters (defaults = documented defaults).
        state_type: the DetectorState subclass `initial()` returns.

    Args:
        guid: 8 alphanumerics, the detector's identity (incident ids derive from it).
        params: the parameters; None means all defaults.
        incident_type: the type of incidents raised; None means one named after the rule.
        name: a display name.
        terminals: terminal GUIDs the detector applies to; empty means all.
        zones: the terminals' timezones (for rules in local time); None means all UTC.
    """

    type_name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    scope: ClassVar[Scope] = "terminal"
    params_type: ClassVar[type[Any]]
    state_type: ClassVar[type[DetectorState]] = NoState

    __slots__ = ("guid", "name", "params", "incident_type", "terminals", "zones", "types")

    def __init__(
        self,
        guid: str,
        params: P | None = None,
        *,
        incident_type: IncidentType | None = None,
        name: str = "",
        terminals: Iterable[str] = (),
        zones: Zones | None = None,
    ) -> None:
        if not GUID_RE.match(guid):
            raise ValueError(f"detector GUID {guid!r} is not 8 letters or digits")
        self.guid = guid
        self.name = name or self.title
        self.params: P = params if params is not None else self.params_type()
        if not isinstance(self.params, self.params_type):
            raise TypeError(
                f"{self.type_name} needs {self.params_type.__name__}, "
                f"not {type(self.params).__name__}"
            )
        self.incident_type = incident_type or IncidentType(
            guid=guid, name=self.title, description=self.summary, folder="Standard"
        )
        self.terminals: frozenset[str] = frozenset(terminals)
        self.zones = zones or Zones()
        self.setup()
        self.types: frozenset[str] | None = self.event_types()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.guid!r}, {self.params!r})"

    # -- the contract -------------------------------------------------------------------

    def setup(self) -> None:
        """Precompute what `step` needs from the parameters (called once by __init__)."""

    def event_types(self) -> frozenset[str] | None:
        """The event types `step` reacts to (None: every type). Fixed once built."""
        raise NotImplementedError

    def applies_to(self, terminal: str) -> bool:
        """True when the detector watches this terminal."""
        return not self.terminals or terminal in self.terminals

    def key(self, ev: PosEvent) -> str | None:
        """The state key of `ev` for this detector, or None when the event is not relevant.

        Terminal-scope detectors key every event of a watched terminal (the receipt context
        needs them all); the others only the event types they react to.
        """
        if not self.applies_to(ev.pos_terminal):
            return None
        if self.scope != "terminal" and self.types is not None and ev.type not in self.types:
            return None
        return scope_key(self.scope, ev)

    def initial(self) -> S:
        """A fresh state for a new key."""
        return self.state_type()  # type: ignore[return-value]

    def step(
        self, state: S, ev: PosEvent, ctx: TerminalState | None
    ) -> tuple[S, Sequence[Incident]]:
        """Fold one event into the state; return the state and the incidents it raises.

        Args:
            state: this detector's state for the event's key (may be mutated and returned).
            ev: the next event of that key, in order.
            ctx: terminal scope: the receipt context before `ev`; other scopes: None.
        """
        raise NotImplementedError

    # -- helpers for subclasses -----------------------------------------------------------

    def tz(self, ev: PosEvent, override: str = "") -> str:
        """The timezone to read `ev`'s local time in: `override`, else its terminal's."""
        return override or self.zones.of(ev.pos_terminal)

    def incident(
        self,
        ev: PosEvent,
        *,
        related: Sequence[Ref] = (),
        id_keys: Sequence[str] | None = None,
        details: str = "",
        columns: dict[str, str] | None = None,
        cashier: str = "",
        op_id: str | None = None,
    ) -> Incident:
        """An incident triggered by `ev` (the last triggering event).

        Args:
            ev: the event that made the rule fire; gives terminal, store, receipt and times.
            related: earlier triggering events (key, ts), oldest first; `ev` is appended.
            id_keys: the keys the id derives from; default: the related events' keys.
            details: a human-readable reason, stored in custom_columns["details"].
            columns: more custom columns.
            cashier: the cashier; default: the event's cashier_name.
            op_id: the receipt; default: the event's op_id.
        """
        refs = [*related, ref(ev)]
        keys = [k for k, _ in refs] if id_keys is None else list(id_keys)
        cols = dict(columns) if columns else {}
        if details:
            cols["details"] = details
        it = self.incident_type
        return Incident(
            id=incident_id(self.guid, keys),
            detector=self.guid,
            type_id=it.guid,
            type_name=it.name,
            type_description=it.description,
            terminal_guid=ev.pos_terminal,
            terminal_name=ev.pos_terminal_name,
            associated_channel=ev.associated_channel,
            cashier_name=cashier or ev.cashier_name,
            ts_created=ev.ts_received or ev.ts_in_receipt,
            related_ts=[t for _, t in refs],
            related_events=[k for k, _ in refs],
            custom_columns=cols,
            store=ev.store,
            op_id=ev.op_id if op_id is None else op_id,
        )
