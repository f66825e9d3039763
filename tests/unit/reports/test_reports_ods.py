"""The ODS writer: typed cells, widths, frozen headers, charts, names, round trip via odfpy."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from lxml import etree

from posguard.reports.document import Chart, Column, Kind, Label, ReportDoc, Section
from posguard.reports.ods import MEDIA_TYPE, money_text, read_ods, sheet_names, write_ods

T0 = 1_796_000_000_000_000  # 2026-11-30 00:53:20 UTC
NS = {"table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
      "style": "urn:oasis:names:tc:opendocument:xmlns:style:1.0",
      "config": "urn:oasis:names:tc:opendocument:xmlns:config:1.0",
      "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
      "chart": "urn:oasis:names:tc:opendocument:xmlns:chart:1.0",
      "draw": "urn:oasis:names:tc:opendocument:xmlns:drawing:1.0",
      "xlink": "http://www.w3.org/1999/xlink"}
_SAFE = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)

COLUMNS = [Column("Day", Kind.DATE), Column("When", Kind.DATETIME), Column("Who"),
           Column("Count", Kind.INT), Column("Amount", Kind.MONEY),
           Column("Rate", Kind.PERCENT), Column("Seconds", Kind.NUMBER)]
HOSTILE = "O'Brien <b>&amp;\x00\x1f \"quoted\" Молоко"


def doc(sections: list[Section], tz: str = "Europe/Moscow") -> ReportDoc:
    return ReportDoc(title="Test report", report_type="TEST", t0_us=T0,
                     t1_us=T0 + 86_400_000_000, generated_at=datetime(2026, 12, 3, 12, tzinfo=UTC),
                     tz=tz, store="S1", sections=sections)


def section(**kw: object) -> Section:
    rows = [
        (date(2026, 11, 30), T0 + 123_456, HOSTILE, 3, 12_345, 0.25, 1.5),
        (date(2026, 12, 1), T0, "short", 0, -5, None, None),
    ]
    base: dict[str, object] = {"name": "By day", "columns": COLUMNS, "rows": rows,
                               "totals": (Label("Total"), None, None, 3, 12_340, 0.125, 3.0)}
    base.update(kw)
    return Section(**base)  # type: ignore[arg-type]


def content(data: bytes, part: str = "content.xml") -> etree._Element:
    return etree.fromstring(zipfile.ZipFile(io.BytesIO(data)).read(part), _SAFE)


def test_round_trip_typed_values() -> None:
    data = write_ods(doc([section()]))
    sheets = read_ods(data)
    assert list(sheets) == ["Report", "By day"]
    rows = sheets["By day"]
    assert rows[0] == ["Test report: By day"]
    assert rows[3] == [c.title for c in COLUMNS]
    # Moscow is UTC+3: 00:53:20.123456 UTC is 03:53:20.123456
    assert rows[4] == [date(2026, 11, 30), datetime(2026, 11, 30, 3, 53, 20, 123456),
                       "O'Brien <b>&amp;\ufffd\ufffd \"quoted\" Молоко", 3, Decimal("123.45"),
                       0.25, 1.5]
    assert rows[5] == [date(2026, 12, 1), datetime(2026, 11, 30, 3, 53, 20), "short", 0,
                       Decimal("-0.05")]
    assert rows[6] == ["Total", None, None, 3, Decimal("123.40"), 0.125, 3.0]


def test_cells_are_typed_with_formats() -> None:
    data = write_ods(doc([section()]))
    root = content(data)
    cells = root.findall(".//table:table[@table:name='By day']/table:table-row[5]/table:table-cell",
                         NS)
    attrs = [(c.get(f"{{{NS['office']}}}value-type"), c.get(f"{{{NS['table']}}}style-name"))
             for c in cells]
    assert attrs == [("date", "ce_body_date"), ("date", "ce_body_datetime"),
                     ("string", "ce_body_text"), ("float", "ce_body_int"),
                     ("currency", "ce_body_money"), ("percentage", "ce_body_percent"),
                     ("float", "ce_body_number")]
    assert cells[4].get(f"{{{NS['office']}}}currency") == "RUB"
    # each cell style names its data style, and each data style exists with 2 decimals
    styles = {s.get(f"{{{NS['style']}}}name"): s for s in root.iter(f"{{{NS['style']}}}style")}
    assert styles["ce_body_money"].get(f"{{{NS['style']}}}data-style-name") == "N_money"
    text = zipfile.ZipFile(io.BytesIO(data)).read("content.xml").decode()
    assert re.search(r'<number:currency-style style:name="N_money"[^>]*>'
                     r'<number:number number:decimal-places="2"', text)
    assert re.search(r'<number:percentage-style style:name="N_pct"', text)
    assert 'style:name="ce_total_money"' in text and 'fo:font-weight="bold"' in text


def test_column_widths_fit_content() -> None:
    wide = section(rows=[(date(2026, 11, 30), T0, "x" * 40, 1, 1, 0.1, 1.0)], totals=None)
    root = content(write_ods(doc([wide])))
    cols = root.findall(".//table:table[@table:name='By day']/table:table-column", NS)
    styles = {s.get(f"{{{NS['style']}}}name"): s for s in root.iter(f"{{{NS['style']}}}style")}

    def width(col: etree._Element) -> float:
        st = styles[col.get(f"{{{NS['table']}}}style-name")]
        props = st.find("style:table-column-properties", NS)
        assert props is not None
        return float(props.get(f"{{{NS['style']}}}column-width").removesuffix("cm"))

    widths = [width(c) for c in cols]
    assert len(widths) == len(COLUMNS)
    assert widths[2] > 8 > widths[3]  # the 40-character text column is wide, counts narrow
    assert all(1.5 <= w <= 12 for w in widths)


def test_header_is_frozen_on_every_section_sheet() -> None:
    data = write_ods(doc([section(), section(name="Second", chart=None)]))
    settings = content(data, "settings.xml")
    tables = settings.find(".//config:config-item-map-named[@config:name='Tables']", NS)
    assert tables is not None
    frozen = {}
    for entry in tables:
        items = {i.get(f"{{{NS['config']}}}name"): i.text for i in entry}
        frozen[entry.get(f"{{{NS['config']}}}name")] = (items["VerticalSplitMode"],
                                                        items["VerticalSplitPosition"])
    assert frozen["By day"] == ("2", "4") and frozen["Second"] == ("2", "4")


def test_chart_sheet_and_object() -> None:
    data = write_ods(doc([section(chart=Chart("Per day", 0, (3, 4)))]))
    z = zipfile.ZipFile(io.BytesIO(data))
    assert z.read("mimetype") == MEDIA_TYPE.encode()
    assert "Object 1/content.xml" in z.namelist()
    manifest = z.read("META-INF/manifest.xml").decode()
    assert 'manifest:full-path="Object 1/"' in manifest
    chart = content(data, "Object 1/content.xml")
    series = chart.findall(".//chart:series", NS)
    assert [s.get(f"{{{NS['chart']}}}values-cell-range-address") for s in series] == [
        "'Chart By day'.$B$5:.$B$6", "'Chart By day'.$C$5:.$C$6"]
    frame_obj = content(data).find(".//draw:frame/draw:object", NS)
    assert frame_obj is not None and frame_obj.get(f"{{{NS['xlink']}}}href") == "./Object 1"
    rows = read_ods(data)["Chart By day"]
    assert rows[3] == ["Day", "Count", "Amount"]
    assert rows[4] == [date(2026, 11, 30), 3, Decimal("123.45")]


def test_no_chart_without_rows_and_empty_doc() -> None:
    data = write_ods(doc([section(rows=[], chart=Chart("Per day", 0, (3,)))]))
    assert list(read_ods(data)) == ["Report", "By day"]
    sheets = read_ods(write_ods(doc([])))
    assert list(sheets) == ["Report"]
    assert sheets["Report"][0] == ["Test report"]


def test_sheet_names_valid_and_unique() -> None:
    d = doc([section(name="a/b:c*?[x]"), section(name="A/B:C*?[X]"), section(name="Report"),
             section(name="x" * 60), section(name="x" * 60)])
    names = sheet_names(d)
    assert names[0] == "a_b_c___x_"
    assert len({n.lower() for n in names} | {"report"}) == len(names) + 1
    assert all(len(n) <= 31 and not re.search(r"[\[\]*?:/\\']", n) for n in names)
    assert list(read_ods(write_ods(d)))[1:6] == names


def test_title_block() -> None:
    rows = read_ods(write_ods(doc([section()])))["Report"]
    block = {r[0]: r[1] for r in rows[2:8]}
    assert block == {"Report type": "TEST", "Period from": datetime(2026, 11, 30, 3, 53, 20),
                     "Period to (exclusive)": datetime(2026, 12, 1, 3, 53, 20),
                     "Timezone": "Europe/Moscow", "Store": "S1",
                     "Generated at": datetime(2026, 12, 3, 15, 0)}
    assert rows[10] == ["By day", 2]


def test_title_block_timezone_note_follows_the_timezone() -> None:
    d = doc([section()])
    d.tz_note = "the timezone of store S1's terminals"
    rows = read_ods(write_ods(d))["Report"]
    assert rows[5:7] == [["Timezone", "Europe/Moscow"],
                         ["Timezone note", "the timezone of store S1's terminals"]]
    assert rows[7] == ["Store", "S1"]


@pytest.mark.parametrize(("kopecks", "text"), [
    (0, "0.00"), (5, "0.05"), (-5, "-0.05"), (12_345, "123.45"), (10**15, "10000000000000.00"),
    (1234.5, "12.35"), (1234.4999, "12.34"), (0.5, "0.01")])
def test_money_text(kopecks: float, text: str) -> None:
    assert money_text(kopecks) == text


def test_read_ods_refuses_garbage() -> None:
    from posguard.reports.errors import ReportWriteError

    with pytest.raises(ReportWriteError):
        read_ods(b"not a zip")
