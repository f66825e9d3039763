"""ClickHouse URL + HttpOptions -> clickhouse_connect.get_client arguments (no server)."""

from __future__ import annotations

from pathlib import Path

import pytest

from posguard.errors import PosguardError
from posguard.store.backends.http_backend import HttpBackend, HttpOptions, client_arguments
from posguard.store.errors import StoreConfigError


def test_plain_url_keeps_its_credentials() -> None:
    args = client_arguments("http://posguard:p%40ss@ch1:8124")
    assert args == {"host": "ch1", "port": 8124, "username": "posguard", "password": "p@ss",
                    "secure": False, "compress": False, "autogenerate_session_id": False}


def test_defaults_user_and_ports() -> None:
    assert client_arguments("http://ch1")["port"] == 8123
    assert client_arguments("http://ch1")["username"] == "default"
    secure = client_arguments("https://ch1")
    assert (secure["port"], secure["secure"], secure["verify"]) == (8443, True, True)
    assert "ca_cert" not in secure and "client_cert" not in secure  # system CAs


def test_options_override_the_url_credentials() -> None:
    args = client_arguments("https://old:oldpw@ch1:8443",
                            HttpOptions(username="posguard", password="n3w"))
    assert (args["username"], args["password"]) == ("posguard", "n3w")
    only_password = client_arguments("https://old:oldpw@ch1", HttpOptions(password="n3w"))
    assert (only_password["username"], only_password["password"]) == ("old", "n3w")


def test_tls_files_and_verify_map_to_clickhouse_connect_names() -> None:
    args = client_arguments("https://ch1:8443", HttpOptions(
        ca_file="/etc/posguard/ca.pem", cert_file="/etc/posguard/client.pem",
        key_file="/etc/posguard/client.key", verify=False))
    assert args["ca_cert"] == "/etc/posguard/ca.pem"
    assert args["client_cert"] == "/etc/posguard/client.pem"
    assert args["client_cert_key"] == "/etc/posguard/client.key"
    assert args["verify"] is False


def test_client_certificate_logs_in_by_certificate_unless_a_password_is_given() -> None:
    by_cert = client_arguments("https://ch1", HttpOptions(username="posguard",
                                                          cert_file="/c.pem"))
    assert by_cert["tls_mode"] == "mutual"
    with_password = client_arguments("https://ch1", HttpOptions(
        username="posguard", password="pw", cert_file="/c.pem"))
    assert with_password["tls_mode"] == "strict"  # certificate for TLS, password to log in
    assert "tls_mode" not in client_arguments("https://ch1", HttpOptions(password="pw"))


@pytest.mark.parametrize(("url", "options", "message"), [
    ("http://ch1", HttpOptions(ca_file="/ca.pem"), r"clickhouse ca_file: needs an https://"),
    ("http://ch1", HttpOptions(cert_file="/c.pem", key_file="/k.pem"),
     r"clickhouse cert_file, key_file: needs an https://"),
    ("http://ch1", HttpOptions(verify=False), r"clickhouse verify: needs an https://"),
    ("https://ch1", HttpOptions(key_file="/k.pem"), r"key_file: set cert_file too"),
    ("clickhouse://ch1:9000", None, r"scheme 'clickhouse' is not http or https"),
])
def test_contradictions_are_config_errors(url: str, options: HttpOptions | None,
                                          message: str) -> None:
    with pytest.raises(StoreConfigError, match=message):
        client_arguments(url, options)
    assert issubclass(StoreConfigError, PosguardError)


@pytest.mark.parametrize(("field", "content", "message"), [
    ("ca_file", None, r"clickhouse ca_file: cannot read"),
    ("ca_file", "hello", r"clickhouse ca_file: no PEM certificate"),
    ("cert_file", "hello", r"clickhouse cert_file: no PEM certificate"),
    ("key_file", "-----BEGIN CERTIFICATE-----", r"clickhouse key_file: no PEM private key"),
    ("key_file", "-----BEGIN ENCRYPTED PRIVATE KEY-----", r"key_file: .* is encrypted"),
])
def test_unreadable_tls_files_name_the_setting(tmp_path: Path, field: str,
                                               content: str | None, message: str) -> None:
    path = tmp_path / f"{field}.pem"
    if content is not None:
        path.write_text(content + "\n")
    files = {"cert_file": str(tmp_path / "c.pem")} if field == "key_file" else {}
    (tmp_path / "c.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    options = HttpOptions(**{**files, field: str(path)})  # type: ignore[arg-type]
    with pytest.raises(StoreConfigError, match=message):  # before any connection attempt
        HttpBackend("https://127.0.0.1:9", "posguard", options=options)
