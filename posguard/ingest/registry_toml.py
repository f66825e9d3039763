"""The terminal registry in the node's TOML document: pure read, render and splice.

    [[terminals]]
    guid = "T1RuoVF7"
    name = "Store 1 till 1"
    protocol = "dssl-xml"
    transport = "tcp"
    port = 5001
    store = "store-1"
    timezone = "Europe/Moscow"

Saving rewrites only the `[[terminals]]` tables of the file: every other table, key and
comment stays as the person wrote it (`replace_terminal_tables`).
"""

from __future__ import annotations

import re
from typing import Any

from posguard.ingest.config import IngestConfig, ingest_config_from_dict
from posguard.ingest.errors import RegistryError
from posguard.ingest.registry import TerminalRegistry, terminal_from_dict, terminal_to_dict
from posguard.ingest.tomlw import toml_table

__all__ = ["registry_from_document", "ingest_config_from_document", "render_terminals",
           "replace_terminal_tables"]

_HEADER = re.compile(r"^\s*\[")
_TERMINALS = re.compile(r"^\s*\[\[\s*terminals\s*\]\]\s*(#.*)?$")


def registry_from_document(doc: dict[str, Any]) -> TerminalRegistry:
    """The registry of a parsed TOML document (its `[[terminals]]` array)."""
    tables = doc.get("terminals", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise RegistryError("`terminals` must be an array of tables ([[terminals]])")
    return TerminalRegistry(terminal_from_dict(t) for t in tables)


def ingest_config_from_document(doc: dict[str, Any]) -> IngestConfig:
    """The IngestConfig of a parsed TOML document (its `[ingest]` table; defaults if none)."""
    table = doc.get("ingest", {})
    if not isinstance(table, dict):
        raise RegistryError("`ingest` must be a table ([ingest])")
    return ingest_config_from_dict(table)


def render_terminals(registry: TerminalRegistry) -> str:
    """The `[[terminals]]` tables of a registry, blank-line separated."""
    return "\n".join(toml_table("[[terminals]]", terminal_to_dict(t)) for t in registry)


def replace_terminal_tables(text: str, registry: TerminalRegistry) -> str:
    """`text` with its `[[terminals]]` tables replaced by those of `registry` (at the end).

    A terminals table runs from its header to the next table header; lines of other tables
    are kept in place, in order.
    """
    kept: list[str] = []
    inside = False
    for line in text.splitlines():
        if _TERMINALS.match(line):
            inside = True
            continue
        if inside and _HEADER.match(line):
            inside = False
        if not inside:
            kept.append(line)
    while kept and not kept[-1].strip():
        kept.pop()
    body = "\n".join(kept)
    rendered = render_terminals(registry)
    if not rendered:
        return body + "\n" if body else ""
    return (body + "\n\n" if body else "") + rendered
