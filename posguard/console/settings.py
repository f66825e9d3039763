"""One frozen Settings object per process: flags > POSGUARD_* variables > file > defaults.

This module is the only place that reads os.environ. Each setting is declared once in
`FIELDS` with its type, default and help; the CLI builds its flags from the same table, so
`--help` names each setting's variable.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from posguard.console.errors import SettingsError

if TYPE_CHECKING:
    from posguard.store.backends.base import Backend
    from posguard.store.backends.http_backend import HttpOptions

__all__ = ["Settings", "FIELDS", "CLICKHOUSE_KEYS", "load_settings", "env_name"]


@dataclass(frozen=True)
class Settings:
    """Settings of a posguard process (see FIELDS for each one's help)."""

    data: Path = Path("posguard-data")
    config: Path | None = None
    kafka: str = ""
    clickhouse: str = ""
    database: str = "posguard"
    http: str = "127.0.0.1:8700"
    api: str = ""
    partitions: int = 8
    replication: int = 1
    topic_prefix: str = ""
    app_id: str = "posguard"
    session_timeout: float = 10.0
    rebalance_timeout: float = 10.0
    cross_terminal_lateness_ms: int = 2000
    sink_batch: int = 50_000  # streams.sink.DEFAULT_BATCH (not imported: settings stay light)
    producer_batch_bytes: int = 0
    demo_rate: float = 50.0
    demo_stores: int = 3
    demo_terminals: int = 4
    log_level: str = "info"
    kafka_config: Mapping[str, Any] = field(default_factory=dict)
    clickhouse_user: str = ""
    clickhouse_password: str = field(default="", repr=False)
    clickhouse_ca_file: str = ""
    clickhouse_cert_file: str = ""
    clickhouse_key_file: str = ""
    clickhouse_verify: bool = True

    @property
    def clickhouse_options(self) -> HttpOptions:
        """Credentials and TLS files for the ClickHouse server (store's HttpOptions)."""
        from posguard.store.backends.http_backend import HttpOptions

        return HttpOptions(username=self.clickhouse_user, password=self.clickhouse_password,
                           ca_file=self.clickhouse_ca_file, cert_file=self.clickhouse_cert_file,
                           key_file=self.clickhouse_key_file, verify=self.clickhouse_verify)

    def open_store(self, migrate: bool = True) -> Backend:
        """The store these settings name: chDB in `data`, or the ClickHouse server at
        `clickhouse` with the `[clickhouse]` credentials and TLS files."""
        from posguard.store import open_backend

        return open_backend(self.clickhouse, self.data, self.database, migrate=migrate,
                            options=self.clickhouse_options)

    @property
    def api_url(self) -> str:
        """Where CLI commands reach the node's HTTP API."""
        return self.api or f"http://{self.http}"

    @property
    def token_file(self) -> Path:
        return self.data / "api-token"


FIELDS: dict[str, str] = {
    "data": "data folder (chDB store, spool, tokens)",
    "config": "TOML config file (default DATA/posguard.toml when it exists)",
    "kafka": "Kafka bootstrap servers host:port[,host:port]; empty = embedded broker",
    "clickhouse": "ClickHouse server URL http(s)://user:pass@host:port; empty = embedded chDB",
    "database": "ClickHouse database name",
    "http": "HTTP API/console listen address host:port",
    "api": "URL of the node's HTTP API for CLI commands (default http://HTTP)",
    "partitions": "partitions of pos.* topics (parallelism of workers)",
    "replication": "replication factor of pos.* topics",
    "topic_prefix": "prefix of every topic name (several deployments on one cluster)",
    "app_id": "Faust application id (consumer group of the workers)",
    "session_timeout": "Kafka consumer group session timeout, seconds",
    "rebalance_timeout": "Kafka consumer group rebalance timeout, seconds",
    "cross_terminal_lateness_ms": "how long (reception time) cashier/card rules hold events "
                                  "to see them in archive order (docs/detectors.md)",
    "sink_batch": "most messages per ClickHouse insert",
    "producer_batch_bytes": "Faust producer batch size in bytes; 0 = 1 on a Tansu broker "
                            "(embedded or detected: its high watermarks need one record per "
                            "batch), else 16384",
    "demo_rate": "events per second of demo traffic (posguard up --demo)",
    "demo_stores": "stores in demo traffic",
    "demo_terminals": "terminals per store in demo traffic",
    "log_level": "log level: debug, info, warning, error",
    "clickhouse_user": "ClickHouse user (overrides the URL's; [clickhouse] user)",
    "clickhouse_password": "ClickHouse password (overrides the URL's; [clickhouse] password)",
    "clickhouse_ca_file": "PEM CA file that signs the ClickHouse server's certificate (https)",
    "clickhouse_cert_file": "PEM client certificate for ClickHouse mutual TLS (https)",
    "clickhouse_key_file": "PEM private key of clickhouse_cert_file (empty = inside it)",
    "clickhouse_verify": "verify the ClickHouse server's certificate and host name (https)",
}

# The `[clickhouse]` table of the config file: key -> setting.
CLICKHOUSE_KEYS: dict[str, str] = {
    "url": "clickhouse", "database": "database", "user": "clickhouse_user",
    "password": "clickhouse_password", "ca_file": "clickhouse_ca_file",
    "cert_file": "clickhouse_cert_file", "key_file": "clickhouse_key_file",
    "verify": "clickhouse_verify",
}
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


def env_name(name: str) -> str:
    return "POSGUARD_" + name.upper()


def _coerce(name: str, value: Any) -> Any:
    typ = {f.name: f.type for f in fields(Settings)}[name]
    try:
        if typ in ("int",):
            return int(value)
        if typ in ("float",):
            return float(value)
        if typ == "bool":
            return _boolean(value)
        if typ in ("Path", "Path | None"):
            return Path(value) if value not in (None, "") else None
        if typ.startswith("Mapping"):
            if not isinstance(value, Mapping):
                raise TypeError("expected a table")
            return dict(value)
        return str(value)
    except (TypeError, ValueError) as e:
        raise SettingsError(f"setting {name}: bad value {value!r} ({e})") from None


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE | _FALSE:
        return text in _TRUE
    raise ValueError("expected true or false")


def _clickhouse_table(doc: Mapping[str, Any], node: Mapping[str, Any],
                      path: Path) -> dict[str, Any]:
    """Settings from the `[clickhouse]` table (url, database, user, password, TLS files)."""
    table = doc.get("clickhouse")
    if not isinstance(table, Mapping):
        return {}
    unknown = sorted(set(table) - set(CLICKHOUSE_KEYS))
    if unknown:
        raise SettingsError(f"config file {path}: [clickhouse] has no key {unknown[0]!r} "
                            f"(known: {', '.join(CLICKHOUSE_KEYS)})")
    out = {CLICKHOUSE_KEYS[k]: v for k, v in table.items()}
    for key, name in (("url", "clickhouse"), ("database", "database")):
        if key in table and name in node and node[name] is not table:
            raise SettingsError(f"config file {path}: {name} is set in [posguard] and as "
                                f"{key} in [clickhouse]; keep one")
    return out


def load_settings(flags: Mapping[str, Any] | None = None,
                  environ: Mapping[str, str] | None = None) -> Settings:
    """Build Settings from flags (None = not given) > environment > config file > defaults."""
    flags = {k: v for k, v in (flags or {}).items() if v is not None}
    env = os.environ if environ is None else environ
    names = [f.name for f in fields(Settings)]
    from_env = {n: env[env_name(n)] for n in names if env_name(n) in env}
    data = Path(flags.get("data") or from_env.get("data") or Settings.data)
    cfg_path = flags.get("config") or from_env.get("config")
    file_values: dict[str, Any] = {}
    path = Path(cfg_path) if cfg_path else data / "posguard.toml"
    if cfg_path or path.exists():
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SettingsError(f"config file {path} not found") from None
        except tomllib.TOMLDecodeError as e:
            raise SettingsError(f"config file {path}: {e}") from None
        node = doc.get("posguard", doc)
        file_values = {k: v for k, v in node.items() if k in names
                       and not (k == "clickhouse" and isinstance(v, Mapping))}
        file_values.update(_clickhouse_table(doc, node, path))
        if isinstance(doc.get("kafka_config"), Mapping):
            file_values["kafka_config"] = doc["kafka_config"]
    merged: dict[str, Any] = {}
    for source in (file_values, from_env, flags):
        for k, v in source.items():
            if k in names:
                merged[k] = _coerce(k, v)
    merged["data"] = data
    s = replace(Settings(), **merged)
    if s.partitions < 1:
        raise SettingsError("setting partitions: must be at least 1")
    return s
