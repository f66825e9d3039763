"""`posguard db init|migrate` on a server (the chDB-served HTTP endpoint) and on the embedded
chDB store (a subprocess: chDB allows one data folder per process)."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest

from posguard.console.cli import main
from posguard.store.schema import MIGRATIONS

pytestmark = pytest.mark.integration


def _tables(engine, db: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    rows = engine.query("SELECT name, create_table_query FROM system.tables "
                        "WHERE database = {d:String}", {"d": db}).rows
    return {r[0]: r[1] for r in rows}


def test_init_and_migrate_on_a_single_server(clickhouse_url: str, chdb_engine,  # type: ignore[no-untyped-def]
                                             capsys: pytest.CaptureFixture[str]) -> None:
    db = f"t_{uuid.uuid4().hex[:12]}"
    try:
        assert main(["db", "migrate", "--clickhouse", clickhouse_url, "--database", db]) == 0
        out = capsys.readouterr().out
        assert f"applied migrations {', '.join(str(m.version) for m in MIGRATIONS)}" in out
        tables = _tables(chdb_engine, db)
        assert {"events", "receipts", "incidents", "schema_migrations"} <= set(tables)
        assert "TTL" not in tables["events"]

        assert main(["db", "init", "--clickhouse", clickhouse_url, "--database", db,
                     "--retention-days", "30"]) == 0
        out = capsys.readouterr().out
        assert "schema up to date" in out and "retention 30 days" in out
        tables = _tables(chdb_engine, db)
        assert "users" in tables
        assert "toIntervalDay(30)" in tables["events"]
        assert "toIntervalDay(30)" in tables["incidents"]

        assert main(["db", "migrate", "--clickhouse", clickhouse_url, "--database", db]) == 0
        assert "schema up to date" in capsys.readouterr().out
    finally:
        chdb_engine.command(f"DROP DATABASE IF EXISTS {db}")


def test_cluster_ddl_reaches_the_server_and_its_refusal_is_reported(
        clickhouse_url: str, chdb_engine, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    """chDB has no cluster named x: the server refuses ON CLUSTER, the CLI says why."""
    db = f"t_{uuid.uuid4().hex[:12]}"
    try:
        assert main(["db", "init", "--clickhouse", clickhouse_url, "--database", db,
                     "--cluster", "posguard_test"]) == 1
        err = capsys.readouterr().err
        assert "posguard: error:" in err and "posguard_test" in err
    finally:
        chdb_engine.command(f"DROP DATABASE IF EXISTS {db}")


def test_cluster_needs_a_server_and_a_plain_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "migrate", "--cluster", "c"]) == 1
    assert "--cluster needs --clickhouse" in capsys.readouterr().err
    assert main(["db", "init", "--clickhouse", "http://127.0.0.1:9", "--cluster", "a-b"]) == 1
    assert "bad cluster name" in capsys.readouterr().err


@pytest.mark.parametrize("days", ["0", "1001", "ten"])
def test_retention_out_of_range_is_a_usage_error(days: str) -> None:
    with pytest.raises(SystemExit) as e:
        main(["db", "init", "--retention-days", days])
    assert e.value.code == 2


def test_embedded_store_runs_the_normal_migrations(tmp_path) -> None:  # type: ignore[no-untyped-def]
    def db(*args: str) -> str:
        p = subprocess.run([sys.executable, "-m", "posguard.console.cli", "db", *args,
                            "--data", str(tmp_path)], capture_output=True, text=True,
                           timeout=120)
        assert p.returncode == 0, p.stderr
        return p.stdout

    assert "applied migrations 1" in db("init", "--retention-days", "1000")
    assert "schema up to date" in db("migrate")
