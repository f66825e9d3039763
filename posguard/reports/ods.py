"""The ODS writer and reader: the only odfpy user.

`write_ods(doc)` turns a ReportDoc into an OpenDocument spreadsheet (zip) as bytes:
- a first sheet "Report" with the title block as typed cells (type, period in the report's
  timezone, store, generated at) and the list of sheets;
- one sheet per section: a two-line title, the header row (frozen through settings.xml, so it
  stays on screen when scrolling), the rows with typed cells (counts as numbers, money as
  currency with 2 decimals from kopecks, percents as percentages, days as dates, times as
  date-times in local time), and a bold totals row;
- for a section with a Chart, a chart sheet holding the series and an embedded ODF chart object
  that plots them (cell ranges point at that sheet; the object also carries a cached copy of
  the data as its local table, as office suites write it).

`read_ods(data)` reads any ODS back into typed Python values (tests, checks).

Speed: odfpy checks every attribute of every element it builds (~100 µs a cell here), so the
rows of each sheet are rendered once as the XML odfpy would write and handed to odfpy's
document writer as one element (`_RawRows`); styles, columns, settings, charts and the zip
stay odfpy's.
"""

from __future__ import annotations

import io
import re
import types
import zipfile
from collections.abc import Callable
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from odf import chart as odfchart
from odf import draw
from odf.config import (
    ConfigItem,
    ConfigItemMapEntry,
    ConfigItemMapIndexed,
    ConfigItemMapNamed,
    ConfigItemSet,
)
from odf.element import Element
from odf.namespaces import TABLENS
from odf.number import (
    CurrencyStyle,
    CurrencySymbol,
    DateStyle,
    Day,
    Hours,
    Minutes,
    Month,
    Number,
    NumberStyle,
    PercentageStyle,
    Seconds,
    Year,
)
from odf.number import Text as NumberText
from odf.opendocument import OpenDocument, OpenDocumentChart, OpenDocumentSpreadsheet
from odf.opendocument import load as odf_load
from odf.style import (
    ChartProperties,
    GraphicProperties,
    Style,
    TableCellProperties,
    TableColumnProperties,
    TextProperties,
)
from odf.table import Table, TableCell, TableColumn, TableRow
from odf.text import P

from posguard.model.times import local_datetime
from posguard.reports.document import Chart, Kind, Label, ReportDoc, Section
from posguard.reports.errors import ReportWriteError

__all__ = ["write_ods", "read_ods", "MEDIA_TYPE", "sheet_names", "money_text"]

MEDIA_TYPE = "application/vnd.oasis.opendocument.spreadsheet"
HEADER_ROW = 4  # 1-based row of the header on section sheets: rows above it are frozen too
_SYMBOLS = {"RUB": "₽", "USD": "$", "EUR": "€", "GBP": "£", "KZT": "₸", "UAH": "₴", "BYN": "Br"}
_BAD_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_BAD_SHEET = re.compile(r"[\[\]*?:/\\']")
_CHAR_CM = 0.2  # width of an average character at 10 pt, in cm
_MAX_CM = 12.0
_MIN_CM = 1.6


def _clean(text: str) -> str:
    """Text without characters XML 1.0 cannot carry (terminals send odd bytes)."""
    return _BAD_XML.sub("\ufffd", text)


def money_text(kopecks: int | float) -> str:
    """Kopecks as a decimal string with 2 places, rounded half up: 12345 -> '123.45'.

    Example:
        >>> money_text(-5), money_text(1234.5)
        ('-0.05', '12.35')
    """
    d = Decimal(kopecks) if isinstance(kopecks, int) else Decimal(repr(float(kopecks)))
    return str((d.quantize(Decimal(1), rounding=ROUND_HALF_UP) / 100).quantize(Decimal("0.01")))


def sheet_names(doc: ReportDoc) -> list[str]:
    """The sheet name of each section, made valid (≤ 31 chars, no []*?:/\\') and unique."""
    used = {"report"}
    out = []
    for s in doc.sections:
        base = _BAD_SHEET.sub("_", _clean(s.name)).strip() or "Sheet"
        name, n = base[:31], 2
        while name.lower() in used:
            suffix = f" ({n})"
            name, n = base[: 31 - len(suffix)] + suffix, n + 1
        used.add(name.lower())
        out.append(name)
    return out


