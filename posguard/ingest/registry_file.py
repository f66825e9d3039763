"""Adding, changing and removing one terminal in the node's config file: the one way
`posguard terminals add/remove` and the console's `/api/terminals` edit the registry.

Each call reads the file, applies the change to the registry (which validates it) and saves
with `posguard.ingest.files.save_registry` (checked, atomic replace). Calls in one process
are serialised; a running node or `posguard ingest` notices the new file within seconds
(`IngestService.reload`, by modification time).
"""

from __future__ import annotations

import threading
from pathlib import Path

from posguard.ingest.errors import TerminalExists, UnknownTerminal
from posguard.ingest.files import load_registry, save_registry
from posguard.ingest.registry import Terminal

__all__ = ["add_terminal", "put_terminal", "remove_terminal"]

_LOCK = threading.Lock()


def add_terminal(path: Path, terminal: Terminal) -> None:
    """Register a new terminal in the config file.

    Raises:
        TerminalExists: a terminal with its GUID is registered.
        RegistryError: the terminal is invalid or conflicts with another (port, location).
    """
    with _LOCK:
        registry = load_registry(path)
        if terminal.guid in registry:
            raise TerminalExists(f"terminal {terminal.guid} exists")
        save_registry(path, registry.add(terminal))


def put_terminal(path: Path, terminal: Terminal) -> bool:
    """Register a terminal or replace the one with its GUID; True when it replaced one.

    Raises:
        RegistryError: the terminal is invalid or conflicts with another (port, location).
    """
    with _LOCK:
        registry = load_registry(path)
        save_registry(path, registry.replace(terminal))
        return terminal.guid in registry


def remove_terminal(path: Path, guid: str) -> Terminal:
    """Unregister a terminal; returns what was removed.

    Raises:
        UnknownTerminal: no terminal with this GUID.
    """
    with _LOCK:
        registry = load_registry(path)
        old = registry.get(guid)
        if old is None:
            raise UnknownTerminal(f"no terminal {guid}")
        save_registry(path, registry.remove(guid))
        return old
