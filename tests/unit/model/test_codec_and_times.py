import pytest
from hypothesis import given
from hypothesis import strategies as st

from posguard.model.codec import decode_event, decode_incident, encode
from posguard.model.errors import DecodeError, TimeArgumentError
from posguard.model.event_types import is_known_event_type, normalize_event_type
from posguard.model.events import PosEvent
from posguard.model.incidents import Incident, incident_id
from posguard.model.times import local_datetime, to_micros

events = st.builds(
    PosEvent,
    type=st.sampled_from(["POS_POSITION_ADD", "POS_RECEIPT_CLOSE"]),
    pos_terminal=st.text(min_size=1, max_size=8),
    ts_in_receipt=st.integers(0, 2**62),
    ts_received=st.integers(0, 2**62),
    text=st.text(),
    price=st.integers(-(2**62), 2**62),
    event_id=st.text(max_size=20),
)


@given(events)
def test_event_round_trip(ev: PosEvent) -> None:
    assert decode_event(encode(ev)) == ev


def test_incident_round_trip() -> None:
    inc = Incident(id=incident_id("D1", ["e1", "e2"]), detector="D1", type_name="Delete",
                   terminal_guid="T1", ts_created=5, related_ts=[1, 2],
                   custom_columns={"k": "v"})
    assert decode_incident(encode(inc)) == inc


@pytest.mark.parametrize("raw", [b"", b"{", b"[]", b'{"type": 1}', b"\xff\xfe",
                                 b'{"type":"POS_X","pos_terminal":"T"}'])
def test_bad_bytes_raise_decode_error(raw: bytes) -> None:
    with pytest.raises(DecodeError):
        decode_event(raw)


def test_incident_id_is_deterministic_and_order_sensitive() -> None:
    assert incident_id("D", ["a", "b"]) == incident_id("D", ["a", "b"])
    assert incident_id("D", ["a", "b"]) != incident_id("D", ["b", "a"])
    assert incident_id("D", ["ab"]) != incident_id("D", ["a", "b"])


@pytest.mark.parametrize("value,expected", [
    (1_700_000_000, 1_700_000_000_000_000),
    (1_700_000_000.25, 1_700_000_000_250_000),
    ("1700000000250000", 1_700_000_000_250_000),
    (1_700_000_000_250_000, 1_700_000_000_250_000),
    ("1700000000", 1_700_000_000_000_000),
])
def test_to_micros_tells_seconds_from_micros(value: object, expected: int) -> None:
    assert to_micros(value) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["abc", -1, 1e12, True, None, float("nan")])
def test_to_micros_refuses_ambiguous_or_bad(value: object) -> None:
    with pytest.raises(TimeArgumentError):
        to_micros(value)  # type: ignore[arg-type]


def test_local_time_of_store() -> None:
    # 2026-12-03 20:30 UTC is 23:30 in Moscow (UTC+3)
    ts = 1_796_329_800_000_000
    assert local_datetime(ts, "Europe/Moscow").hour == 23
    assert local_datetime(ts, "UTC").hour == 20


def test_event_type_names() -> None:
    assert normalize_event_type("POSNG_POSITION_ADD") == "POS_POSITION_ADD"
    assert normalize_event_type("pos_receipt_close") == "POS_RECEIPT_CLOSE"
    assert normalize_event_type("RECEIPT_OPEN") == "POS_RECEIPT_OPEN"
    assert is_known_event_type("POS_FRAUD")
    assert not is_known_event_type(normalize_event_type("POSNG_NO_SUCH_THING"))