class _Styles:
    """Automatic styles of one document: data styles, cell styles, column widths."""

    def __init__(self, doc: OpenDocumentSpreadsheet, currency: str):
        self.doc = doc
        auto = doc.automaticstyles
        self.data: dict[Kind, str] = {}

        def data_style(kind: Kind, el: Any) -> None:
            auto.addElement(el)
            self.data[kind] = el.getAttribute("name")

        n = NumberStyle(name="N_int")
        n.addElement(Number(decimalplaces=0, minintegerdigits=1, grouping="true"))
        data_style(Kind.INT, n)
        n = NumberStyle(name="N_num")
        n.addElement(Number(decimalplaces=2, minintegerdigits=1, grouping="true"))
        data_style(Kind.NUMBER, n)
        c = CurrencyStyle(name="N_money")
        c.addElement(Number(decimalplaces=2, minintegerdigits=1, grouping="true"))
        c.addElement(NumberText(text=" "))
        c.addElement(CurrencySymbol(text=_SYMBOLS.get(currency, currency)))
        data_style(Kind.MONEY, c)
        p = PercentageStyle(name="N_pct")
        p.addElement(Number(decimalplaces=2, minintegerdigits=1))
        p.addElement(NumberText(text="%"))
        data_style(Kind.PERCENT, p)
        d = DateStyle(name="N_date")
        for el in (Year(style="long"), NumberText(text="-"), Month(style="long"),
                   NumberText(text="-"), Day(style="long")):
            d.addElement(el)
        data_style(Kind.DATE, d)
        dt = DateStyle(name="N_datetime")
        for el in (Year(style="long"), NumberText(text="-"), Month(style="long"),
                   NumberText(text="-"), Day(style="long"), NumberText(text=" "),
                   Hours(style="long"), NumberText(text=":"), Minutes(style="long"),
                   NumberText(text=":"), Seconds(style="long")):
            dt.addElement(el)
        data_style(Kind.DATETIME, dt)

        self.cell: dict[tuple[str, Kind], Style] = {}
        for role in ("body", "total"):
            for kind in Kind:
                attrs = {"name": f"ce_{role}_{kind.value}", "family": "table-cell"}
                if kind in self.data:
                    attrs["datastylename"] = self.data[kind]
                st = Style(**attrs)
                if role == "total":
                    st.addElement(TextProperties(fontweight="bold"))
                    st.addElement(TableCellProperties(bordertop="0.74pt solid #000000",
                                                      backgroundcolor="#f2f2f2"))
                auto.addElement(st)
                self.cell[(role, kind)] = st
        self.header = Style(name="ce_header", family="table-cell")
        self.header.addElement(TextProperties(fontweight="bold"))
        self.header.addElement(TableCellProperties(backgroundcolor="#d9d9d9",
                                                   borderbottom="0.74pt solid #000000"))
        auto.addElement(self.header)
        self.title = Style(name="ce_title", family="table-cell")
        self.title.addElement(TextProperties(fontweight="bold", fontsize="14pt"))
        auto.addElement(self.title)
        self.subtitle = Style(name="ce_subtitle", family="table-cell")
        self.subtitle.addElement(TextProperties(fontstyle="italic"))
        auto.addElement(self.subtitle)
        self.label = Style(name="ce_label", family="table-cell")
        self.label.addElement(TextProperties(fontweight="bold"))
        auto.addElement(self.label)
        self._widths: dict[str, Style] = {}

    def column(self, cm: float) -> Style:
        key = f"{cm:.2f}cm"
        st = self._widths.get(key)
        if st is None:
            st = Style(name=f"co{len(self._widths) + 1}", family="table-column")
            st.addElement(TableColumnProperties(columnwidth=key, breakbefore="auto"))
            self.doc.automaticstyles.addElement(st)
            self._widths[key] = st
        return st


