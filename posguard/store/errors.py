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


class StoreConfigError(StoreError):
    """A store setting that cannot be used (an unreadable TLS file, a contradiction)."""


class ClusterDDLError(StoreError):
    """A migration statement has no cluster form (an engine or statement kind not handled)."""
