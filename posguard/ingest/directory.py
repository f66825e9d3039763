"""The running adapters' view of the terminals: current registry, auto-registration, the
decoder for a new connection, and the receipt state of printer-text terminals.

Shell code (auto-registration writes the config file); the decisions are the registry's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from posguard.ingest.config import IngestConfig
from posguard.ingest.dssl_xml import DsslDecoder
from posguard.ingest.errors import RegistryError
from posguard.ingest.files import save_registry
from posguard.ingest.json_events import NdjsonDecoder
from posguard.ingest.printer_defs import TransactionDefinition
from posguard.ingest.printer_text import PrinterDecoder, PrinterState, expire
from posguard.ingest.registry import Terminal, TerminalRegistry, auto_guid
from posguard.ingest.rejects import Rejected, rejected
from posguard.model.events import PosEvent

__all__ = ["TerminalDirectory", "StreamDecoder"]

log = logging.getLogger(__name__)


class StreamDecoder(Protocol):
    """The per-connection (or per-datagram) pipeline of a protocol."""

    def feed(self, chunk: bytes, ts_received: int) -> list[PosEvent | Rejected]: ...
    def close(self, ts_received: int) -> list[PosEvent | Rejected]: ...


class _RefuseDecoder:
    """For a port whose data cannot be attributed (a text port without its terminal)."""

    def __init__(self, reason: str, source: str):
        self.reason, self.source = reason, source

    def feed(self, chunk: bytes, ts_received: int) -> list[PosEvent | Rejected]:
        return [rejected("unknown_terminal", self.reason, chunk, ts_received,
                         source=self.source)]

    def close(self, ts_received: int) -> list[PosEvent | Rejected]:
        return []


class TerminalDirectory:
    """Terminals as the listeners see them.

    Args:
        registry: the registry to start from.
        config: the `[ingest]` settings (auto_register, default_timezone, limits).
        definitions: printer transaction definitions by name.
        ids: event id source.
        path: the config file auto-registered terminals are saved to (None: not saved).
    """

    def __init__(self, registry: TerminalRegistry, config: IngestConfig,
                 definitions: dict[str, TransactionDefinition], ids: Callable[[], str],
                 path: Path | None = None):
        self.registry, self.config, self.definitions = registry, config, definitions
        self.ids, self.path = ids, path
        self.printer_states: dict[str, PrinterState] = {}
        self.on_change: Callable[[], None] | None = None

    def find(self, transport: str, port: int, protocol: str, guid: str,
             location: str) -> Terminal | None:
        """The terminal of a piece; with auto-registration on, unknown ones are added."""
        t = self.registry.find(transport, port, guid, location)
        if t is not None or not self.config.auto_register:
            return t
        return self._register(transport, port, protocol, guid, location)

    def _register(self, transport: str, port: int, protocol: str, guid: str,
                  location: str) -> Terminal | None:
        key = guid or location
        new_guid = guid if guid and guid not in self.registry else auto_guid(transport, port, key)
        name = (location or guid or f"{transport}:{port}")[:64]
        try:
            t = Terminal(guid=new_guid, name=name, protocol=protocol, transport=transport,
                         port=0 if transport == "http" else port, location=location[:256],
                         timezone=self.config.default_timezone, auto_registered=True)
            registry = self.registry.add(t)
        except (RegistryError, ValueError) as e:
            log.warning("cannot auto-register a terminal for %s:%s %r: %s", transport, port,
                        key, e)
            return None
        self.registry = registry
        log.info("auto-registered terminal %s (%s on %s:%s)", t.guid, name, transport, port)
        if self.path is not None:
            try:
                save_registry(self.path, registry)
            except (RegistryError, OSError) as e:
                log.error("auto-registered %s but could not save %s: %s", t.guid, self.path, e)
        if self.on_change:
            self.on_change()
        return t

    def resolver(self, transport: str, port: int,
                 protocol: str) -> Callable[[str, str], Terminal | None]:
        """(guid, location) -> terminal, for pieces arriving on transport:port."""
        return lambda guid, location: self.find(transport, port, protocol, guid, location)

    def decoder(self, transport: str, port: int, protocol: str, source: str) -> StreamDecoder:
        """A fresh decoder for a new connection (or datagram) on transport:port."""
        limit = self.config.max_document_bytes
        catch_all = self.registry.find(transport, port)
        terminal = catch_all.guid if catch_all else ""
        resolve = self.resolver(transport, port, protocol)
        if protocol == "dssl-xml":
            return DsslDecoder(resolve, self.ids, limit, source, terminal)
        if protocol == "json":
            return NdjsonDecoder(resolve, self.ids, limit, source, terminal)
        if catch_all is None:
            return _RefuseDecoder(f"no terminal registered for printer text on {transport}:"
                                  f"{port}", source)
        d = self.definitions.get(catch_all.transaction_definition)
        if d is None:
            return _RefuseDecoder(f"terminal {catch_all.guid}: transaction definition "
                                  f"{catch_all.transaction_definition!r} not loaded", source)
        state = self.printer_states.setdefault(catch_all.guid, PrinterState())
        return _SharedStateDecoder(PrinterDecoder(d, catch_all, state, self.ids, limit, source),
                                   self.printer_states)

    def expire_printers(self, now: int) -> list[PosEvent]:
        """POS_RECEIPT_INCOMPLETE for printer receipts idle longer than their timeout."""
        out: list[PosEvent] = []
        for guid, state in list(self.printer_states.items()):
            t = self.registry.get(guid)
            d = self.definitions.get(t.transaction_definition) if t else None
            if t is None or d is None:
                continue
            self.printer_states[guid], events = expire(d, t, state, now, self.ids)
            out += events
        return out


class _SharedStateDecoder:
    """A PrinterDecoder whose state is written back to the terminal's shared slot."""

    def __init__(self, inner: PrinterDecoder, states: dict[str, PrinterState]):
        self.inner, self.states = inner, states

    def _sync(self, out: list[PosEvent | Rejected]) -> list[PosEvent | Rejected]:
        self.states[self.inner.terminal.guid] = self.inner.state
        return out

    def feed(self, chunk: bytes, ts_received: int) -> list[PosEvent | Rejected]:
        self.inner.state = self.states.get(self.inner.terminal.guid, self.inner.state)
        return self._sync(self.inner.feed(chunk, ts_received))

    def close(self, ts_received: int) -> list[PosEvent | Rejected]:
        self.inner.state = self.states.get(self.inner.terminal.guid, self.inner.state)
        return self._sync(self.inner.close(ts_received))
