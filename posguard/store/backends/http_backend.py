"""The server backend: a ClickHouse server or cluster reached with clickhouse-connect.

The URL says where (`http(s)://[user:password@]host:port`); `HttpOptions` says how to log in
and what to trust over HTTPS. Settings' `[clickhouse]` table (console/settings.py) fills it:

| HttpOptions | `[clickhouse]` key | clickhouse_connect.get_client |
| --- | --- | --- |
| username, password | user, password (else the URL's) | username, password |
| ca_file | ca_file | ca_cert (else the system's CAs) |
| cert_file, key_file | cert_file, key_file | client_cert, client_cert_key |
| verify | verify | verify |

With a client certificate and no password, ClickHouse authenticates the user by the
certificate (clickhouse-connect's "mutual" TLS mode: `X-ClickHouse-SSL-Certificate-Auth`);
with a password as well, the certificate only opens the TLS connection and the user logs in
with the password ("strict" mode).

The database is not given to get_client as the session default: every statement names its
tables `db.table` (Backend.database), and a default database that does not exist yet would
make the server refuse `CREATE DATABASE` itself on a fresh server (`posguard db init`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from posguard.store.backends.base import Rows
from posguard.store.errors import QueryError, StoreConfigError, StoreUnavailable

__all__ = ["HttpBackend", "HttpOptions", "client_arguments"]


@dataclass(frozen=True)
class HttpOptions:
    """How to reach a ClickHouse server beyond its URL (credentials and TLS).

    Attributes:
        username: overrides the URL's user ("" = the URL's, else "default").
        password: overrides the URL's password ("" = the URL's).
        ca_file: PEM CA certificate(s) that sign the server's certificate ("" = system CAs).
        cert_file: client certificate (PEM) for mutual TLS.
        key_file: its private key (PEM; "" = inside cert_file).
        verify: verify the server's certificate and host name (off: tests only).
    """

    username: str = ""
    password: str = ""
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    verify: bool = True


def client_arguments(url: str, options: HttpOptions | None = None) -> dict[str, Any]:
    """The clickhouse_connect.get_client keyword arguments for `url` and `options`.

    Pure (reads no file); HttpBackend checks the files before connecting.

    Raises:
        StoreConfigError: TLS files or `verify = false` with an http:// URL (they would be
            ignored and the traffic left unencrypted), a key without a certificate, or an
            unknown URL scheme.

    Example:
        >>> client_arguments("https://ch:8443", HttpOptions(username="posguard"))["secure"]
        True
    """
    o = options or HttpOptions()
    u = urlparse(url)
    if u.scheme not in ("http", "https"):
        raise StoreConfigError(f"clickhouse: URL scheme {u.scheme!r} is not http or https")
    secure = u.scheme == "https"
    tls = {"ca_file": o.ca_file, "cert_file": o.cert_file, "key_file": o.key_file}
    if not secure and (any(tls.values()) or not o.verify):
        given = [k for k, v in tls.items() if v] + ([] if o.verify else ["verify"])
        raise StoreConfigError(f"clickhouse {', '.join(given)}: needs an https:// URL")
    if o.key_file and not o.cert_file:
        raise StoreConfigError("clickhouse key_file: set cert_file too (the key's certificate)")
    password = o.password or unquote(u.password or "")
    args: dict[str, Any] = {
        "host": u.hostname or "127.0.0.1",
        "port": u.port or (8443 if secure else 8123),
        "username": o.username or unquote(u.username or "default"),
        "password": password,
        "secure": secure,
        "compress": False,
        "autogenerate_session_id": False,
    }
    if secure:
        args["verify"] = o.verify
        if o.ca_file:
            args["ca_cert"] = o.ca_file
        if o.cert_file:
            args["client_cert"] = o.cert_file
            args["tls_mode"] = "strict" if password else "mutual"
        if o.key_file:
            args["client_cert_key"] = o.key_file
    return args


def _check_files(options: HttpOptions) -> None:
    """Name the setting of an unreadable TLS file (urllib3 would fail later, vaguely)."""
    for key in ("ca_file", "cert_file", "key_file"):
        path = getattr(options, key)
        if not path:
            continue
        try:
            text = Path(path).read_text(encoding="ascii", errors="replace")
        except OSError as e:
            raise StoreConfigError(
                f"clickhouse {key}: cannot read {path}: {e.strerror or e}") from None
        marker = "PRIVATE KEY-----" if key == "key_file" else "-----BEGIN CERTIFICATE-----"
        if marker not in text:
            what = "private key" if key == "key_file" else "certificate"
            raise StoreConfigError(f"clickhouse {key}: no PEM {what} in {path}")
        if key == "key_file" and "ENCRYPTED" in text:
            raise StoreConfigError(
                f"clickhouse key_file: {path} is encrypted; give an unencrypted key "
                "(clickhouse-connect cannot take a key password)")


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
        client_settings: extra clickhouse-connect `get_client` arguments (win over options).
        options: credentials and TLS files (see HttpOptions).

    Raises:
        StoreConfigError: unusable options (see client_arguments), unreadable TLS files.
        StoreUnavailable: the server cannot be reached or refuses the TLS handshake/login.
    """

    def __init__(self, url: str, database: str = "posguard",
                 client_settings: Mapping[str, Any] | None = None,
                 options: HttpOptions | None = None):
        import clickhouse_connect

        self.database = database
        self.url = url
        arguments = client_arguments(url, options) | dict(client_settings or {})
        if options is not None:
            _check_files(options)
        try:
            self.client = clickhouse_connect.get_client(**arguments)
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
