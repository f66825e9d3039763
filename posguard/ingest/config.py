"""Settings of the ingest adapters: the `[ingest]` table of the node's TOML file.

Pure: `ingest_config_from_dict` validates a table; the file is read in `posguard.ingest.files`.

    [ingest]
    bind = "0.0.0.0"                 # address the TCP/UDP listeners bind
    auto_register = false            # unknown terminals: register (true) or reject (false)
    default_timezone = "Europe/Moscow"
    max_document_bytes = 262144      # one XML document / JSON line / printer line
    max_connections = 512
    idle_timeout = 300.0             # seconds without a byte before a TCP connection is closed
    rate_bytes_per_second = 1048576  # per TCP connection (reads pause above it)
    udp_datagrams_per_second = 2000  # per UDP port (datagrams above it are dropped, counted)
    http_max_body_bytes = 8388608
    printer_definitions = ["printer/*.toml"]   # relative to the config file's folder
    spool_dir = ""                   # default DATA/spool/ingest
    spool_max_bytes = 4294967296     # spool file limit (0: none); when full, input is refused
    raw_dump_dir = ""                # default DATA/raw
    message_timeout = 30.0           # seconds a message may wait for the broker
    fsync_interval = 0.05            # group commit of the spool, seconds
    replay_window = 300.0            # seconds delivered records are journaled (0: no journal)
    replay_max_bytes = 1073741824    # journal size limit (0: none); oldest segments go first

    [[ingest.listeners]]             # ports to open even with no terminal on them yet
    transport = "tcp"                # (auto-registration needs a port to arrive on)
    port = 5001
    protocol = "dssl-xml"
"""

from __future__ import annotations

from typing import Any

import msgspec

from posguard.ingest.errors import RegistryError
from posguard.ingest.registry import PROTOCOLS, TRANSPORTS
from posguard.model.times import zone

__all__ = ["IngestConfig", "ListenerSpec", "ingest_config_from_dict"]


class ListenerSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A port to listen on with the protocol spoken there."""

    transport: str
    port: int
    protocol: str = "dssl-xml"


class IngestConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The `[ingest]` table (see the module docstring for each setting)."""

    bind: str = "0.0.0.0"
    auto_register: bool = False
    default_timezone: str = "UTC"
    max_document_bytes: int = 256 * 1024
    max_connections: int = 512
    idle_timeout: float = 300.0
    rate_bytes_per_second: int = 1024 * 1024
    udp_datagrams_per_second: int = 2000
    http_max_body_bytes: int = 8 * 1024 * 1024
    printer_definitions: tuple[str, ...] = ()
    spool_dir: str = ""
    spool_max_bytes: int = 4 * 1024**3
    raw_dump_dir: str = ""
    message_timeout: float = 30.0
    fsync_interval: float = 0.05
    replay_window: float = 300.0
    replay_max_bytes: int = 1024**3
    listeners: tuple[ListenerSpec, ...] = ()


def ingest_config_from_dict(d: dict[str, Any]) -> IngestConfig:
    """A validated IngestConfig from the `[ingest]` table (unknown keys are refused)."""
    try:
        c = msgspec.convert(d, IngestConfig)
    except msgspec.ValidationError as e:
        raise RegistryError(f"[ingest]: {e}") from None
    for ls in c.listeners:
        if ls.transport not in TRANSPORTS or ls.protocol not in PROTOCOLS:
            raise RegistryError(f"[[ingest.listeners]] {ls}: unknown transport or protocol")
        if ls.transport != "http" and not 1 <= ls.port <= 65535:
            raise RegistryError(f"[[ingest.listeners]] port {ls.port} not in 1..65535")
    if c.max_document_bytes < 64 or c.max_connections < 1 or c.rate_bytes_per_second < 1:
        raise RegistryError("[ingest]: limits must be positive")
    if c.spool_max_bytes < 0:
        raise RegistryError("[ingest] spool_max_bytes: 0 (no limit) or a number of bytes")
    if c.replay_window < 0 or c.replay_max_bytes < 0:
        raise RegistryError("[ingest] replay_window, replay_max_bytes: 0 (off / no limit) or "
                            "a positive number")
    try:
        zone(c.default_timezone)
    except Exception as e:
        raise RegistryError(f"[ingest] default_timezone: {e}") from None
    return c
