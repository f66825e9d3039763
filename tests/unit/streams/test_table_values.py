from posguard.streams.table_values import KeyedValue, is_new, pack, unpack


def test_round_trip() -> None:
    v = KeyedValue(offset=9, state=b"s9", applied={0: 5, 3: 7})
    assert unpack(pack(v)) == v


def test_is_new_tells_a_reforwarded_copy_per_source_partition() -> None:
    v = KeyedValue(offset=-1, state=b"")
    assert is_new(v, 0, 10) and is_new(v, 1, 3) and is_new(v, 0, 11)
    assert not is_new(v, 0, 10) and not is_new(v, 0, 11) and not is_new(v, 1, 3)
    assert is_new(v, 1, 4)
    assert v.applied == {0: 11, 1: 4}
