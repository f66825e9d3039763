"""The backend interface: one ClickHouse dialect, two ways to reach an engine."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

__all__ = ["Backend", "Rows"]


class Rows:
    """A query result: column names and rows as tuples."""

    __slots__ = ("columns", "rows")

    def __init__(self, columns: list[str], rows: list[tuple[Any, ...]]):
        self.columns = columns
        self.rows = rows

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, r, strict=True)) for r in self.rows]

    def scalar(self) -> Any:
        return self.rows[0][0] if self.rows else None

    def __len__(self) -> int:
        return len(self.rows)


class Backend(Protocol):
    """What the store needs from an engine. SQL is ClickHouse's; values go in as parameters
    written `{name:Type}` in the SQL and passed in `params`."""

    database: str

    def command(self, sql: str, params: Mapping[str, Any] | None = None,
                settings: Mapping[str, Any] | None = None) -> None:
        """Run a statement that returns nothing (DDL, ALTER, ...)."""

    def query(self, sql: str, params: Mapping[str, Any] | None = None,
              settings: Mapping[str, Any] | None = None) -> Rows:
        """Run a SELECT and return its rows."""

    def query_format(self, sql: str, fmt: str, params: Mapping[str, Any] | None = None,
                     settings: Mapping[str, Any] | None = None) -> bytes:
        """Run a SELECT and return the engine's output in a ClickHouse format (CSV, ...)."""

    def insert(self, table: str, columns: Sequence[str], data: Sequence[Sequence[Any]],
               dedup_token: str | None = None) -> None:
        """Insert column-oriented data (one sequence per column) as one block."""

    def close(self) -> None:
        """Release the engine."""
