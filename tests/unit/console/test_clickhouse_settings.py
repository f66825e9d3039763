"""The `[clickhouse]` table, POSGUARD_CLICKHOUSE_* variables and flags -> HttpOptions."""

from __future__ import annotations

from pathlib import Path

import pytest

from posguard.console.errors import SettingsError
from posguard.console.settings import CLICKHOUSE_KEYS, FIELDS, Settings, load_settings
from posguard.store.backends.http_backend import HttpOptions


def _write(tmp_path: Path, text: str) -> dict[str, str]:
    (tmp_path / "posguard.toml").write_text(text)
    return {"POSGUARD_DATA": str(tmp_path)}


def test_clickhouse_table_fills_url_database_credentials_and_tls(tmp_path: Path) -> None:
    env = _write(tmp_path, '[posguard]\nkafka = "k1:9093"\n'
                           '[clickhouse]\nurl = "https://ch1:8443"\ndatabase = "pos"\n'
                           'user = "posguard"\npassword = "pw"\nca_file = "/etc/ca.pem"\n'
                           'cert_file = "/etc/c.pem"\nkey_file = "/etc/c.key"\nverify = false\n')
    s = load_settings({}, env)
    assert (s.clickhouse, s.database, s.kafka) == ("https://ch1:8443", "pos", "k1:9093")
    assert s.clickhouse_options == HttpOptions(
        username="posguard", password="pw", ca_file="/etc/ca.pem", cert_file="/etc/c.pem",
        key_file="/etc/c.key", verify=False)


def test_clickhouse_table_without_posguard_table(tmp_path: Path) -> None:
    env = _write(tmp_path, 'kafka = "k1:9092"\n[clickhouse]\nurl = "http://ch1:8123"\n'
                           'user = "u"\n')
    s = load_settings({}, env)
    assert (s.kafka, s.clickhouse, s.clickhouse_user) == ("k1:9092", "http://ch1:8123", "u")


def test_variables_and_flags_win_over_the_table(tmp_path: Path) -> None:
    env = _write(tmp_path, '[clickhouse]\nuser = "fromfile"\npassword = "filepw"\n'
                           'verify = true\n')
    env |= {"POSGUARD_CLICKHOUSE_PASSWORD": "envpw", "POSGUARD_CLICKHOUSE_VERIFY": "off"}
    s = load_settings({"clickhouse_user": "fromflag"}, env)
    assert (s.clickhouse_user, s.clickhouse_password, s.clickhouse_verify) == (
        "fromflag", "envpw", False)


def test_defaults_verify_and_use_the_url_alone(tmp_path: Path) -> None:
    s = load_settings({"data": str(tmp_path)}, {})
    assert s.clickhouse_options == HttpOptions()
    assert s.clickhouse_verify is True


@pytest.mark.parametrize(("text", "env", "message"), [
    ('[clickhouse]\nusername = "u"\n', {}, r"\[clickhouse\] has no key 'username'"),
    ('[posguard]\nclickhouse = "http://a"\n[clickhouse]\nurl = "http://b"\n', {},
     r"clickhouse is set in \[posguard\] and as url in \[clickhouse\]"),
    ('[posguard]\ndatabase = "a"\n[clickhouse]\ndatabase = "b"\n', {},
     r"database is set in \[posguard\] and as database in \[clickhouse\]"),
    ('[clickhouse]\nverify = "sometimes"\n', {}, r"setting clickhouse_verify: bad value"),
    ("", {"POSGUARD_CLICKHOUSE_VERIFY": "2"}, r"setting clickhouse_verify: bad value"),
])
def test_bad_clickhouse_settings_are_named(tmp_path: Path, text: str, env: dict[str, str],
                                           message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings({}, _write(tmp_path, text) | env)


def test_password_stays_out_of_repr() -> None:
    assert "s3cret" not in repr(Settings(clickhouse_password="s3cret"))


def test_every_table_key_is_a_documented_setting() -> None:
    assert set(CLICKHOUSE_KEYS.values()) <= set(FIELDS)
