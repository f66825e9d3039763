"""The detector configuration as the script host reads and replaces it: the latest value of
the compacted pos.detectors topic (`config_to_bytes` JSON), default configuration when empty.

Running workers read the same topic and pick a change up live; so `pos_import_detector`
publishes a new value here and nothing else.
"""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Any, Protocol

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition

from posguard.detectors.config import DetectorConfig, config_from_bytes, config_to_bytes
from posguard.detectors.config import default_config as _default_config
from posguard.detectors.errors import ConfigError
from posguard.ingest.publisher import producer_config
from posguard.streams.errors import BrokerError
from posguard.streams.topics import Topics

__all__ = ["DetectorConfigStore", "KafkaDetectorConfig", "CONFIG_KEY"]

log = logging.getLogger(__name__)

CONFIG_KEY = b"config"


class DetectorConfigStore(Protocol):
    """Read and replace the detector configuration."""

    def get(self) -> DetectorConfig: ...
    def replace(self, config: DetectorConfig) -> None: ...


class KafkaDetectorConfig:
    """The configuration on pos.detectors (one partition, compacted).

    Args:
        bootstrap: Kafka bootstrap servers.
        topics: topic names.
        extra_config: extra client settings.
        timeout: seconds to wait for the broker.
    """

    def __init__(self, bootstrap: str, topics: Topics, extra_config: dict[str, Any] | None = None,
                 timeout: float = 10.0):
        self._bootstrap = bootstrap
        self._topic = topics.detectors
        self._extra = dict(extra_config or {})
        self._timeout = timeout
        self._lock = threading.Lock()
        self._producer: Producer | None = None

    def get(self) -> DetectorConfig:
        """The latest configuration on the topic (the default one when there is none)."""
        consumer = Consumer({"bootstrap.servers": self._bootstrap,
                             "group.id": f"posguard.script.config.{uuid.uuid4().hex[:8]}",
                             "enable.auto.commit": False, "log_level": 3,
                             "logger": log, **self._extra})
        try:
            tp = TopicPartition(self._topic, 0)
            _, high = consumer.get_watermark_offsets(tp, timeout=self._timeout, cached=False)
            if high <= 0:
                return _default_config()
            consumer.assign([TopicPartition(self._topic, 0, OFFSET_BEGINNING)])
            latest: bytes | None = None
            last_offset = -1
            # Read to the reported end, then on until the topic is quiet: on brokers that
            # report the end of a multi-record batch too low, the tail still gets read.
            while True:
                msg = consumer.poll(0.3 if last_offset >= high - 1 else self._timeout)
                if msg is None:
                    break
                if msg.error() is not None:
                    continue
                last_offset = msg.offset() or 0
                if msg.value():
                    latest = msg.value()
            if latest is None:
                return _default_config()
            try:
                return config_from_bytes(latest)
            except ConfigError:
                log.error("the latest value on %s is not a configuration; using defaults",
                          self._topic)
                return _default_config()
        except KafkaException as e:
            raise BrokerError(f"cannot read {self._topic}: {e}") from None
        finally:
            consumer.close()

    def replace(self, config: DetectorConfig) -> None:
        """Publish `config` as the configuration (waits for the broker's acknowledgement)."""
        with self._lock:
            if self._producer is None:
                self._producer = Producer(producer_config(self._bootstrap, self._extra))
            failed: list[object] = []
            try:
                self._producer.produce(self._topic, key=CONFIG_KEY, value=config_to_bytes(config),
                                       on_delivery=lambda err, _m: failed.append(err) if err
                                       else None)
            except KafkaException as e:
                raise BrokerError(f"cannot publish to {self._topic}: {e}") from None
            left = self._producer.flush(self._timeout)
            if left or failed:
                raise BrokerError(f"the configuration was not acknowledged on {self._topic}: "
                                  f"{failed[0] if failed else 'timeout'}")
