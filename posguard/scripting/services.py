"""What the script host needs from the node: `ScriptServices`, one small object, so the same
host runs inside `posguard up` and alone (`posguard scripts`, cluster mode)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from posguard.detectors.localtime import Zones
from posguard.model.events import PosEvent
from posguard.scripting.clock import ScriptClock
from posguard.scripting.detector_store import DetectorConfigStore
from posguard.scripting.outbox import Outbox
from posguard.streams.topics import Topics

__all__ = ["ScriptServices", "Notify", "EventSink", "log_notify", "GROUP_PREFIX",
           "registry_access"]

log = logging.getLogger("posguard.scripts")

GROUP_PREFIX = "posguard.script."

Notify = Callable[[str, str, str], None]
"""notify(level, text, source): level is "message", "alert" or "error"."""


class EventSink(Protocol):
    """The part of EventPublisher the host uses."""

    def publish(self, ev: PosEvent) -> None: ...
    def flush(self, timeout: float = 30.0) -> int: ...


def log_notify(level: str, text: str, source: str) -> None:
    """The notifier of a host with no console: the log only."""
    log.log(logging.ERROR if level == "error" else logging.WARNING if level == "alert"
            else logging.INFO, "[%s] %s: %s", source, level, text)


@dataclass
class ScriptServices:
    """The node's services as the script host uses them.

    Attributes:
        bootstrap: Kafka bootstrap servers (feeds, producers).
        topics: topic names.
        backend: the store (searches, archive, reports, terminal lookup); None = no store.
        publisher: producer of pos.events (pos_fraud's POS_FRAUD events).
        outbox: producer of pos.incidents and pos.frauds.
        detectors: the detector configuration (pos_import_detector, pos_process_archive,
            pos_incident_create's type names).
        notify: shows message/alert/error to operators (console toasts); always logged too.
        terminal_exists: GUID -> registered? (pos_incident_create); a terminal is known
            when this says so or the store has events of it.
        zones: terminal timezones for archive runs.
        clock: the scripts' wall clock and timezone (see clock.py).
        consumer_config: extra settings of the scripts' Kafka consumers.
        group_prefix: consumer group of a script = group_prefix + script name.
        queue_size: bound of each script's event queue (oldest dropped when full).
        workdir: folder relative paths in scripts resolve against; None = the script's folder.
        server: server GUID put on incidents created by scripts.
    """

    bootstrap: str
    topics: Topics
    backend: Any = None
    publisher: EventSink | None = None
    outbox: Outbox | None = None
    detectors: DetectorConfigStore | None = None
    notify: Notify = log_notify
    terminal_exists: Callable[[str], bool] | None = None
    zones: Zones | None = None
    clock: ScriptClock = field(default_factory=ScriptClock)
    consumer_config: Mapping[str, Any] = field(default_factory=dict)
    group_prefix: str = GROUP_PREFIX
    queue_size: int = 10_000
    workdir: Path | None = None
    server: str = ""
    closers: list[Callable[[], Any]] = field(default_factory=list)

    @classmethod
    def connect(cls, bootstrap: str, topics: Topics, backend: Any = None, *,
                notify: Notify = log_notify, kafka_config: Mapping[str, Any] | None = None,
                **kw: Any) -> ScriptServices:
        """Services with the standard producers and the pos.detectors configuration."""
        from posguard.ingest.publisher import EventPublisher
        from posguard.scripting.detector_store import KafkaDetectorConfig

        extra = dict(kafka_config or {})
        pub = EventPublisher(bootstrap, topics, extra_config=extra or None)
        out = Outbox(bootstrap, topics, extra_config=extra or None)
        kw.setdefault("consumer_config", extra)
        return cls(bootstrap=bootstrap, topics=topics, backend=backend, publisher=pub,
                   outbox=out, detectors=KafkaDetectorConfig(bootstrap, topics, extra),
                   notify=notify, closers=[lambda: pub.flush(10), lambda: out.flush(10)], **kw)


def registry_access(config_file: Path | None) -> tuple[Callable[[str], bool], Zones]:
    """The terminal registry of the node's TOML file as the host uses it: a "registered?"
    check that re-reads the file (terminals are added while scripts run) and the terminals'
    timezones for archive runs. No file: nothing registered, every zone UTC."""
    from posguard.ingest.errors import RegistryError
    from posguard.ingest.files import load_registry

    def load() -> Any:
        if config_file is None or not config_file.exists():
            return None
        try:
            return load_registry(config_file)
        except RegistryError as e:
            log.warning("terminal registry unreadable: %s", e)
            return None

    def registered(guid: str) -> bool:
        reg = load()
        return reg is not None and guid in reg

    reg = load()
    zones = Zones(terminals={t.guid: t.timezone for t in reg if t.timezone}) if reg else Zones()
    return registered, zones
