"""Cluster DDL: generated from the schema's migrations for a named cluster; each statement
parses in chDB (the ClickHouse engine) and keeps the single-server table's shape."""

from __future__ import annotations

import re

import pytest

from posguard.store.cluster import (
    LOCAL_SUFFIX,
    ClusterDDLError,
    cluster_bootstrap,
    cluster_migrations,
    plain_retention_statements,
    retention_statements,
    tables_of,
)
from posguard.store.schema import MIGRATIONS, Migration

CLUSTER = "posguard_cluster"


def _all_statements(days: int | None = 30) -> list[str]:
    out = list(cluster_bootstrap(CLUSTER))
    for m in cluster_migrations(CLUSTER, days):
        out += m.statements
    out += retention_statements(CLUSTER, 45)
    return out


def _formatted(store, sql: str) -> str:  # type: ignore[no-untyped-def]
    """The engine's own rendering of a statement (raises when it does not parse)."""
    sql = sql.replace("{db}", store.database)
    return store.query("SELECT formatQuery({q:String})", {"q": sql}).scalar()


def test_every_statement_parses_in_chdb(store) -> None:  # type: ignore[no-untyped-def]
    stmts = _all_statements()
    assert len(stmts) > 2 * len(tables_of())
    for sql in stmts:
        text = _formatted(store, sql)
        assert f"ON CLUSTER {CLUSTER}" in text, text
        # EXPLAIN AST goes through the parser once more (a statement, not a string).
        store.query("EXPLAIN AST " + sql.replace("{db}", store.database))


def test_a_broken_statement_is_refused_by_the_same_check(store) -> None:  # type: ignore[no-untyped-def]
    from posguard.store.errors import QueryError

    with pytest.raises(QueryError):
        _formatted(store, "CREATE TABLE {db}.x ON CLUSTER c (a String ENGINE = Memory")


def test_versions_and_names_follow_the_migrations() -> None:
    got = cluster_migrations(CLUSTER)
    assert [(m.version, m.name) for m in got] == [(m.version, m.name) for m in MIGRATIONS]


def test_each_table_gets_a_replicated_local_table_and_a_distributed_one(store) -> None:  # type: ignore[no-untyped-def]
    stmts = [s for m in cluster_migrations(CLUSTER) for s in m.statements]
    for name, table in tables_of().items():
        local = next(s for s in stmts if f"{{db}}.{name}{LOCAL_SUFFIX} ON CLUSTER" in s
                     and s.lstrip().startswith("CREATE TABLE"))
        dist = next(s for s in stmts if f"{{db}}.{name} ON CLUSTER" in s)
        assert f"'/clickhouse/tables/{{shard}}/{{db}}/{name}', '{{replica}}'" in local
        assert re.search(r"ENGINE = Replicated\w*MergeTree\(", local)
        assert (f"Distributed({CLUSTER}, {{db}}, {name}{LOCAL_SUFFIX}, {table.shard_key})"
                in dist)
        assert f"AS {{db}}.{name}{LOCAL_SUFFIX}" in dist


def _shape(text: str, name: str) -> str:
    text = re.sub(r"ENGINE = \w+(\([^)]*\))?", "ENGINE", text)
    return text.replace(f"{name}{LOCAL_SUFFIX} ON CLUSTER {CLUSTER}", name)


def test_local_tables_keep_columns_order_partition_and_settings(store) -> None:  # type: ignore[no-untyped-def]
    """The local table is the single-server table with only the engine changed."""
    stmts = [s for m in cluster_migrations(CLUSTER) for s in m.statements]
    originals = [s for m in MIGRATIONS for s in m.statements]
    for name in tables_of():
        orig = next(s for s in originals if re.search(rf"\{{db\}}\.{name}\s*\(", s))
        local = next(s for s in stmts if f"{{db}}.{name}{LOCAL_SUFFIX} ON CLUSTER" in s)
        a = _formatted(store, orig)
        b = _formatted(store, local)

        assert _shape(a, name) == _shape(b, name)


def test_sharding_keys_keep_replacing_rows_on_one_shard() -> None:
    t = tables_of()
    assert t["events"].shard_key == "cityHash64(pos_terminal)"
    assert t["receipts"].shard_key == "cityHash64(pos_terminal)"
    assert t["frauds"].shard_key == "cityHash64(pos_terminal)"
    assert t["incidents"].shard_key == "cityHash64(terminal_guid)"
    assert t["incident_history"].shard_key == "cityHash64(id)"


def test_retention_ttl_in_the_ddl_and_as_alter() -> None:
    local_events = next(s for m in cluster_migrations(CLUSTER, 400) for s in m.statements
                        if "events_local ON CLUSTER" in s)
    assert "TTL toDateTime(intDiv(ts_received, 1000000)) + toIntervalDay(400)" in local_events
    assert local_events.index("TTL") < local_events.index("SETTINGS")
    alters = retention_statements(CLUSTER, 7)
    timed = {n for n, t in tables_of().items() if t.ttl_column}
    assert {"events", "receipts", "incidents", "incident_history", "frauds"} <= timed
    assert "terminal_timezones" not in timed  # reference data, not archive: kept
    assert {a.split()[2] for a in alters} == {f"{{db}}.{n}{LOCAL_SUFFIX}" for n in timed}
    assert all(f"ON CLUSTER {CLUSTER} MODIFY TTL" in a and "toIntervalDay(7)" in a
               for a in alters)
    no_ttl = [s for m in cluster_migrations(CLUSTER) for s in m.statements]
    assert not any("TTL" in s for s in no_ttl)


