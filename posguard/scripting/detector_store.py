"""The detector configuration as the script host reads and replaces it: the latest value of
the compacted pos.detectors topic, through `posguard.streams.detector_config` (the same code
`posguard detectors import` and the workers use), the default configuration when none was
published.

Reading the topic waits for it to go quiet (about 1.5 s), so a read is cached for
`max_age` seconds; replacing it updates the cache at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from posguard.detectors.config import DetectorConfig, default_config
from posguard.streams.detector_config import publish_config, read_latest_config
from posguard.streams.topics import Topics

__all__ = ["DetectorConfigStore", "KafkaDetectorConfig"]


class DetectorConfigStore(Protocol):
    """Read and replace the detector configuration."""

    def get(self) -> DetectorConfig: ...
    def replace(self, config: DetectorConfig) -> None: ...


class KafkaDetectorConfig:
    """The configuration on pos.detectors.

    Args:
        bootstrap: Kafka bootstrap servers.
        topics: topic names.
        extra_config: extra client settings.
        max_age: seconds a read configuration is reused.
        clock: monotonic seconds (injectable).
    """

    def __init__(self, bootstrap: str, topics: Topics, extra_config: dict[str, Any] | None = None,
                 max_age: float = 5.0, clock: Callable[[], float] = time.monotonic):
        self._bootstrap = bootstrap
        self._topics = topics
        self._extra = dict(extra_config or {})
        self._max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: tuple[float, DetectorConfig] | None = None

    def get(self) -> DetectorConfig:
        """The latest configuration (the default one when none was published)."""
        with self._lock:
            if self._cached is not None and self._clock() - self._cached[0] < self._max_age:
                return self._cached[1]
            cfg = read_latest_config(self._bootstrap, self._topics, quiet_seconds=1.0,
                                     extra=self._extra) or default_config()
            self._cached = (self._clock(), cfg)
            return cfg

    def replace(self, config: DetectorConfig) -> None:
        """Publish `config` as the configuration (waits for the broker's acknowledgement)."""
        with self._lock:
            publish_config(self._bootstrap, self._topics, config, self._extra)
            self._cached = (self._clock(), config)