class _Cells:
    """Typed cells: value attributes plus the displayed text, in the report's timezone."""

    def __init__(self, styles: _Styles, tz: str, currency: str):
        self.styles = styles
        self.tz = tz
        self.currency = currency
        self.symbol = _SYMBOLS.get(currency, currency)
        self.currency_attr = _esc(currency).replace('"', "&quot;")
        self.names = {k: str(v.getAttribute("name")) for k, v in styles.cell.items()}

    def text_of(self, kind: Kind, value: Any) -> str:
        """The text a cell displays (also what column widths are measured on)."""
        if value is None:
            return ""
        if isinstance(value, Label):
            return _clean(str(value))
        if kind == Kind.INT:
            return f"{int(value):,}".replace(",", " ")
        if kind == Kind.NUMBER:
            return f"{float(value):,.2f}".replace(",", " ")
        if kind == Kind.MONEY:
            return f"{money_text(value)} {self.symbol}"
        if kind == Kind.PERCENT:
            return f"{float(value) * 100:.2f}%"
        if kind == Kind.DATE:
            return _as_date(value).isoformat()
        if kind == Kind.DATETIME:
            return self.local(value).strftime("%Y-%m-%d %H:%M:%S")
        return _clean(str(value))

    def local(self, ts: Any) -> datetime:
        return local_datetime(int(ts), self.tz).replace(tzinfo=None)

    def xml(self, kind: Kind, value: Any, role: str = "body") -> tuple[str, int]:
        """The XML of a typed cell and the length of its shown text."""
        style = self.names[(role, kind)]
        if value is None or value == "":
            return f'<table:table-cell table:style-name="{style}"/>', 0
        text = self.text_of(kind, value)
        if kind == Kind.TEXT or isinstance(value, Label):
            attrs = 'office:value-type="string"'
        elif kind == Kind.INT:
            attrs = f'office:value-type="float" office:value="{int(value)}"'
        elif kind == Kind.NUMBER:
            attrs = f'office:value-type="float" office:value="{float(value)!r}"'
        elif kind == Kind.MONEY:
            attrs = (f'office:value-type="currency" office:currency="{self.currency_attr}" '
                     f'office:value="{money_text(value)}"')
        elif kind == Kind.PERCENT:
            attrs = f'office:value-type="percentage" office:value="{float(value)!r}"'
        elif kind == Kind.DATE:
            attrs = f'office:value-type="date" office:date-value="{_as_date(value).isoformat()}"'
        else:
            # The value keeps the microseconds; the shown text stops at seconds.
            attrs = ('office:value-type="date" office:date-value="'
                     + self.local(value).isoformat() + '"')
        return (f'<table:table-cell table:style-name="{style}" {attrs}>'
                f"<text:p>{_esc(text)}</text:p></table:table-cell>"), len(text)


class _RawRows(Element):  # type: ignore[misc]  # odfpy has no type hints
    """A run of table rows whose XML is rendered up front, in an odfpy tree.

    odfpy checks and converts every attribute of every element it builds (about 100 µs a cell
    on this machine), so a sheet of tens of thousands of cells would take seconds. The rows of
    a section are rendered once as the same XML odfpy would write and handed to odfpy's
    document writer as one element; `_Spreadsheet` keeps the automatic styles they use.
    """

    qname = (TABLENS, "table-row")
    tagName = "table:table-row"
    allowed_children = None

    def __init__(self, parts: list[str]):  # odfpy's per-attribute checks skipped on purpose
        self.ownerDocument = None
        self.childNodes: list[Any] = []
        self.attributes: dict[tuple[str, str], str] = {}
        self._parts = parts

    def getAttrNS(self, namespace: str, localpart: str) -> Any:  # noqa: N802 (odfpy's name)
        return None

    def toXml(self, level: int, f: Any) -> None:  # noqa: N802 (odfpy's name)
        f.write("".join(self._parts))


