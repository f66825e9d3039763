"""Apply the versioned schema migrations (idempotent; records what ran in schema_migrations)."""

from __future__ import annotations

import logging
import time

from posguard.store.backends.base import Backend
from posguard.store.schema import MIGRATIONS, Migration

__all__ = ["migrate", "applied_versions"]

log = logging.getLogger(__name__)


def applied_versions(backend: Backend) -> set[int]:
    """Versions already applied to the backend's database."""
    rows = backend.query(f"SELECT version FROM {backend.database}.schema_migrations")
    return {int(r[0]) for r in rows.rows}


def migrate(backend: Backend, migrations: tuple[Migration, ...] = MIGRATIONS) -> list[int]:
    """Create the database and apply every migration not applied yet, in order.

    Returns:
        The versions applied by this call.
    """
    db = backend.database
    backend.command(f"CREATE DATABASE IF NOT EXISTS {db}")
    backend.command(
        f"CREATE TABLE IF NOT EXISTS {db}.schema_migrations "
        "(version UInt32, name String, applied_at Int64) ENGINE = MergeTree ORDER BY version"
    )
    done = applied_versions(backend)
    applied = []
    for m in migrations:
        if m.version in done:
            continue
        for stmt in m.statements:
            backend.command(stmt.replace("{db}", db))
        backend.insert(f"{db}.schema_migrations", ("version", "name", "applied_at"),
                       [[m.version], [m.name], [int(time.time() * 1_000_000)]])
        log.info("applied migration %d: %s", m.version, m.name)
        applied.append(m.version)
    return applied
