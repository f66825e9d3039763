"""Fault suite fixtures: a `Stack` per scenario on the session's broker and chDB, the
`pytest.mark.faults` marker on everything here, and the summary table at the end."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.faults.harness import SUMMARY, Stack

_CONSOLE_TESTS = Path(__file__).resolve().parents[1] / "integration" / "console"
if str(_CONSOLE_TESTS) not in sys.path:  # console_testkit, reused by test_attacks.py
    sys.path.insert(0, str(_CONSOLE_TESTS))

_STARTED = time.monotonic()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.faults)


@pytest.fixture(scope="module")
def make_stack(kafka_bootstrap: str, clickhouse_url: str, chdb_engine: Any,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """stack(name, bootstrap=None, url=None) -> a fresh Stack (own topics, database and
    folder); its processes are stopped and its database dropped after the module."""
    made: list[Stack] = []

    def make(name: str, bootstrap: str | None = None, url: str | None = None) -> Stack:
        s = Stack.create(bootstrap or kafka_bootstrap, url or clickhouse_url, chdb_engine,
                         tmp_path_factory.mktemp(name), name)
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not SUMMARY.rows:
        return
    tr = terminalreporter
    tr.section("fault scenarios")
    for line in SUMMARY.table():
        tr.write_line(line)
    tr.write_line(f"(fault suite wall time so far: {time.monotonic() - _STARTED:.0f}s)")