def _all_auto_styles(self: Any, segments: list[Any]) -> list[Any]:
    """odfpy's `_used_auto_styles`, for a document whose automatic styles are all made for use:
    every one goes into content.xml (scanning each cell for its style costs more than writing
    it); styles.xml keeps odfpy's own choice."""
    if any(seg is self.body for seg in segments):
        return [e for e in self.automaticstyles.childNodes if isinstance(e, Element)]
    return list(_ORIGINAL_USED(self, segments))


_ORIGINAL_USED = OpenDocument._used_auto_styles


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _text_cell(text: str, style: Style | None = None) -> TableCell:
    cell = TableCell(valuetype="string", stylename=style) if style else TableCell(
        valuetype="string")
    cell.addElement(P(text=_clean(text)))
    return cell


def _width(longest: int) -> float:
    """Column width (cm) that fits `longest` characters."""
    return min(_MAX_CM, max(_MIN_CM, 0.35 + longest * _CHAR_CM))


def _row_xml(cells: list[str]) -> str:
    # A row holds at least one cell (ODF schema).
    return "<table:table-row>" + ("".join(cells) or "<table:table-cell/>") + "</table:table-row>"


def _text_xml(text: str, style: str = "") -> str:
    st = f' table:style-name="{style}"' if style else ""
    return (f'<table:table-cell{st} office:value-type="string">'
            f"<text:p>{_esc(_clean(text))}</text:p></table:table-cell>")


def _period_text(doc: ReportDoc) -> str:
    fmt = "%Y-%m-%d %H:%M"
    a = local_datetime(doc.t0_us, doc.tz).strftime(fmt)
    b = local_datetime(doc.t1_us, doc.tz).strftime(fmt)
    gen = doc.generated_at.astimezone(local_datetime(doc.t0_us, doc.tz).tzinfo).strftime(fmt)
    where = f"store {doc.store}" if doc.store else "all stores"
    return f"{a} – {b} ({doc.tz}), {where}; generated {gen}"


def _section_sheet(doc: ReportDoc, section: Section, name: str, styles: _Styles,
                   cells: _Cells, extra: str = "") -> Table:
    """A section's sheet: title lines, header on row HEADER_ROW, rows, totals.
    `extra` is XML appended to the header row (the chart's anchor cell)."""
    longest = [len(c.title) for c in section.columns]
    parts = [
        _row_xml([_text_xml(f"{doc.title}: {section.name}", "ce_title")]),
        _row_xml([_text_xml(_period_text(doc), "ce_subtitle")]),
        _row_xml([_text_xml(section.note, "ce_subtitle")] if section.note else []),
        _row_xml([_text_xml(c.title, "ce_header") for c in section.columns] + [extra]),
    ]
    kinds = [c.kind for c in section.columns]
    make = cells.xml
    rows: list[tuple[str, tuple[Any, ...]]] = [("body", r) for r in section.rows]
    if section.totals is not None:
        rows.append(("total", section.totals))
    for role, row in rows:
        out = []
        for i, (kind, v) in enumerate(zip(kinds, row, strict=True)):
            x, n = make(kind, v, role)
            out.append(x)
            if n > longest[i]:
                longest[i] = n
        parts.append(_row_xml(out))
    t = Table(name=name)
    for n in longest:
        t.addElement(TableColumn(stylename=styles.column(_width(n))))
    t.addElement(_RawRows(parts))
    return t


