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
from typing import Any

from posguard.console.errors import SettingsError

__all__ = ["Settings", "FIELDS", "load_settings", "env_name"]


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
    sink_batch: int = 20_000
    producer_batch_bytes: int = 0
    demo_rate: float = 50.0
    demo_stores: int = 3
    demo_terminals: int = 4
    log_level: str = "info"
    kafka_config: Mapping[str, Any] = field(default_factory=dict)

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
    "sink_batch": "most messages per ClickHouse insert",
    "producer_batch_bytes": "Faust producer batch size in bytes; 0 = 1 on a Tansu broker "
                            "(embedded or detected: its high watermarks need one record per "
                            "batch), else 16384",
    "demo_rate": "events per second of demo traffic (posguard up --demo)",
    "demo_stores": "stores in demo traffic",
    "demo_terminals": "terminals per store in demo traffic",
    "log_level": "log level: debug, info, warning, error",
}


def env_name(name: str) -> str:
    return "POSGUARD_" + name.upper()


def _coerce(name: str, value: Any) -> Any:
    typ = {f.name: f.type for f in fields(Settings)}[name]
    try:
        if typ in ("int",):
            return int(value)
        if typ in ("float",):
            return float(value)
        if typ in ("Path", "Path | None"):
            return Path(value) if value not in (None, "") else None
        if typ.startswith("Mapping"):
            if not isinstance(value, Mapping):
                raise TypeError("expected a table")
            return dict(value)
        return str(value)
    except (TypeError, ValueError) as e:
        raise SettingsError(f"setting {name}: bad value {value!r} ({e})") from None


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
        file_values = {k: v for k, v in node.items() if k in names}
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
