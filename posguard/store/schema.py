"""ClickHouse schema as versioned migrations. `{db}` is the configured database name.

Tables (docs/schema.md, when written, describes each column):
- events: every receipt event. ReplacingMergeTree keyed by time bucket, terminal, time and
  event id: the sink writes each Kafka offset once, and a replay of the same event (same id,
  same ts_received) collapses on merge as a backstop.
- receipts: one row per finished receipt, from the receipt-assembly agent.
- incidents: versioned rows (ReplacingMergeTree(version)): a review writes a new version.
- incident_history: one row per change of an incident (audit).
- frauds: alarms raised by scripts (pos_fraud); each is also a POS_FRAUD event in events.
- (migrations 2, 3) terminal_timezones and the analyst views receipt_summary,
  receipt_summary_between(t0, t1), incidents_current, cashier_day, terminal_hour
  (posguard/store/views.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from posguard.store.views import RANGE_VIEW_STATEMENTS, VIEW_STATEMENTS

__all__ = ["Migration", "MIGRATIONS", "EVENT_COLUMNS", "RECEIPT_COLUMNS", "INCIDENT_COLUMNS"]


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


_DEDUP = "non_replicated_deduplication_window = 1000"

EVENT_COLUMNS = (
    "event_id", "type", "pos_terminal", "pos_terminal_name", "store", "associated_channel",
    "location", "op_id", "cashier_name", "position", "text", "article", "barcode", "price",
    "price_per_unit", "quantity", "weight", "discount", "discount_card", "flags", "volume",
    "ts_in_receipt", "ts_received", "kafka_topic_id", "kafka_partition", "kafka_offset",
)

RECEIPT_COLUMNS = (
    "receipt_id", "pos_terminal", "pos_terminal_name", "store", "op_id", "cashier_name",
    "ts_open", "ts_close", "ts_received_close", "status", "kind", "total", "discount",
    "positions", "deletes", "frauds", "events", "change", "discount_card", "payment_types",
    "admin_seen",
)

INCIDENT_COLUMNS = (
    "id", "detector", "type_name", "type_id", "type_description", "terminal_guid",
    "terminal_name", "associated_channel", "cashier_name", "store", "op_id", "ts_created",
    "related_ts", "related_events", "custom_columns", "operator", "server", "status", "expert",
    "expert_estimate", "comment", "review_ts", "review_duration", "version",
)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "events, receipts, incidents, frauds", (
        """CREATE TABLE IF NOT EXISTS {db}.events (
            event_id String,
            type LowCardinality(String),
            pos_terminal LowCardinality(String),
            pos_terminal_name LowCardinality(String),
            store LowCardinality(String),
            associated_channel LowCardinality(String),
            location LowCardinality(String),
            op_id String,
            cashier_name LowCardinality(String),
            position Int32,
            text String,
            article String,
            barcode String,
            price Int64,
            price_per_unit Int64,
            quantity Int64,
            weight Int64,
            discount Int64,
            discount_card String,
            flags UInt32,
            volume Int64,
            ts_in_receipt Int64,
            ts_received Int64,
            kafka_topic_id LowCardinality(String) DEFAULT '',
            kafka_partition Int32 DEFAULT -1,
            kafka_offset Int64 DEFAULT -1,
            INDEX idx_op_id op_id TYPE bloom_filter(0.01) GRANULARITY 4,
            INDEX idx_cashier cashier_name TYPE bloom_filter(0.01) GRANULARITY 4,
            INDEX idx_type type TYPE set(100) GRANULARITY 4,
            INDEX idx_text lowerUTF8(text) TYPE ngrambf_v1(3, 65536, 2, 0) GRANULARITY 4,
            INDEX idx_barcode barcode TYPE bloom_filter(0.01) GRANULARITY 4,
            INDEX idx_article article TYPE bloom_filter(0.01) GRANULARITY 4
        ) ENGINE = ReplacingMergeTree
        PARTITION BY toYYYYMM(fromUnixTimestamp64Micro(ts_received))
        ORDER BY (intDiv(ts_received, 3600000000), pos_terminal, ts_received, event_id)
        SETTINGS """ + _DEDUP,
        """CREATE TABLE IF NOT EXISTS {db}.receipts (
            receipt_id String,
            pos_terminal LowCardinality(String),
            pos_terminal_name LowCardinality(String),
            store LowCardinality(String),
            op_id String,
            cashier_name LowCardinality(String),
            ts_open Int64,
            ts_close Int64,
            ts_received_close Int64,
            status LowCardinality(String),
            kind LowCardinality(String),
            total Int64,
            discount Int64,
            positions Int32,
            deletes Int32,
            frauds Int32,
            events Int32,
            change Int64,
            discount_card String,
            payment_types Array(LowCardinality(String)),
            admin_seen Bool
        ) ENGINE = ReplacingMergeTree
        PARTITION BY toYYYYMM(fromUnixTimestamp64Micro(ts_close))
        ORDER BY (intDiv(ts_close, 3600000000), pos_terminal, ts_close, receipt_id)
        SETTINGS """ + _DEDUP,
        """CREATE TABLE IF NOT EXISTS {db}.incidents (
            id String,
            detector LowCardinality(String),
            type_name LowCardinality(String),
            type_id LowCardinality(String),
            type_description String,
            terminal_guid LowCardinality(String),
            terminal_name LowCardinality(String),
            associated_channel LowCardinality(String),
            cashier_name LowCardinality(String),
            store LowCardinality(String),
            op_id String,
            ts_created Int64,
            related_ts Array(Int64),
            related_events Array(String),
            custom_columns Map(String, String),
            operator String,
            server String,
            status UInt8,
            expert String,
            expert_estimate Int64,
            comment String,
            review_ts Int64,
            review_duration Int64,
            version UInt64
        ) ENGINE = ReplacingMergeTree(version)
        PARTITION BY toYYYYMM(fromUnixTimestamp64Micro(ts_created))
        ORDER BY (id)
        SETTINGS """ + _DEDUP,
        """CREATE TABLE IF NOT EXISTS {db}.incident_history (
            id String,
            version UInt64,
            ts Int64,
            user String,
            action LowCardinality(String),
            status UInt8,
            expert_estimate Int64,
            comment String
        ) ENGINE = ReplacingMergeTree
        ORDER BY (id, version)
        SETTINGS """ + _DEDUP,
        """CREATE TABLE IF NOT EXISTS {db}.frauds (
            event_id String,
            pos_terminal LowCardinality(String),
            op_id String,
            text String,
            script String,
            ts_in_receipt Int64,
            ts_received Int64
        ) ENGINE = ReplacingMergeTree
        ORDER BY (pos_terminal, ts_received, event_id)
        SETTINGS """ + _DEDUP,
    )),
    # Analyst views (posguard/store/views.py, docs/schema.md) and the terminal timezones
    # they read local time from.
    Migration(2, "analyst views", VIEW_STATEMENTS),
    Migration(3, "receipt view over a time range", RANGE_VIEW_STATEMENTS),
    # The incidents table is sorted by id alone (a review's new version must meet the old one
    # under the same key); these let a time range or a terminal skip the other granules.
    Migration(4, "incidents: skip indexes on creation time and terminal", (
        "ALTER TABLE {db}.incidents ADD INDEX IF NOT EXISTS idx_ts_created ts_created "
        "TYPE minmax GRANULARITY 1",
        "ALTER TABLE {db}.incidents ADD INDEX IF NOT EXISTS idx_terminal terminal_guid "
        "TYPE bloom_filter(0.01) GRANULARITY 1",
        "ALTER TABLE {db}.incidents MATERIALIZE INDEX idx_ts_created",
        "ALTER TABLE {db}.incidents MATERIALIZE INDEX idx_terminal",
    )),
)
