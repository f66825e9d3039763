"""The terminal registry: which terminals exist, how they talk, and how to find one.

Pure: `TerminalRegistry` is an immutable value (add/remove return a new registry);
reading and writing the node's TOML file is in `posguard.ingest.files`.

How an incoming piece finds its terminal (`TerminalRegistry.find`):
1. the payload names a GUID (`pos_terminal`): that terminal if it is registered on that
   transport (and port, for TCP/UDP), else none (an explicit name is never guessed around);
2. the payload's location (`location`) equals the `location` of a terminal on that
   transport and port: that terminal;
3. otherwise the port's catch-all terminal: the one terminal on that transport and port
   whose `location` is empty (a port with one terminal sending no location is the usual case).
"""

from __future__ import annotations

import hashlib
import re
import string
from collections.abc import Iterable, Iterator
from typing import Any

import msgspec

from posguard.ingest.errors import RegistryError, UnknownTerminal
from posguard.ingest.units import SEPARATORS
from posguard.model.times import zone

__all__ = ["Terminal", "TerminalRegistry", "PROTOCOLS", "TRANSPORTS", "auto_guid",
           "terminal_from_dict", "terminal_to_dict", "new_terminal"]

PROTOCOLS = ("dssl-xml", "json", "text")
TRANSPORTS = ("tcp", "udp", "http")
_GUID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
_ALNUM = string.ascii_letters + string.digits
_ALWAYS = ("guid", "name", "protocol", "transport", "port")


