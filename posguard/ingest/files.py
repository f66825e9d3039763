"""File I/O of the ingest package's configuration: the node's TOML file (terminal registry,
`[ingest]` table) and printer transaction definitions. Everything else here is pure."""

from __future__ import annotations

import glob
import os
import tempfile
import tomllib
from pathlib import Path
from typing import Any

from posguard.ingest.config import IngestConfig
from posguard.ingest.errors import DefinitionError, RegistryError
from posguard.ingest.printer_defs import TransactionDefinition, definition_from_dict
from posguard.ingest.registry import TerminalRegistry
from posguard.ingest.registry_toml import (
    ingest_config_from_document,
    registry_from_document,
    replace_terminal_tables,
)

__all__ = ["read_document", "load_registry", "store_zones", "load_ingest_config",
           "save_registry", "load_definitions"]


def read_document(path: Path) -> dict[str, Any]:
    """The parsed TOML file, or {} when it does not exist."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise RegistryError(f"{path}: {e}") from None


def load_registry(path: Path) -> TerminalRegistry:
    """The terminal registry of the node's config file (empty when there is no file)."""
    try:
        return registry_from_document(read_document(path))
    except RegistryError as e:
        raise RegistryError(f"{path}: {e}") from None


def store_zones(path: Path | None) -> list[tuple[str, str]]:
    """(store, timezone) of each terminal of the node's config file ([] without a file):
    what `posguard.reports.timezone.report_timezone` picks a report's timezone from."""
    return [] if path is None else [(t.store, t.timezone) for t in load_registry(path)]


def load_ingest_config(path: Path) -> IngestConfig:
    """The `[ingest]` settings of the node's config file (defaults when absent)."""
    try:
        return ingest_config_from_document(read_document(path))
    except RegistryError as e:
        raise RegistryError(f"{path}: {e}") from None


def save_registry(path: Path, registry: TerminalRegistry) -> None:
    """Rewrite the `[[terminals]]` tables of the config file, keeping everything else.

    The new text is checked by reading it back before it atomically replaces the file.
    """
    try:
        old = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        old = ""
    new = replace_terminal_tables(old, registry)
    try:
        doc = tomllib.loads(new)
        back = registry_from_document(doc)
        before = {k: v for k, v in tomllib.loads(old).items() if k != "terminals"}
    except tomllib.TOMLDecodeError as e:
        raise RegistryError(f"{path}: cannot rewrite the terminals of this file: {e}") from None
    if back != registry or {k: v for k, v in doc.items() if k != "terminals"} != before:
        raise RegistryError(f"{path}: rewriting [[terminals]] would change other settings; "
                            "edit the file by hand")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(new)
            f.flush()
            os.fsync(f.fileno())
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_definitions(patterns: tuple[str, ...] | list[str],
                     base: Path) -> dict[str, TransactionDefinition]:
    """Printer transaction definitions from TOML files (glob patterns relative to `base`).

    Raises:
        DefinitionError: a file that does not parse or two definitions with one name.
    """
    out: dict[str, TransactionDefinition] = {}
    for pattern in patterns:
        full = pattern if os.path.isabs(pattern) else str(base / pattern)
        paths = sorted(glob.glob(full)) or ([full] if not glob.has_magic(full) else [])
        for p in paths:
            try:
                doc = tomllib.loads(Path(p).read_text(encoding="utf-8"))
            except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
                raise DefinitionError(f"{p}: {e}") from None
            try:
                d = definition_from_dict(doc)
            except DefinitionError as e:
                raise DefinitionError(f"{p}: {e}") from None
            if d.name in out:
                raise DefinitionError(f"{p}: definition {d.name!r} is defined twice")
            out[d.name] = d
    return out
