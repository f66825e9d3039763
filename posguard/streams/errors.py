"""Errors of the streaming shell (see posguard.errors for the whole tree)."""

from posguard.errors import PosguardError


class StreamsError(PosguardError):
    """Base of the streams package's errors."""


class BrokerError(StreamsError):
    """The Kafka broker cannot be started or reached."""


class KafkaConfigError(StreamsError):
    """A Kafka client setting (`[kafka_config]`, TLS/SASL) that cannot be used; names the key."""