def _title_sheet(doc: ReportDoc, names: list[str], styles: _Styles, cells: _Cells) -> Table:
    """The first sheet: the title block as typed cells and the list of sheets."""
    gen_us = int(doc.generated_at.timestamp() * 1_000_000)
    block: list[tuple[str, Kind, Any]] = [
        ("Report type", Kind.TEXT, doc.report_type),
        ("Period from", Kind.DATETIME, doc.t0_us),
        ("Period to (exclusive)", Kind.DATETIME, doc.t1_us),
        ("Timezone", Kind.TEXT, doc.tz),
        *([("Timezone note", Kind.TEXT, doc.tz_note)] if doc.tz_note else []),
        ("Store", Kind.TEXT, doc.store or "all stores"),
        ("Generated at", Kind.DATETIME, gen_us),
    ]
    parts = [_row_xml([_text_xml(doc.title, "ce_title")]), _row_xml([])]
    parts += [_row_xml([_text_xml(label, "ce_label"), cells.xml(kind, value)[0]])
              for label, kind, value in block]
    parts.append(_row_xml([]))
    parts.append(_row_xml([_text_xml(h, "ce_header") for h in ("Sheet", "Rows", "Note")]))
    for name, s in zip(names, doc.sections, strict=True):
        parts.append(_row_xml([_text_xml(name), cells.xml(Kind.INT, len(s.rows))[0],
                               _text_xml(s.note) if s.note else ""]))
    t = Table(name="Report")
    for w in (5.5, 6.0, 9.0):
        t.addElement(TableColumn(stylename=styles.column(w)))
    t.addElement(_RawRows(parts))
    return t


def _range(sheet: str, col: int, row0: int, row1: int) -> str:
    """An ODF cell range like 'Chart A'.$B$5:.$B$9 (columns 0-based, rows 1-based)."""
    quoted = "'" + sheet.replace("'", "''") + "'"
    letter = _col_letter(col)
    return f"{quoted}.${letter}${row0}:.${letter}${row1}"


def _col_letter(col: int) -> str:
    s = ""
    col += 1
    while col:
        col, rem = divmod(col - 1, 26)
        s = chr(65 + rem) + s
    return s


def _chart_object(title: str, sheet: str, section: Section, spec: Chart,
                  cells: _Cells) -> OpenDocumentChart:
    """An ODF chart document plotting the series that the chart sheet holds in columns
    A (categories), B.. (one per series), header on row HEADER_ROW."""
    n = len(section.rows)
    first, last = HEADER_ROW + 1, HEADER_ROW + max(n, 1)
    cd = OpenDocumentChart()
    st_chart = Style(name="ch1", family="chart")
    st_chart.addElement(GraphicProperties(stroke="none", fillcolor="#ffffff"))
    cd.automaticstyles.addElement(st_chart)
    st_axis = Style(name="ch2", family="chart")
    st_axis.addElement(ChartProperties(displaylabel="true"))
    cd.automaticstyles.addElement(st_axis)
    ch = odfchart.Chart(width="20cm", height="10cm", stylename=st_chart,
                        attributes={"class": f"chart:{spec.kind}"})
    cd.chart.addElement(ch)
    ct = odfchart.Title()
    ct.addElement(P(text=_clean(title)))
    ch.addElement(ct)
    ch.addElement(odfchart.Legend(legendposition="end"))
    ncols = 1 + len(spec.series)
    plot = odfchart.PlotArea(
        datasourcehaslabels="both",
        cellrangeaddress=f"'{sheet}'.$A${HEADER_ROW}:.${_col_letter(ncols - 1)}${last}")
    ch.addElement(plot)
    x = odfchart.Axis(dimension="x", name="primary-x", stylename=st_axis)
    x.addElement(odfchart.Categories(cellrangeaddress=_range(sheet, 0, first, last)))
    plot.addElement(x)
    y = odfchart.Axis(dimension="y", name="primary-y", stylename=st_axis)
    y.addElement(odfchart.Grid(attributes={"class": "major"}))
    plot.addElement(y)
    for j in range(len(spec.series)):
        s = odfchart.Series(valuescellrangeaddress=_range(sheet, j + 1, first, last),
                            labelcelladdress=f"'{sheet}'.${_col_letter(j + 1)}${HEADER_ROW}",
                            attributes={"class": f"chart:{spec.kind}"})
        s.addElement(odfchart.DataPoint(repeated=max(n, 1)))
        plot.addElement(s)
    # The cached copy of the data, as office suites store it in the chart object.
    local = Table(name="local-table")
    from odf.table import TableHeaderColumns, TableHeaderRows, TableRows

    hc = TableHeaderColumns()
    hc.addElement(TableColumn())
    local.addElement(hc)
    local.addElement(TableColumn(numbercolumnsrepeated=len(spec.series)))
    hr = TableHeaderRows()
    r = TableRow()
    r.addElement(TableCell())
    for j in spec.series:
        r.addElement(_text_cell(section.columns[j].title))
    hr.addElement(r)
    local.addElement(hr)
    rows = TableRows()
    for row in section.rows:
        r = TableRow()
        r.addElement(_text_cell(cells.text_of(section.columns[spec.category].kind,
                                              row[spec.category])))
        for j in spec.series:
            v = row[j]
            num = 0.0 if v is None else (float(v) / 100 if section.columns[j].kind == Kind.MONEY
                                         else float(v))
            c = TableCell(valuetype="float", value=repr(num))
            c.addElement(P(text=repr(num)))
            r.addElement(c)
        rows.addElement(r)
    local.addElement(rows)
    ch.addElement(local)
    return cd


