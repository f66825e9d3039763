"""The wire codec: the only bytes <-> struct code (msgspec JSON) for Kafka values."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

from posguard.model.errors import DecodeError
from posguard.model.events import PosEvent
from posguard.model.frauds import FraudRecord
from posguard.model.incidents import Incident
from posguard.model.receipts import Receipt

__all__ = [
    "encode",
    "decode_event",
    "decode_incident",
    "decode_receipt",
    "decode_fraud",
    "decode_json",
    "encode_json",
]

_encoder = msgspec.json.Encoder()
_event_decoder = msgspec.json.Decoder(PosEvent)
_incident_decoder = msgspec.json.Decoder(Incident)
_receipt_decoder = msgspec.json.Decoder(Receipt)
_fraud_decoder = msgspec.json.Decoder(FraudRecord)
_any_decoder = msgspec.json.Decoder()

T = TypeVar("T")


def encode(obj: PosEvent | Incident | Receipt | Any) -> bytes:
    """Encode an event, incident, receipt (or plain JSON value) to bytes."""
    return _encoder.encode(obj)


def encode_json(obj: Any) -> bytes:
    """Encode a plain JSON value (dicts, lists, numbers, strings)."""
    return _encoder.encode(obj)


def _decode(decoder: msgspec.json.Decoder[T], data: bytes, what: str) -> T:
    try:
        return decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as e:
        raise DecodeError(f"not a valid {what}: {e}") from None


def decode_event(data: bytes) -> PosEvent:
    """Decode one PosEvent; raises DecodeError with the reason on bad bytes."""
    return _decode(_event_decoder, data, "event")


def decode_incident(data: bytes) -> Incident:
    """Decode one Incident; raises DecodeError with the reason on bad bytes."""
    return _decode(_incident_decoder, data, "incident")


def decode_receipt(data: bytes) -> Receipt:
    """Decode one Receipt; raises DecodeError with the reason on bad bytes."""
    return _decode(_receipt_decoder, data, "receipt")


def decode_fraud(data: bytes) -> FraudRecord:
    """Decode one FraudRecord; raises DecodeError with the reason on bad bytes."""
    return _decode(_fraud_decoder, data, "fraud record")


def decode_json(data: bytes) -> Any:
    """Decode any JSON document; raises DecodeError on bad bytes."""
    return _decode(_any_decoder, data, "JSON document")
