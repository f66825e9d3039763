"""The XML stream splitter: documents in pieces, several per packet, garbage, limits."""

from __future__ import annotations

import pytest

from posguard.ingest.xml_splitter import Bad, XmlSplitter

D1 = (b'<?xml version="1.0" encoding="utf-8"?>\n<transaction>\n  <event_type>POSNG_RECEIPT_OPEN'
      b'</event_type>\n</transaction>')
D2 = (b'<?xml version="1.0" encoding="windows-1251"?>\r\n<TransactionBlock>\r\n<text>\xca\xe5'
      b'\xf4\xe8\xf0</text>\r\n</TransactionBlock >')
D3 = b"<transaction><event_type>POSNG_RECEIPT_CLOSE</event_type></transaction>"
STREAM = D1 + b"\r\n" + D2 + D3 + b"\n\n" + D1


def norm(pieces: list[bytes | Bad]) -> list[object]:
    return [p if isinstance(p, bytes) else (p.code, p.raw) for p in pieces]


def run(chunks: list[bytes], limit: int = 4096) -> list[object]:
    s = XmlSplitter(limit)
    out: list[bytes | Bad] = []
    for c in chunks:
        out += s.feed(c)
    return norm(out + list(s.close()))


def test_whole_stream_in_one_chunk() -> None:
    assert run([STREAM]) == [D1, D2, D3, D1]


def test_every_single_split_point() -> None:
    for i in range(len(STREAM) + 1):
        assert run([STREAM[:i], STREAM[i:]]) == [D1, D2, D3, D1], i


def test_every_pair_of_split_points() -> None:
    n = len(STREAM)
    for i in range(0, n + 1, 3):
        for j in range(i, n + 1, 7):
            assert run([STREAM[:i], STREAM[i:j], STREAM[j:]]) == [D1, D2, D3, D1], (i, j)


def test_byte_by_byte() -> None:
    assert run([STREAM[i:i + 1] for i in range(len(STREAM))]) == [D1, D2, D3, D1]


def test_garbage_between_documents_is_one_reject() -> None:
    stream = D1 + b"\x00\xff garbage \x01" + D3
    expected = [D1, ("garbage", b"\x00\xff garbage \x01"), D3]
    for i in range(len(stream) + 1):
        assert run([stream[:i], stream[i:]]) == expected, i


def test_a_document_cut_off_by_the_next_one_resyncs() -> None:
    cut = D1[:60]
    stream = cut + D3 + b'<?xml version="1.0"?><transaction><a>' + D1
    expected = [("truncated", cut), D3, ("truncated", b'<?xml version="1.0"?><transaction><a>'),
                D1]
    for i in range(len(stream) + 1):
        assert run([stream[:i], stream[i:]]) == expected, i


def test_stream_ending_inside_a_document() -> None:
    assert run([D1 + D3[:20]]) == [D1, ("truncated", D3[:20])]
    assert run([D1 + b"  tail"]) == [D1, ("garbage", b"  tail")]
    assert run([D1 + b" \r\n\t"]) == [D1]


def test_oversized_document_is_rejected_and_the_stream_resyncs() -> None:
    big = b"<transaction><text>" + b"x" * 5000 + b"</text></transaction>"
    # in one chunk
    out = run([big + D3], limit=1000)
    assert out[0][0] == "oversized" and out[1:] == [D3]  # type: ignore[index]
    # in pieces: reported once, the rest of it dropped, the next document kept
    out = run([big[i:i + 100] for i in range(0, len(big), 100)] + [D3], limit=1000)
    assert [o[0] if isinstance(o, tuple) else o for o in out] == ["oversized", D3]


def test_endless_document_holds_bounded_memory() -> None:
    s = XmlSplitter(1000)
    out = s.feed(b"<transaction><text>")
    for _ in range(200):
        out += s.feed(b"y" * 1000)
        assert s.pending < 2100
    assert [p.code for p in out if isinstance(p, Bad)] == ["oversized"]
    assert s.feed(D3) == [D3]


def test_endless_garbage_is_one_reject_and_bounded() -> None:
    s = XmlSplitter(1000)
    out: list[bytes | Bad] = []
    for _ in range(100):
        out += s.feed(b"\x00" * 999)
        assert s.pending < 2100
    assert [p.code for p in out if isinstance(p, Bad)] == ["garbage"]
    assert s.feed(D1) == [D1]


def test_raw_bytes_of_rejects_are_capped() -> None:
    s = XmlSplitter(10 * 1024 * 1024)
    out = s.feed(b"\x01" * (200 * 1024) + D3)
    bad = out[0]
    assert isinstance(bad, Bad) and bad.size == 200 * 1024 and len(bad.raw) == 64 * 1024


@pytest.mark.parametrize("doc", [
    b"<transaction/>",  # self-closing: waits for an end that never comes
    b"<transactions>x</transactions>",  # not our root
])
def test_odd_roots_are_not_documents(doc: bytes) -> None:
    out = run([doc])
    assert all(isinstance(o, tuple) for o in out)
