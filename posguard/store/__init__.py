"""ClickHouse storage: schema and migrations, writer, search; chDB and HTTP backends."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from posguard.store.backends.base import Backend, Rows

if TYPE_CHECKING:
    from posguard.store.backends.http_backend import HttpOptions

__all__ = ["Backend", "Rows", "open_backend"]


def open_backend(clickhouse_url: str | None, data_dir: str | Path, database: str = "posguard",
                 migrate: bool = True, options: HttpOptions | None = None) -> Backend:
    """The chDB backend on `data_dir`, or a ClickHouse server when `clickhouse_url` is set.

    `options` (credentials, TLS files) apply to the server only; Settings.clickhouse_options
    builds them from the `[clickhouse]` table."""
    backend: Backend
    if clickhouse_url:
        from posguard.store.backends.http_backend import HttpBackend

        backend = HttpBackend(clickhouse_url, database, options=options)
    else:
        from posguard.store.backends.chdb_backend import ChdbBackend

        backend = ChdbBackend(Path(data_dir) / "clickhouse", database)
    if migrate:
        from posguard.store.migrations import migrate as run_migrations

        run_migrations(backend)
    return backend
