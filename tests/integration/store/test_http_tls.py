"""ClickHouse over HTTPS and with users: the clickhouse-connect backend configured from the
`[clickhouse]` table reaches the suite's ClickHouse-HTTP endpoint (chDB) through a loopback
TLS terminator (tests/tls_testkit.py), which shows what arrived: the client certificate's
name and the HTTP requests with their credentials headers.

The chDB endpoint itself ignores credentials, so "logged in" is checked as "sent the right
credentials and got answers", not as a server-side permission check.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest

from posguard.console.settings import load_settings
from posguard.store import open_backend
from posguard.store.backends.http_backend import HttpBackend, HttpOptions
from posguard.store.errors import StoreUnavailable
from tests.tls_testkit import Pki, TlsForwarder, make_pki, openssl_missing

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    if (reason := openssl_missing()) is not None:
        pytest.skip(reason)
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def ch_port(clickhouse_url: str) -> int:
    port = urlparse(clickhouse_url).port
    assert port is not None
    return port


def _basic(user: str, password: str) -> bytes:
    return b"Authorization: Basic " + base64.b64encode(f"{user}:{password}".encode())


def _answers(backend: HttpBackend) -> bool:
    return backend.query("SELECT 41 + 1 AS x").rows == [(42,)]


@pytest.fixture
def fresh_database(clickhouse_url: str) -> Iterator[str]:
    name = f"t_tls_{uuid.uuid4().hex[:10]}"
    yield name
    cleanup = HttpBackend(clickhouse_url, name)
    cleanup.command(f"DROP DATABASE IF EXISTS {name}")
    cleanup.close()


def test_user_and_password_from_the_config_file_reach_the_server(
        tmp_path: Path, ch_port: int, fresh_database: str) -> None:
    with TlsForwarder(None, ch_port) as plain:  # plain HTTP, to see the requests
        (tmp_path / "posguard.toml").write_text(
            f'[clickhouse]\nurl = "http://olduser:oldpw@127.0.0.1:{plain.port}"\n'
            f'database = "{fresh_database}"\nuser = "posguard"\n')
        s = load_settings({}, {"POSGUARD_DATA": str(tmp_path),
                               "POSGUARD_CLICKHOUSE_PASSWORD": "p@ss w0rd"})
        backend = open_backend(s.clickhouse, s.data, s.database, options=s.clickhouse_options)
        try:
            assert backend.database == fresh_database
            tables = backend.query(
                "SELECT name FROM system.tables WHERE database = {db:String}",
                {"db": fresh_database}).rows
            assert ("events",) in tables  # migrated through this connection
            assert _answers(backend)  # type: ignore[arg-type]
        finally:
            backend.close()
    assert _basic("posguard", "p@ss w0rd") in plain.received
    assert _basic("olduser", "oldpw") not in plain.received


# urllib3 warns on every unverified request; verify = false is the operator's explicit choice
@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_https_trusts_the_configured_ca(pki: Pki, ch_port: int) -> None:
    with TlsForwarder(pki, ch_port) as tls:
        url = f"https://127.0.0.1:{tls.port}"
        backend = HttpBackend(url, "default", options=HttpOptions(
            username="posguard", password="pw", ca_file=str(pki.ca)))
        try:
            assert _answers(backend)
        finally:
            backend.close()
        assert _basic("posguard", "pw") in tls.received
        with pytest.raises(StoreUnavailable):  # the system CAs do not know the test CA
            HttpBackend(url, "default", options=HttpOptions(username="posguard"))
        unverified = HttpBackend(url, "default", options=HttpOptions(verify=False))
        try:
            assert _answers(unverified)
        finally:
            unverified.close()


def test_client_certificate_with_password(pki: Pki, ch_port: int) -> None:
    with TlsForwarder(pki, ch_port, require_client_cert=True) as tls:
        url = f"https://127.0.0.1:{tls.port}"
        backend = HttpBackend(url, "default", options=HttpOptions(
            username="posguard", password="pw", ca_file=str(pki.ca),
            cert_file=str(pki.client), key_file=str(pki.client_key)))
        try:
            assert _answers(backend)
        finally:
            backend.close()
        assert "posguard-client" in tls.client_names
        assert _basic("posguard", "pw") in tls.received
        with pytest.raises(StoreUnavailable):  # no client certificate: refused
            HttpBackend(url, "default", options=HttpOptions(password="pw",
                                                            ca_file=str(pki.ca)))


def test_client_certificate_alone_logs_in_by_certificate(pki: Pki, ch_port: int) -> None:
    with TlsForwarder(pki, ch_port, require_client_cert=True) as tls:
        backend = HttpBackend(f"https://127.0.0.1:{tls.port}", "default", options=HttpOptions(
            username="posguard", ca_file=str(pki.ca), cert_file=str(pki.combined)))
        try:
            assert _answers(backend)
        finally:
            backend.close()
    assert "posguard-client" in tls.client_names
    assert b"X-ClickHouse-SSL-Certificate-Auth: on" in tls.received
    assert b"X-ClickHouse-User: posguard" in tls.received
    assert b"Authorization: Basic" not in tls.received
