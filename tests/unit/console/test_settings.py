from pathlib import Path

import pytest

from posguard.console.cli import build_parser
from posguard.console.errors import SettingsError
from posguard.console.settings import load_settings
from posguard.console.timeargs import parse_duration, time_range


def test_precedence_flags_env_file_defaults(tmp_path: Path) -> None:
    (tmp_path / "posguard.toml").write_text(
        '[posguard]\npartitions = 3\nhttp = "127.0.0.1:1"\ndatabase = "fromfile"\n'
        '[kafka_config]\n"security.protocol" = "SSL"\n')
    env = {"POSGUARD_DATA": str(tmp_path), "POSGUARD_HTTP": "127.0.0.1:2",
           "POSGUARD_DATABASE": "fromenv"}
    s = load_settings({"database": "fromflag"}, env)
    assert s.partitions == 3  # file
    assert s.http == "127.0.0.1:2"  # env over file
    assert s.database == "fromflag"  # flag over env
    assert s.session_timeout == 10.0  # default
    assert s.kafka_config == {"security.protocol": "SSL"}


def test_bad_values_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="partitions"):
        load_settings({"partitions": "many", "data": str(tmp_path)}, {})
    (tmp_path / "bad.toml").write_text("[posguard\n")
    with pytest.raises(SettingsError, match="bad.toml"):
        load_settings({"config": str(tmp_path / "bad.toml")}, {})


def test_help_names_every_variable(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["up", "--help"])
    out = capsys.readouterr().out
    for var in ("POSGUARD_KAFKA", "POSGUARD_CLICKHOUSE", "POSGUARD_DATA", "POSGUARD_HTTP"):
        assert var in out


def test_durations_and_ranges() -> None:
    assert parse_duration("1h") == 3_600_000_000
    t0, t1 = time_range("2026-01-01T00:00:00", "2026-01-02T00:00:00", None)
    assert t1 - t0 == 86_400_000_000
    with pytest.raises(SettingsError):
        parse_duration("soon")


def test_the_node_sink_batch_default_is_the_sinks() -> None:
    from posguard.console.settings import Settings
    from posguard.streams.sink import DEFAULT_BATCH

    assert Settings().sink_batch == DEFAULT_BATCH