class Terminal(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One registered terminal.

    Attributes:
        guid: the terminal's id (pos_terminal of its events), e.g. "T1RuoVF7".
        name: display name (pos_terminal_name).
        store: store id of the terminal (PosEvent.store).
        protocol: "dssl-xml", "json" or "text" (printer capture).
        transport: "tcp", "udp" or "http" (http needs protocol json).
        port: listening port (0 for http). Terminals may share a port (see `location`).
        location: the location the terminal puts in its payload; on a shared port it tells
            the terminals apart. Empty = this terminal takes everything on its port that
            no other terminal claims.
        associated_channel: video channel of the terminal.
        timezone: IANA zone of the store ("Europe/Moscow"); receipt times are local.
        encoding: text encoding for json/text (XML says its own in the declaration).
        date_format: strptime format of dates the terminal sends ("%d/%m/%Y").
        decimal_separator: "auto" ('.' or ','), "." or ",".
        raw_dump: write the terminal's incoming bytes to a file.
        transaction_definition: printer-text definition name (protocol "text").
        auto_registered: added by auto-registration, not by a person.
    """

    guid: str
    name: str = ""
    store: str = ""
    protocol: str = "dssl-xml"
    transport: str = "tcp"
    port: int = 0
    location: str = ""
    associated_channel: str = ""
    timezone: str = "UTC"
    encoding: str = "utf-8"
    date_format: str = "%d/%m/%Y"
    decimal_separator: str = "auto"
    raw_dump: bool = False
    transaction_definition: str = ""
    auto_registered: bool = False

    @property
    def port_key(self) -> tuple[str, int]:
        """(transport, port) of the listener this terminal arrives on (http: port 0)."""
        return (self.transport, 0 if self.transport == "http" else self.port)


def _check(t: Terminal) -> Terminal:
    if not _GUID.fullmatch(t.guid):
        raise RegistryError(f"terminal guid {t.guid!r}: 1-64 letters, digits, _ . : -")
    for name in t.__struct_fields__:
        value = getattr(t, name)
        if isinstance(value, str) and not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:  # a lone surrogate: the file is UTF-8
                raise RegistryError(f"terminal {t.guid}: {name} is not valid Unicode") from None
    if t.protocol not in PROTOCOLS:
        raise RegistryError(f"terminal {t.guid}: protocol {t.protocol!r} not in {PROTOCOLS}")
    if t.transport not in TRANSPORTS:
        raise RegistryError(f"terminal {t.guid}: transport {t.transport!r} not in {TRANSPORTS}")
    if t.transport == "http" and t.protocol != "json":
        raise RegistryError(f"terminal {t.guid}: over http the protocol is json")
    if t.transport != "http" and not 1 <= t.port <= 65535:
        raise RegistryError(f"terminal {t.guid}: port {t.port} not in 1..65535")
    if t.protocol == "text" and not t.transaction_definition:
        raise RegistryError(f"terminal {t.guid}: protocol text needs transaction_definition")
    if t.decimal_separator not in SEPARATORS:
        raise RegistryError(f"terminal {t.guid}: decimal_separator not in {SEPARATORS}")
    try:
        zone(t.timezone)
        "".encode(t.encoding)
    except LookupError:
        raise RegistryError(f"terminal {t.guid}: unknown encoding {t.encoding!r}") from None
    except Exception as e:
        raise RegistryError(f"terminal {t.guid}: {e}") from None
    if "%" not in t.date_format:
        raise RegistryError(f"terminal {t.guid}: date_format {t.date_format!r} has no %-codes")
    return t


def terminal_from_dict(d: dict[str, Any]) -> Terminal:
    """A validated Terminal from a TOML table (unknown keys are refused)."""
    try:
        t = msgspec.convert(d, Terminal)
    except msgspec.ValidationError as e:
        raise RegistryError(f"terminal {d.get('guid', '?')!r}: {e}") from None
    return _check(t)


def new_terminal(fields: dict[str, Any]) -> Terminal:
    """A validated Terminal from what a person gave (CLI flags, an API body).

    As `terminal_from_dict`, and an http terminal's port is 0 (it arrives on the API's port).
    """
    if fields.get("transport") == "http":
        fields = {**fields, "port": 0}
    return terminal_from_dict(fields)


def terminal_to_dict(t: Terminal) -> dict[str, Any]:
    """The TOML table of a terminal: its identity, then the fields that differ from defaults."""
    default = Terminal(guid=t.guid)
    return {name: getattr(t, name) for name in t.__struct_fields__
            if name in _ALWAYS or getattr(t, name) != getattr(default, name)}


def auto_guid(transport: str, port: int, key: str) -> str:
    """A stable 8-alphanumeric GUID for an auto-registered terminal."""
    h = int.from_bytes(hashlib.blake2b(f"{transport}:{port}:{key}".encode(),
                                       digest_size=8).digest())
    out = []
    for _ in range(8):
        h, r = divmod(h, len(_ALNUM))
        out.append(_ALNUM[r])
    return "".join(out)


class TerminalRegistry:
    """An immutable set of terminals with look-ups by GUID and by where data arrives.

    Example:
        >>> reg = TerminalRegistry().add(Terminal(guid="T1", port=5001, location="cas_1"))
        >>> reg.find("tcp", 5001, location="cas_1").guid
        'T1'
    """

    __slots__ = ("_terminals", "_by_guid", "_by_location", "_catch_all", "_protocols")

    def __init__(self, terminals: Iterable[Terminal] = ()):
        self._terminals: tuple[Terminal, ...] = ()
        self._by_guid: dict[str, Terminal] = {}
        self._by_location: dict[tuple[str, int, str], Terminal] = {}
        self._catch_all: dict[tuple[str, int], Terminal] = {}
        self._protocols: dict[tuple[str, int], str] = {}
        for t in terminals:
            self._index(_check(t))
        self._terminals = tuple(self._by_guid.values())

    def _index(self, t: Terminal) -> None:
        if t.guid in self._by_guid:
            raise RegistryError(f"terminal {t.guid} is registered twice")
        key = t.port_key
        proto = self._protocols.setdefault(key, t.protocol)
        if proto != t.protocol:
            raise RegistryError(f"terminal {t.guid}: {key[0]} port {key[1]} already speaks "
                                f"{proto}, not {t.protocol}")
        if t.location:
            lk = (*key, t.location)
            if lk in self._by_location:
                raise RegistryError(f"terminal {t.guid}: location {t.location!r} on "
                                    f"{key[0]}:{key[1]} is already {self._by_location[lk].guid}")
            self._by_location[lk] = t
        else:
            if key in self._catch_all:
                raise RegistryError(
                    f"terminal {t.guid}: {key[0]}:{key[1]} already has a terminal without a "
                    f"location ({self._catch_all[key].guid}); give one of them a location")
            self._catch_all[key] = t
        self._by_guid[t.guid] = t

    def __iter__(self) -> Iterator[Terminal]:
        return iter(self._terminals)

    def __len__(self) -> int:
        return len(self._terminals)

    def __contains__(self, guid: object) -> bool:
        return guid in self._by_guid

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TerminalRegistry) and self._terminals == other._terminals

    def __repr__(self) -> str:
        return f"TerminalRegistry({list(self._terminals)!r})"

    @property
    def terminals(self) -> tuple[Terminal, ...]:
        return self._terminals

    def add(self, t: Terminal) -> TerminalRegistry:
        """A new registry with `t` added (RegistryError on a conflict)."""
        return TerminalRegistry((*self._terminals, t))

    def replace(self, t: Terminal) -> TerminalRegistry:
        """A new registry with the terminal of `t.guid` replaced by `t` (or added)."""
        return TerminalRegistry((*(x for x in self._terminals if x.guid != t.guid), t))

    def remove(self, guid: str) -> TerminalRegistry:
        """A new registry without `guid` (UnknownTerminal when it is not there)."""
        if guid not in self._by_guid:
            raise UnknownTerminal(f"no terminal {guid}")
        return TerminalRegistry(x for x in self._terminals if x.guid != guid)

    def get(self, guid: str) -> Terminal | None:
        """The terminal with this GUID, or None."""
        return self._by_guid.get(guid)

    def find(self, transport: str, port: int, guid: str = "",
             location: str = "") -> Terminal | None:
        """The terminal an incoming piece belongs to (see the module docstring)."""
        port = 0 if transport == "http" else port
        if guid:  # a payload that names its terminal gets that one or none
            t = self._by_guid.get(guid)
            return t if t is not None and t.port_key == (transport, port) else None
        if location:
            t = self._by_location.get((transport, port, location))
            if t is not None:
                return t
        return self._catch_all.get((transport, port))

    def ports(self) -> dict[tuple[str, int], str]:
        """(transport, port) -> protocol of every listener the terminals need."""
        return dict(self._protocols)
