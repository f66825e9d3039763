"""console/probe_api: address parsing and the metric collection (pure)."""

from __future__ import annotations

import pytest

from posguard.console.errors import SettingsError
from posguard.console.metrics import collect_metrics
from posguard.console.probe_api import listen_address


def test_listen_address_defaults_to_loopback() -> None:
    assert listen_address("0.0.0.0:8710") == ("0.0.0.0", 8710)
    assert listen_address(":8710") == ("127.0.0.1", 8710)
    assert listen_address("8710") == ("127.0.0.1", 8710)
    assert listen_address("[::1]:8710") == ("::1", 8710)
    for bad in ("host:", "host:http", "1.2.3.4:70000"):
        with pytest.raises(SettingsError, match="HOST:PORT"):
            listen_address(bad)


def test_collect_metrics_reports_a_broken_group_instead_of_failing() -> None:
    def broken() -> dict[str, int]:
        raise RuntimeError("gone")

    assert collect_metrics({"a": lambda: {"n": 1}, "b": broken}) == {
        "a": {"n": 1}, "b": {"error": "gone"}}

