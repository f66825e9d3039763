"""Analyst SQL access: read-only, limited, one statement; POST /api/sql by role; `posguard sql`."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from console_testkit import ROLES, Env, env_for, fill

from posguard.console.cli import main
from posguard.store.errors import QueryError
from posguard.store.sql_access import (
    SqlFailed,
    SqlLimitExceeded,
    SqlLimits,
    SqlRefused,
    check_sql,
    run_sql,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def env(store: Any) -> Iterator[Env]:
    yield from env_for(store)


# --- the lexer (layer 1) ---------------------------------------------------------------

@pytest.mark.parametrize("sql", [
    "SELECT 1; DROP TABLE x",
    "SELECT 1;\nINSERT INTO t VALUES (1)",
    "SELECT 1 /* c */ ; SELECT 2",
    "SELECT $$a$$; SELECT 2",
])
def test_multi_statements_are_refused(sql: str) -> None:
    with pytest.raises(SqlRefused, match="one statement"):
        check_sql(sql)


@pytest.mark.parametrize("sql, kept", [
    ("SELECT ';' AS x;", "SELECT ';' AS x"),
    ("SELECT 'it''s; fine' -- a ; comment\n", "SELECT 'it''s; fine' -- a ; comment"),
    ("SELECT `a;b`, \"c;d\" FROM t /* ; */ ;;", "SELECT `a;b`, \"c;d\" FROM t /* ; */"),
    ("SELECT $tag$ ; DROP $tag$", "SELECT $tag$ ; DROP $tag$"),
    ("(SELECT 1) UNION ALL (SELECT 2)", "(SELECT 1) UNION ALL (SELECT 2)"),
    ("SELECT format('{} {}', 1, 2)", "SELECT format('{} {}', 1, 2)"),
])
def test_semicolons_inside_quotes_and_comments_are_not_statements(sql: str, kept: str) -> None:
    assert check_sql(sql) == kept


@pytest.mark.parametrize("sql, reason", [
    ("", "empty"),
    ("-- only a comment", "empty"),
    ("SELECT 'unterminated", "unterminated"),
    ("SELECT 1 /* open", "unterminated"),
    ("INSERT INTO t VALUES (1)", "INSERT statements are not allowed"),
    ("SET readonly = 0", "SET statements are not allowed"),
    ("USE other", "USE statements are not allowed"),
    ("SELECT 1 INTO OUTFILE '/tmp/x.csv'", "INTO OUTFILE"),
    ("SELECT 1 FORMAT JSON", "FORMAT clauses"),
    ("SELECT 1 SETTINGS readonly = 0", "SETTINGS clauses"),
    ("SELECT * FROM (SELECT 1 SETTINGS readonly=0)", "SETTINGS clauses"),
])
def test_lexer_refusals_say_why(sql: str, reason: str) -> None:
    with pytest.raises(SqlRefused, match=reason):
        check_sql(sql)


# --- the engine (layer 2), both backends ------------------------------------------------

def _events(store: Any) -> int:
    return int(store.query(f"SELECT count() FROM {store.database}.events").scalar())


@pytest.mark.parametrize("stmt", [
    "INSERT INTO {db}.events (event_id) VALUES ('x')",
    "INSERT INTO {db}.events (event_id) SELECT 'x'",
    "ALTER TABLE {db}.events DELETE WHERE 1",
    "DROP TABLE {db}.events",
    "TRUNCATE TABLE {db}.events",
    "SYSTEM FLUSH LOGS",
    "CREATE TABLE {db}.x (a Int8) ENGINE = Memory",
    "SELECT 1 SETTINGS readonly = 0",
    "SELECT * FROM (SELECT 1 SETTINGS readonly=0)",
])
def test_writes_and_setting_changes_are_refused(any_store: Any, stmt: str) -> None:
    fill(any_store)
    before = _events(any_store)
    with pytest.raises(SqlRefused) as err:
        run_sql(any_store, stmt.replace("{db}", any_store.database), "csv")
    assert "not allowed" in str(err.value)
    assert _events(any_store) == before


@pytest.mark.parametrize("stmt", [
    "INSERT INTO {db}.events (event_id) SELECT 'x'",
    "SELECT * FROM (SELECT * FROM file('/etc/hostname', 'LineAsString') SETTINGS readonly=0)",
    "SELECT * FROM url('http://127.0.0.1:9/', 'LineAsString')",
    "SELECT 1 SETTINGS readonly = 0",
])
def test_engine_enforces_readonly_without_the_lexer(any_store: Any, stmt: str) -> None:
    """Layer 2 alone: the same settings run_sql uses make the engine refuse these."""
    with pytest.raises(QueryError, match="(?i)readonly"):
        any_store.query_format(stmt.replace("{db}", any_store.database), "CSV",
                               settings=SqlLimits().settings())
    assert _events(any_store) == 0


def test_runaway_query_hits_the_time_limit(any_store: Any) -> None:
    with pytest.raises(SqlLimitExceeded, match="1 s time limit"):
        run_sql(any_store, "SELECT count() FROM numbers(100000000000000)", "csv",
                SqlLimits(max_execution_time=1))


def test_too_many_rows_is_an_error_not_a_cut_answer(any_store: Any) -> None:
    with pytest.raises(SqlLimitExceeded, match="more than 10 rows"):
        run_sql(any_store, "SELECT number FROM numbers(1000)", "csv",
                SqlLimits(max_result_rows=10))


def test_a_failed_query_leaves_nothing_for_the_next_one(any_store: Any,
                                                       request: pytest.FixtureRequest) -> None:
    """chDB keeps a failed query's partial output (the CSV header) and prepends it to the
    session's next result; both the embedded backend and the chDB-served HTTP endpoint drain
    it after a failure."""
    with pytest.raises(SqlLimitExceeded):
        run_sql(any_store, "SELECT number FROM numbers(1000)", "csv",
                SqlLimits(max_result_rows=10))
    out = run_sql(any_store, "SELECT number FROM numbers(10)", "csv",
                  SqlLimits(max_result_rows=10))
    assert out.decode().split() == ['"number"', *map(str, range(10))]


def test_engine_errors_are_clear(any_store: Any) -> None:
    with pytest.raises(SqlFailed, match="UNKNOWN_TABLE|Unknown table"):
        run_sql(any_store, f"SELECT * FROM {any_store.database}.no_such_table", "csv")


def test_every_format(any_store: Any) -> None:
    fill(any_store)
    q = (f"SELECT op_id, count() AS n FROM {any_store.database}.events "
         "GROUP BY op_id ORDER BY op_id")
    rows = list(csv.reader(io.StringIO(run_sql(any_store, q, "csv").decode())))
    assert rows == [["op_id", "n"], ["100", "6"], ["200", "4"]]
    doc = json.loads(run_sql(any_store, q, "json"))
    assert doc["data"] == [{"op_id": "100", "n": 6}, {"op_id": "200", "n": 4}]
    lines = run_sql(any_store, q, "jsonl").decode().splitlines()
    assert [json.loads(x) for x in lines] == [{"op_id": "100", "n": 6}, {"op_id": "200", "n": 4}]
    table = run_sql(any_store, q, "table").decode()
    assert "op_id" in table and "200" in table
    pq = run_sql(any_store, q, "parquet")
    assert pq[:4] == b"PAR1" and pq[-4:] == b"PAR1"
    import pyarrow.parquet as papq

    assert papq.read_table(io.BytesIO(pq)).to_pylist() == [
        {"op_id": "100", "n": 6}, {"op_id": "200", "n": 4}]


def test_views_are_queryable(any_store: Any) -> None:
    fill(any_store)
    out = run_sql(any_store, f"SELECT op_id, total, deletes FROM {any_store.database}."
                  "receipt_summary ORDER BY op_id", "json")
    assert json.loads(out)["data"] == [{"op_id": "100", "total": 5000, "deletes": 1},
                                       {"op_id": "200", "total": 120000, "deletes": 0}]


# --- POST /api/sql ----------------------------------------------------------------------

@pytest.mark.parametrize("role", ["anonymous", *ROLES, "token"])
def test_api_roles(env: Env, role: str) -> None:
    fill(env.state.backend)
    q = f"SELECT count() AS n FROM {env.state.backend.database}.events"
    r = env.client(role).post("/api/sql", json={"query": q, "format": "json"})
    expected = {"anonymous": 401, "viewer": 403, "operator": 403}.get(role, 200)
    assert r.status_code == expected, r.text
    if expected == 200:
        assert r.json()["data"] == [{"n": 10}]


@pytest.mark.parametrize("role", ["analyst", "admin"])
@pytest.mark.parametrize("fmt, media, check", [
    ("table", "text/plain", lambda b: b"n" in b and b"10" in b),
    ("csv", "text/csv", lambda b: b.split() == [b'"n"', b"10"]),
    ("json", "application/json", lambda b: json.loads(b)["data"] == [{"n": 10}]),
    ("parquet", "application/vnd.apache.parquet", lambda b: b[:4] == b"PAR1"),
])
def test_api_formats(env: Env, role: str, fmt: str, media: str, check: Any) -> None:
    fill(env.state.backend)
    q = f"SELECT count() AS n FROM {env.state.backend.database}.events"
    r = env.client(role).post("/api/sql", json={"query": q, "format": fmt})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith(media)
    assert check(r.content)


def test_api_refusals_are_400_with_the_reason(env: Env) -> None:
    c = env.client("analyst")
    db = env.state.backend.database
    r = c.post("/api/sql", json={"query": f"DROP TABLE {db}.events"})
    assert r.status_code == 400 and "DROP statements are not allowed" in r.json()["detail"]
    r = c.post("/api/sql", json={"query": "SELECT number FROM numbers(50)", "max_rows": 5})
    assert r.status_code == 400 and "more than 5 rows" in r.json()["detail"]
    r = c.post("/api/sql", json={"query": "SELECT count() FROM numbers(100000000000000)",
                                 "timeout": 1})
    assert r.status_code == 400 and "time limit" in r.json()["detail"]
    assert env.state.backend.query(f"EXISTS TABLE {db}.events").scalar() == 1


# --- posguard sql --clickhouse ------------------------------------------------------------

def test_cli_direct_against_a_clickhouse_server(any_store: Any, clickhouse_url: str,
                                                tmp_path: Any, capsys: Any) -> None:
    fill(any_store)
    db = any_store.database
    q = f"SELECT op_id FROM {db}.events GROUP BY op_id ORDER BY op_id"
    base = ["sql", "--clickhouse", clickhouse_url, "--database", db, "--data", str(tmp_path)]
    assert main([*base, q, "--format", "csv"]) == 0
    assert capsys.readouterr().out.split() == ['"op_id"', '"100"', '"200"']
    out = tmp_path / "r.parquet"
    assert main([*base, q, "--format", "parquet", "-o", str(out)]) == 0
    assert out.read_bytes()[:4] == b"PAR1"
    assert main([*base, f"DELETE FROM {db}.events WHERE 1"]) == 1
    assert "DELETE statements are not allowed" in capsys.readouterr().err


def test_cli_through_the_node_api(store: Any, tmp_path: Any, capsys: Any) -> None:
    import socket
    import time

    from posguard.console.api import ApiServer, create_api
    from posguard.console.settings import Settings
    from posguard.console.state import NodeState

    fill(store)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (tmp_path / "api-token").write_text("sql-token\n")
    state = NodeState(settings=Settings(data=tmp_path), backend=store, api_token="sql-token")
    server = ApiServer(create_api(state), "127.0.0.1", port)
    server.start()
    try:
        deadline = time.monotonic() + 10
        while not server.server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        base = ["sql", "--api", f"http://127.0.0.1:{port}", "--data", str(tmp_path)]
        q = f"SELECT op_id, total FROM {store.database}.receipt_summary ORDER BY op_id"
        assert main([*base, q, "--format", "csv"]) == 0
        assert capsys.readouterr().out.split() == ['"op_id","total"', '"100",5000',
                                                   '"200",120000']
        out = tmp_path / "r.parquet"
        assert main([*base, q, "--format", "parquet", "-o", str(out)]) == 0
        assert out.read_bytes()[:4] == b"PAR1"
        assert main([*base, "SELECT number FROM numbers(20)", "--max-rows", "5"]) == 1
        assert "more than 5 rows" in capsys.readouterr().err
    finally:
        server.stop()
