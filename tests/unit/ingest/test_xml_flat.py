"""The flat fast path of DSSL XML never changes an answer: for any document, parse_document
(fast path first) gives exactly what the general path (fields via flat regex or lxml, then
conversion) gives. Hostile shapes aimed at the fast path's cut-at-'<'-and-'>' reading, and
mutations of real documents."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ingest_helpers import MOSCOW

from posguard.ingest import dssl_xml, xml_flat
from posguard.ingest.encoders import to_dssl_xml
from posguard.ingest.registry import Terminal
from posguard.ingest.rejects import Rejected
from posguard.ingest.simulator import ChainSimulator
from posguard.model.events import PosEvent

TS = 1_700_000_000_000_000
HEAD = '<?xml version="1.0" encoding="utf-8"?>\n<transaction>\n'
TYPE = "<event_type>POSNG_POSITION_ADD</event_type>\n"


def resolve(guid: str, location: str) -> Terminal | None:
    return MOSCOW


def both(doc: bytes) -> tuple[PosEvent | Rejected, PosEvent | Rejected]:
    """(parse_document's answer, the general path's answer) for one document."""
    return (dssl_xml.parse_document(doc, resolve, TS, "e1", "t"),
            dssl_xml._parse_general(doc, resolve, TS, "e1", "t"))


def doc(body: str, head: str = HEAD, tail: str = "</transaction>") -> bytes:
    return (head + body + tail).encode()


# Bodies the fast path must not read its own way: each is either refused by lxml or holds
# '<', '>' or '&' where the cut-at-'<'-and-'>' reading would misplace an element.
HOSTILE = [
    TYPE + "<price<x>/price>\n",                       # '<' inside a start tag
    TYPE + "<price>1>/price>\n>price>2</price>\n",       # '>' in text forging two elements
    TYPE + "<text>a>b</text>\n",                         # '>' in text (valid XML)
    TYPE + "<text>a&gt;b</text>\n",                      # a reference
    TYPE + "<text>a&b</text>\n",                         # a bare '&'
    TYPE + "<text/>\n",                                  # empty-element tag
    TYPE + '<text a="1">x</text>\n',                    # an attribute
    TYPE + "<!-- c --><text>x</text>\n",                 # a comment
    TYPE + "<text><![CDATA[x]]></text>\n",               # CDATA
    TYPE + "<?pi x?><text>x</text>\n",                   # a processing instruction
    TYPE + "<text>x</txet>\n",                           # mismatched end tag
    TYPE + "<text>x\n",                                  # no end tag
    TYPE + "<text><b>1</b></text>\n",                    # nested element
    TYPE + "<text>x</text>junk\n",                       # text between elements
    TYPE + "<text>a\x01b</text>\n",                      # a control character
    TYPE + "<1text>x</1text>\n",                         # not a name
    TYPE + "<text>x</text>\n<>y</>\n",                   # empty names
    TYPE + "<text>x</ text>\n",                          # space before the end tag's name
    TYPE + "<text>x</text\n",                            # end tag never closed
    TYPE + "<text>]]></text>\n",                         # ']]>' in text
    TYPE + "<text>a\rb</text>\n",                        # CR in text (normalised by XML)
    "<event_type>POSNG_POSITION_ADD</event_type>>\n",     # a stray '>'
    "<event_type>POSNG_NOPE</event_type>\n",             # unknown type
    "<event_type> </event_type>\n",                      # blank type
    TYPE + "<price>1,5</price>\n",                       # comma decimals (general rules)
    TYPE + "<price>1.555</price>\n",                     # more decimals than kopecks
    TYPE + "<position>2.000</position>\n",               # whole number with a fraction
    TYPE + "<position>٣</position>\n",                   # a non-ASCII digit
    TYPE + "<date>11/01/2017</date>\n",                  # date without time
    TYPE + "<date>31/02/2017</date><time>10:00:00</time>\n",
]

# Shapes the fast path reads itself (and must read as the general path does).
FLAT = [
    TYPE + "<price>51.99</price>\n<quantity>2</quantity>\n<text> Milk </text>\n",
    TYPE.replace("\n", "\r\n") + "<text>Milk</text>\r\n",       # CR LF between elements
    TYPE + "<text>x</text >\n<price>1</price\t>\n",          # whitespace in end tags
    TYPE + "<text>first</text>\n<text>last</text>\n",        # the last of a repeat counts
    TYPE + "<x-vendor.tag>ignored</x-vendor.tag>\n<OperationId>7</OperationId>\n",
    TYPE + "<date>11/01/2017</date><time>16:40:15</time><weight>0.5</weight>",
    "  " + TYPE + "<cashier>Иванов И</cashier>  \n",
]


@pytest.mark.parametrize("body", HOSTILE)
def test_hostile_bodies_get_the_general_answer(body: str) -> None:
    fast, general = both(doc(body))
    assert fast == general


@pytest.mark.parametrize("body", FLAT)
def test_flat_bodies_are_read_by_the_fast_path_as_the_general_path_reads_them(
        body: str) -> None:
    d = doc(body)
    ev = xml_flat.flat_event(d, resolve, TS, "e1")
    assert ev is not None
    assert ev == dssl_xml._parse_general(d, resolve, TS, "e1", "t")


def test_windows_1251_and_the_transaction_block_root() -> None:
    head = '<?xml version="1.0" encoding="windows-1251"?>\r\n<TransactionBlock>\r\n'
    d = (head + TYPE + "<cashier>Иванов И</cashier>\r\n</TransactionBlock>").encode("cp1251")
    ev = xml_flat.flat_event(d, resolve, TS, "e1")
    assert isinstance(ev, PosEvent) and ev.cashier_name == "Иванов И"
    assert ev == dssl_xml._parse_general(d, resolve, TS, "e1", "t")


def test_forged_elements_in_text_are_refused_like_lxml_refuses_them() -> None:
    fast, _ = both(doc(TYPE + "<price>1>/price>\n>price>2</price>\n"))
    assert isinstance(fast, Rejected) and fast.code == "bad_field"  # not price=200


def test_the_shape_cache_stays_bounded() -> None:
    huge = doc(TYPE + "".join(f"<t{i}>x</t{i}>" for i in range(1000)))
    assert xml_flat.flat_event(huge, resolve, TS, "e") is not None
    assert all(len(k) <= 4096 for k in xml_flat._SHAPES)
    for i in range(1100):
        xml_flat.flat_event(doc(TYPE + f"<t{i}>x</t{i}>\n"), resolve, TS, "e")
    assert len(xml_flat._SHAPES) <= 1024


SIM = [to_dssl_xml(ev, MOSCOW) for ev in
       ChainSimulator(2, 2, seed=3).events(60, TS, 1000)]
MUTATION_BYTES = st.sampled_from([b"<", b">", b"/", b"&", b"\r", b"\x01", b" ", b"a", b"\xd0",
                                  b"<a>", b"</a>", b"]]>", b"<!--", b"\xff"])


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(SIM), st.integers(0, 1000), st.integers(0, 3), MUTATION_BYTES)
def test_mutated_documents_get_the_general_answer(d: bytes, at: int, cut: int,
                                                  insert: bytes) -> None:
    at = at % (len(d) + 1)
    mutated = d[:at] + insert + d[at + cut:]
    fast, general = both(mutated)
    assert fast == general


def test_simulated_documents_take_the_fast_path() -> None:
    for d in SIM:
        assert xml_flat.flat_event(d, resolve, TS, "e1") is not None