@pytest.mark.parametrize("days", [0, -1, 1001])
def test_retention_out_of_range_is_refused(days: int) -> None:
    with pytest.raises(ClusterDDLError, match="1..1000"):
        cluster_migrations(CLUSTER, days)
    with pytest.raises(ClusterDDLError):
        retention_statements(CLUSTER, days)


def test_retention_bounds_are_accepted() -> None:
    assert retention_statements(CLUSTER, 1) and retention_statements(CLUSTER, 1000)


@pytest.mark.parametrize("name", ["", "a-b", "x; DROP TABLE t", "1abc", "a b"])
def test_bad_cluster_names_are_refused(name: str) -> None:
    with pytest.raises(ClusterDDLError, match="cluster"):
        cluster_migrations(name)


def test_plain_retention_applies_on_a_single_server(store) -> None:  # type: ignore[no-untyped-def]
    for sql in plain_retention_statements(90):
        store.command(sql.replace("{db}", store.database))
    ddl = store.query("SELECT create_table_query FROM system.tables "
                      "WHERE database = {d:String} AND name = 'events'",
                      {"d": store.database}).scalar()
    assert "TTL toDateTime(intDiv(ts_received, 1000000)) + toIntervalDay(90)" in ddl


def test_bookkeeping_tables_are_whole_on_every_server() -> None:
    boot = cluster_bootstrap(CLUSTER)
    assert boot[0] == f"CREATE DATABASE IF NOT EXISTS {{db}} ON CLUSTER {CLUSTER}"
    for name in ("schema_migrations", "users"):
        ddl = next(s for s in boot if f"{{db}}.{name} ON CLUSTER" in s)
        assert f"'/clickhouse/tables/all/{{db}}/{name}', '{{shard}}-{{replica}}'" in ddl


EXTRA = Migration(2, "views and changes", (
    "CREATE VIEW IF NOT EXISTS {db}.daily AS SELECT pos_terminal, count() AS n "
    "FROM {db}.events FINAL GROUP BY pos_terminal",
    "CREATE TABLE IF NOT EXISTS {db}.per_terminal (pos_terminal String, n UInt64) "
    "ENGINE = SummingMergeTree ORDER BY pos_terminal",
    "CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.per_terminal_mv TO {db}.per_terminal "
    "AS SELECT pos_terminal, count() AS n FROM {db}.events GROUP BY pos_terminal",
    "ALTER TABLE {db}.events ADD COLUMN IF NOT EXISTS note String DEFAULT ''",
    "ALTER TABLE {db}.events ADD INDEX IF NOT EXISTS idx_note note TYPE bloom_filter "
    "GRANULARITY 4",
    "DROP TABLE IF EXISTS {db}.per_terminal",
))


def test_views_read_distributed_tables_and_mvs_the_local_ones(store) -> None:  # type: ignore[no-untyped-def]
    m = cluster_migrations(CLUSTER, migrations=(*MIGRATIONS, EXTRA))[-1]
    for sql in m.statements:
        _formatted(store, sql)
    view, local, dist, mv, add_l, add_d, idx, drop_d, drop_l = m.statements
    assert "FROM {db}.events FINAL" in view and "_local" not in view
    assert "ReplicatedSummingMergeTree(" in local
    assert "Distributed(" in dist
    assert f"TO {{db}}.per_terminal{LOCAL_SUFFIX}" in mv
    assert f"FROM {{db}}.events{LOCAL_SUFFIX} GROUP BY" in mv
    assert add_l.startswith(f"ALTER TABLE {{db}}.events{LOCAL_SUFFIX} ON CLUSTER")
    assert add_d.startswith("ALTER TABLE {db}.events ON CLUSTER") and "ADD COLUMN" in add_d
    assert idx.startswith(f"ALTER TABLE {{db}}.events{LOCAL_SUFFIX} ON CLUSTER")
    assert drop_d.startswith("DROP TABLE IF EXISTS {db}.per_terminal ON CLUSTER")
    assert drop_l.startswith(f"DROP TABLE IF EXISTS {{db}}.per_terminal{LOCAL_SUFFIX} ON")


@pytest.mark.parametrize("stmt", [
    "CREATE TABLE {db}.m (a String) ENGINE = Memory",
    "CREATE MATERIALIZED VIEW {db}.mv ENGINE = MergeTree ORDER BY a AS SELECT a FROM {db}.t",
    "INSERT INTO {db}.events (event_id) VALUES ('x')",
    "ALTER TABLE {db}.unknown ADD COLUMN a String",
])
def test_statements_without_a_cluster_form_are_refused(stmt: str) -> None:
    with pytest.raises(ClusterDDLError):
        cluster_migrations(CLUSTER, migrations=(*MIGRATIONS, Migration(9, "x", (stmt,))))
