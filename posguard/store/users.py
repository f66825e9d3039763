"""Console user accounts in ClickHouse: one versioned row per change (ReplacingMergeTree).

A deletion is a row with deleted = 1, so every console process that shares the ClickHouse
database sees the same accounts. Only password hashes are stored, never passwords.
"""

from __future__ import annotations

import msgspec

from posguard.store.backends.base import Backend

__all__ = ["UserRow", "ensure_users_table", "load_users", "write_user"]

_COLUMNS = ("username", "role", "password_hash", "created", "updated", "deleted", "version")


class UserRow(msgspec.Struct, frozen=True, kw_only=True):
    """One stored account version."""

    username: str
    role: str
    password_hash: str
    created: int
    updated: int
    deleted: bool = False
    version: int = 0


def ensure_users_table(backend: Backend) -> None:
    """Create the users table when missing (idempotent)."""
    backend.command(
        f"""CREATE TABLE IF NOT EXISTS {backend.database}.users (
            username String,
            role LowCardinality(String),
            password_hash String,
            created Int64,
            updated Int64,
            deleted Bool,
            version UInt64
        ) ENGINE = ReplacingMergeTree(version)
        ORDER BY username""")


def load_users(backend: Backend) -> dict[str, UserRow]:
    """The newest version of every account that is not deleted, by username."""
    rows = backend.query(
        f"SELECT {', '.join(_COLUMNS)} FROM {backend.database}.users FINAL "
        "WHERE NOT deleted ORDER BY username").rows
    out = {}
    for r in rows:
        u = UserRow(**dict(zip(_COLUMNS, r, strict=True)))
        out[u.username] = u
    return out


def write_user(backend: Backend, user: UserRow) -> None:
    """Store a new version of an account (its `version` must exceed the stored one)."""
    backend.insert(f"{backend.database}.users", _COLUMNS,
                   [[getattr(user, c)] for c in _COLUMNS])
