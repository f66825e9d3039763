"""The import table of docs/architecture.md: the functional core stays free of the shell."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "posguard"
ALLOWED: dict[str, set[str]] = {
    "model": set(),
    "detectors": {"model"},
    "store": {"model"},
    "ingest": {"model", "streams"},  # topic names, producer defaults, broker errors
    "streams": {"model", "detectors", "store"},
    "reports": {"model", "store"},
    "scripting": {"model", "store", "reports", "detectors", "streams", "ingest"},
    "console": {"model", "store", "reports", "detectors", "streams", "ingest", "scripting"},
}
# The core must not touch the outside world.
CORE_FORBIDDEN = {"os", "socket", "subprocess", "confluent_kafka", "faust", "aiokafka", "chdb",
                  "clickhouse_connect", "httpx", "fastapi", "time", "random", "threading",
                  "asyncio"}


def imports(path: Path) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return out


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_follow_the_table(package: str) -> None:
    bad = []
    for path in (ROOT / package).rglob("*.py"):
        for name in imports(path):
            parts = name.split(".")
            if parts[0] != "posguard" or len(parts) < 2 or parts[1] in ("errors", package):
                continue
            if parts[1] not in ALLOWED[package]:
                bad.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("package", ["model", "detectors"])
def test_core_does_no_io(package: str) -> None:
    bad = [f"{p.relative_to(ROOT)} imports {n}"
           for p in (ROOT / package).rglob("*.py") for n in imports(p)
           if n.split(".")[0] in CORE_FORBIDDEN]
    assert not bad, "\n".join(bad)
