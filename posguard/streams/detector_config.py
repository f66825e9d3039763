"""The detector configuration on the compacted pos.detectors topic (key b"config").

The topic is the source of truth: `posguard detectors import` publishes a validated
configuration; running workers read it and swap engines without a restart.
"""

from __future__ import annotations

import time
import uuid

from confluent_kafka import Consumer, Producer

from posguard.detectors.config import DetectorConfig, config_from_bytes, config_to_bytes
from posguard.streams.errors import BrokerError
from posguard.streams.topics import PRODUCER_DEFAULTS, Topics

__all__ = ["CONFIG_KEY", "publish_config", "read_latest_config"]

CONFIG_KEY = b"config"


def publish_config(bootstrap: str, topics: Topics, config: DetectorConfig,
                   extra: dict[str, object] | None = None) -> None:
    """Publish a configuration (already validated) and wait for the broker's ack."""
    p = Producer({"bootstrap.servers": bootstrap, **PRODUCER_DEFAULTS, "log_level": 3,
                  **(extra or {})})
    p.produce(topics.detectors, key=CONFIG_KEY, value=config_to_bytes(config))
    if p.flush(30):
        raise BrokerError(f"configuration not acknowledged by {bootstrap}")


def read_latest_config(bootstrap: str, topics: Topics, quiet_seconds: float = 1.5,
                       timeout: float = 30.0,
                       extra: dict[str, object] | None = None) -> DetectorConfig | None:
    """The newest configuration on pos.detectors, or None when none was published.

    Reads from the beginning until the topic stays quiet for `quiet_seconds` (not up to the
    high watermark: Tansu under-reports it after multi-record batches).
    """
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"posguard.cfg.{uuid.uuid4().hex}",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False,
                  "session.timeout.ms": 6000, "log_level": 3, **(extra or {})})
    from confluent_kafka import TopicPartition

    c.assign([TopicPartition(topics.detectors, 0, 0)])
    latest: bytes | None = None
    deadline = time.monotonic() + timeout
    last_msg = time.monotonic()
    try:
        while time.monotonic() < deadline and time.monotonic() - last_msg < quiet_seconds:
            for m in c.consume(100, 0.2):
                if m.error() is None and m.key() == CONFIG_KEY and m.value():
                    latest = m.value()
                    last_msg = time.monotonic()
    finally:
        c.close()
    return config_from_bytes(latest) if latest else None
