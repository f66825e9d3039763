from posguard.streams.table_values import (
    RECENT_OUTPUTS,
    KeyedValue,
    pack,
    remember,
    resend_for,
    unpack,
)


def test_round_trip_and_resend_of_a_replayed_offset() -> None:
    v = KeyedValue(offset=-1, state=b"")
    for off in range(10):
        v.offset, v.state = off, b"s%d" % off
        remember(v, off, [b"out%d" % off] if off % 3 == 0 else [])
    back = unpack(pack(v))
    assert back == v and back.offset == 9 and back.state == b"s9"
    assert resend_for(back, 6) == [b"out6"]
    assert resend_for(back, 7) == []  # it sent nothing: nothing to resend


def test_memory_is_bounded() -> None:
    v = KeyedValue(offset=0, state=b"")
    for off in range(RECENT_OUTPUTS * 3):
        remember(v, off, [b"x"])
    assert len(v.sent) == RECENT_OUTPUTS
    assert resend_for(v, 0) == [] and resend_for(v, RECENT_OUTPUTS * 3 - 1) == [b"x"]


def test_seen_ids_catch_a_repeat_and_stay_bounded() -> None:
    from posguard.streams.table_values import RECENT_IDS, already_seen

    v = KeyedValue(offset=0, state=b"")
    assert not already_seen(v, "e1") and already_seen(v, "e1")
    assert not already_seen(v, "")  # events without an id are never called repeats
    for i in range(RECENT_IDS * 2):
        already_seen(v, f"x{i}")
    assert len(v.seen) == RECENT_IDS and not already_seen(v, "e1")