def _chart_sheet(doc: ReportDoc, ods: OpenDocumentSpreadsheet, section: Section, name: str,
                 styles: _Styles, cells: _Cells) -> Table:
    spec = section.chart
    assert spec is not None
    data = Section(name=name, columns=[section.columns[spec.category],
                                       *(section.columns[j] for j in spec.series)],
                   rows=[(r[spec.category], *(r[j] for j in spec.series)) for r in section.rows],
                   note=f"Chart: {spec.title} (data of sheet '{section.name}')")
    local_spec = Chart(title=spec.title, category=0,
                       series=tuple(range(1, len(spec.series) + 1)), kind=spec.kind)
    obj = _chart_object(spec.title, name, data, local_spec, cells)
    href = ods.addObject(obj)
    frame = draw.Frame(width="20cm", height="10cm", x="0.3cm", y="0.3cm", zindex=0,
                       name=f"Chart {_clean(spec.title)[:40]}")
    frame.addElement(draw.Object(href="./" + href.lstrip("./"), type="simple", show="embed",
                                actuate="onLoad"))
    buf = io.StringIO()
    frame.toXml(1, buf)
    # The chart is anchored to the cell right of the header, beside the data it plots.
    anchor = f"<table:table-cell>{buf.getvalue()}</table:table-cell>"
    return _section_sheet(doc, data, name, styles, cells, extra=anchor)


def _settings(ods: OpenDocumentSpreadsheet, frozen: dict[str, int]) -> None:
    """Freeze the first `rows` rows of each named sheet (view settings of settings.xml)."""
    def item(name: str, typ: str, value: Any) -> ConfigItem:
        ci = ConfigItem(name=name, type=typ)
        ci.addText(str(value))
        return ci

    view = ConfigItemSet(name="ooo:view-settings")
    views = ConfigItemMapIndexed(name="Views")
    entry = ConfigItemMapEntry()
    entry.addElement(item("ViewId", "string", "view1"))
    tables = ConfigItemMapNamed(name="Tables")
    for sheet, rows in frozen.items():
        e = ConfigItemMapEntry(name=sheet)
        for name, typ, value in (
            ("HorizontalSplitMode", "short", 0), ("VerticalSplitMode", "short", 2),
            ("HorizontalSplitPosition", "int", 0), ("VerticalSplitPosition", "int", rows),
            ("ActiveSplitRange", "short", 2), ("PositionLeft", "int", 0),
            ("PositionRight", "int", 0), ("PositionTop", "int", 0),
            ("PositionBottom", "int", rows), ("CursorPositionX", "int", 0),
            ("CursorPositionY", "int", rows),
        ):
            e.addElement(item(name, typ, value))
        tables.addElement(e)
    entry.addElement(tables)
    entry.addElement(item("ActiveTable", "string", "Report"))
    views.addElement(entry)
    view.addElement(views)
    ods.settings.addElement(view)


