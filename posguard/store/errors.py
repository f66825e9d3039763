"""Errors of the store (see posguard.errors for the whole tree).

Driver errors (chDB's ChdbError, clickhouse-connect's exceptions) are translated here once,
in store/backends/, and nowhere else.
"""

from posguard.errors import PosguardError


class StoreError(PosguardError):
    """Base of the store package's errors."""


class StoreUnavailable(StoreError):
    """The ClickHouse engine cannot be reached or cannot take writes now: retry later."""


class QueryError(StoreError):
    """The engine refused a statement (syntax, unknown column, limits, readonly...)."""
