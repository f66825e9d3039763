"""The server backend: a ClickHouse server or cluster reached with clickhouse-connect."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import unquote, urlparse

from posguard.store.backends.base import Rows
from posguard.store.errors import QueryError, StoreUnavailable

__all__ = ["HttpBackend"]


def _translate(e: Exception) -> Exception:
    from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError

    if isinstance(e, OperationalError):
        return StoreUnavailable(str(e))
    if isinstance(e, DatabaseError):
        return QueryError(str(e))
    return StoreUnavailable(f"{type(e).__name__}: {e}")


class HttpBackend:
    """clickhouse-connect client for `http(s)://user:password@host:port`.

    Args:
        url: the server's HTTP(S) address; user and password may be in it.
        database: the database posguard's tables live in.
        client_settings: extra clickhouse-connect `get_client` arguments (TLS, ...).
    """

    def __init__(self, url: str, database: str = "posguard",
                 client_settings: Mapping[str, Any] | None = None):
        import clickhouse_connect

        u = urlparse(url)
        self.database = database
        self.url = url
        try:
            self.client = clickhouse_connect.get_client(
                host=u.hostname or "127.0.0.1",
                port=u.port or (8443 if u.scheme == "https" else 8123),
                username=unquote(u.username or "default"),
                password=unquote(u.password or ""),
                secure=u.scheme == "https",
                compress=False,
                autogenerate_session_id=False,
                **dict(client_settings or {}),
            )
        except Exception as e:
            raise _translate(e) from None

    def command(self, sql: str, params: Mapping[str, Any] | None = None,
                settings: Mapping[str, Any] | None = None) -> None:
        try:
            self.client.command(sql, parameters=dict(params or {}) or None,
                                settings=dict(settings or {}) or None)
        except Exception as e:
            raise _translate(e) from None

    def query(self, sql: str, params: Mapping[str, Any] | None = None,
              settings: Mapping[str, Any] | None = None) -> Rows:
        try:
            res = self.client.query(sql, parameters=dict(params or {}) or None,
                                    settings=dict(settings or {}) or None)
        except Exception as e:
            raise _translate(e) from None
        return Rows(list(res.column_names), [tuple(r) for r in res.result_rows])

    def query_format(self, sql: str, fmt: str, params: Mapping[str, Any] | None = None,
                     settings: Mapping[str, Any] | None = None) -> bytes:
        try:
            return bytes(self.client.raw_query(sql, parameters=dict(params or {}) or None,
                                               settings=dict(settings or {}) or None, fmt=fmt))
        except Exception as e:
            raise _translate(e) from None

    def insert(self, table: str, columns: Sequence[str], data: Sequence[Sequence[Any]],
               dedup_token: str | None = None) -> None:
        if not data or not len(data[0]):
            return
        settings = {"insert_deduplication_token": dedup_token} if dedup_token else None
        try:
            self.client.insert(table, [list(c) for c in data], column_names=list(columns),
                               column_oriented=True, settings=settings)
        except Exception as e:
            raise _translate(e) from None

    def close(self) -> None:
        try:
            self.client.close()
        except Exception:  # closing must not raise during shutdown
            pass