def write_ods(doc: ReportDoc, progress: Callable[[str], None] | None = None) -> bytes:
    """The report as an ODS file (zip bytes).

    Args:
        doc: the report.
        progress: called with a sheet name as each sheet is written.

    Raises:
        ReportWriteError: odfpy could not build or serialise the document.
    """
    try:
        ods = OpenDocumentSpreadsheet()
        ods._used_auto_styles = types.MethodType(_all_auto_styles, ods)  # see _RawRows
        styles = _Styles(ods, doc.currency)
        cells = _Cells(styles, doc.tz, doc.currency)
        names = sheet_names(doc)
        ods.spreadsheet.addElement(_title_sheet(doc, names, styles, cells))
        frozen: dict[str, int] = {}
        chart_sheets: list[tuple[Section, str]] = []
        used = {n.lower() for n in names} | {"report"}
        for section, name in zip(doc.sections, names, strict=True):
            if progress:
                progress(name)
            ods.spreadsheet.addElement(_section_sheet(doc, section, name, styles, cells))
            frozen[name] = HEADER_ROW
            if section.chart is not None and section.rows:
                cname = ("Chart " + name)[:31]
                while cname.lower() in used:
                    cname = cname[:29] + f"~{len(used) % 10}"
                used.add(cname.lower())
                chart_sheets.append((section, cname))
        for section, cname in chart_sheets:
            ods.spreadsheet.addElement(_chart_sheet(doc, ods, section, cname, styles, cells))
            frozen[cname] = HEADER_ROW
        _settings(ods, frozen)
        buf = io.BytesIO()
        ods.save(buf)
        return buf.getvalue()
    except (ValueError, AttributeError, TypeError) as e:
        raise ReportWriteError(f"cannot write the ODS document: {e}") from e


def _cell_value(cell: Any) -> Any:
    vt = cell.getAttribute("valuetype")
    if vt in ("float",):
        raw = cell.getAttribute("value")
        try:
            return int(raw)
        except ValueError:
            return float(raw)
    if vt == "currency":
        return Decimal(cell.getAttribute("value"))
    if vt == "percentage":
        return float(cell.getAttribute("value"))
    if vt == "date":
        raw = cell.getAttribute("datevalue")
        return datetime.fromisoformat(raw) if "T" in raw else date.fromisoformat(raw)
    if vt == "boolean":
        return cell.getAttribute("booleanvalue") == "true"
    texts = ["".join(_text(n) for n in p.childNodes) for p in cell.getElementsByType(P)]
    return "\n".join(texts) if texts else None


def _text(node: Any) -> str:
    if node.nodeType == node.TEXT_NODE:
        return str(node.data)
    if getattr(node, "qname", (None, ""))[1] == "s":
        return " " * int(node.getAttribute("c") or 1)
    return "".join(_text(c) for c in node.childNodes)


def read_ods(data: bytes) -> dict[str, list[list[Any]]]:
    """Every sheet of an ODS file as rows of typed values (int/float for numbers, Decimal for
    currency, float fractions for percentages, date/datetime, str, None for empty cells).
    Trailing empty cells of a row are dropped; repeated cells and rows are expanded (up to a
    sane limit, since office suites write a million repeated empty rows).

    Raises:
        ReportWriteError: the bytes are not an ODS document odfpy can open.
    """
    try:
        doc = odf_load(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as e:
        raise ReportWriteError(f"not a readable ODS document: {e}") from e
    out: dict[str, list[list[Any]]] = {}
    for sheet in doc.spreadsheet.getElementsByType(Table):
        rows: list[list[Any]] = []
        for tr in sheet.getElementsByType(TableRow):
            if tr.parentNode is not sheet and tr.parentNode.parentNode is not sheet:
                continue  # rows of a nested table (none here)
            vals: list[Any] = []
            for cell in tr.childNodes:
                if cell.qname[1] not in ("table-cell", "covered-table-cell"):
                    continue
                rep = int(cell.getAttribute("numbercolumnsrepeated") or 1)
                v = _cell_value(cell)
                vals.extend([v] * min(rep, 1024))
            while vals and vals[-1] is None:
                vals.pop()
            rep = int(tr.getAttribute("numberrowsrepeated") or 1)
            rows.extend([list(vals) for _ in range(min(rep, 1) if not vals else min(rep, 1024))])
        while rows and not rows[-1]:
            rows.pop()
        out[str(sheet.getAttribute("name"))] = rows
    return out
