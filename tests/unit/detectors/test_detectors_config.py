"""XML configuration: round trips, the shipped example, and every way a file is refused."""

from __future__ import annotations

import time
from pathlib import Path

import msgspec
import pytest
from lxml import etree

from posguard.detectors.base import IncidentType
from posguard.detectors.config import (
    ConfigError,
    DetectorConfig,
    DetectorSpec,
    config_from_bytes,
    config_to_bytes,
    default_config,
    export_config,
    parse_config,
    validate_config,
    xsd_text,
)
from posguard.detectors.registry import STANDARD_DETECTORS
from posguard.errors import PosguardError

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "detectors.xml"


def custom_config() -> DetectorConfig:
    types = (
        IncidentType(guid="Inc00001", name="Alcohol at night", folder="Law",
                     description="Sold after 23:00 <local> & \"quoted\""),
        IncidentType(guid="Inc00002", name="Ждём кассира", folder="Кассиры"),
    )
    dets = (
        DetectorSpec(guid="Det00001", type="restricted_goods_hours", name="Alcohol",
                     incident_type="Inc00001", terminals=("T1RuoVF7", "ZyPx6vF0"),
                     params={"words": ["ПИВО", "VODKA"], "start": "22:00",
                             "timezone": "Europe/Moscow"}),
        DetectorSpec(guid="Det00002", type="price_override", enabled=False,
                     incident_type="Inc00002",
                     params={"reference_prices": {"A1": 8990, "4600000000001": 100}}),
        DetectorSpec(guid="Det00003", type="cashier_voids", incident_type="Inc00002",
                     params={"max_count": 5, "window_minutes": 30}),
    )
    return DetectorConfig(incident_types=types, detectors=dets)


def wrap(detectors: str, types: str | None = None) -> bytes:
    types = types if types is not None else (
        '<incident_type guid="Inc00001" name="Anything"/>')
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<posguard_detectors version="1">\n'
            f"<incident_types>{types}</incident_types>\n<detectors>\n{detectors}\n"
            f"</detectors>\n</posguard_detectors>\n").encode()


def refused(xml: bytes) -> ConfigError:
    with pytest.raises(ConfigError) as e:
        parse_config(xml)
    assert isinstance(e.value, PosguardError)
    return e.value


# -- round trips -----------------------------------------------------------------------------


@pytest.mark.parametrize("cfg", [default_config(), custom_config()], ids=["default", "custom"])
def test_import_export_import_round_trip(cfg: DetectorConfig) -> None:
    xml = export_config(cfg)
    back = parse_config(xml)
    assert back == validate_config(cfg)
    assert export_config(back) == xml
    assert parse_config(export_config(back)) == back


def test_custom_params_survive_with_defaults_filled_in() -> None:
    back = parse_config(export_config(custom_config()))
    alcohol = back.detectors[0]
    assert alcohol.terminals == ("T1RuoVF7", "ZyPx6vF0")
    assert alcohol.params["words"] == ["ПИВО", "VODKA"]
    assert alcohol.params["end"] == "08:00"  # a default
    assert back.detectors[1].enabled is False
    assert back.detectors[1].params["reference_prices"] == {"A1": 8990, "4600000000001": 100}
    assert back.incident_types[0].description == 'Sold after 23:00 <local> & "quoted"'


def test_json_bytes_for_the_detectors_topic_round_trip() -> None:
    for cfg in (default_config(), validate_config(custom_config())):
        assert config_from_bytes(config_to_bytes(cfg)) == cfg


@pytest.mark.parametrize("data", [b"", b"{", b'{"detectors": 5}', b"[]"])
def test_json_garbage_is_refused(data: bytes) -> None:
    with pytest.raises(ConfigError):
        config_from_bytes(data)


def test_json_with_a_bad_detector_is_refused() -> None:
    bad = msgspec.structs.replace(custom_config(), detectors=(
        DetectorSpec(guid="short", type="price_override", incident_type="Inc00001"),))
    with pytest.raises(ConfigError, match="8 letters"):
        config_from_bytes(msgspec.json.encode(bad))


def test_examples_file_is_the_default_export() -> None:
    assert EXAMPLE.read_bytes() == export_config(default_config())


def test_xsd_lists_exactly_the_standard_detectors() -> None:
    ns = {"xs": "http://www.w3.org/2001/XMLSchema"}
    doc = etree.fromstring(xsd_text())
    names = doc.xpath("//xs:simpleType[@name='detectorType']//xs:enumeration/@value",
                      namespaces=ns)
    assert names == list(STANDARD_DETECTORS)


def test_default_config_has_an_incident_type_for_each_detector() -> None:
    cfg = default_config()
    assert len(cfg.detectors) == len(STANDARD_DETECTORS) == 13
    assert all(d.enabled for d in cfg.detectors)
    assert {d.incident_type for d in cfg.detectors} == {t.guid for t in cfg.incident_types}


# -- refused: schema, syntax, semantics, each with its line ---------------------------------


def test_schema_violation_reports_line_and_reason() -> None:
    xml = wrap('<detector guid="Det00001" type="large_discount" incident_type="Inc00001"/>\n'
               '<detector guid="bad!" type="large_discount" incident_type="Inc00001"/>')
    e = refused(xml)
    assert e.line == 6
    assert "schema" in e.reason and "guid" in e.reason
    assert str(e).startswith("line 6: ")


@pytest.mark.parametrize(("detectors", "line", "words"), [
    ('<detector guid="Det00001" type="nope" incident_type="Inc00001"/>', 5, "type"),
    ('<detector guid="Det00001" type="large_discount"/>', 5, "incident_type"),
    ('<detector guid="Det00001" type="large_discount" incident_type="Inc00009"/>', 5,
     "Inc00009"),
    ('<detector guid="Det00001" type="large_discount" incident_type="Inc00001"/>\n'
     '<detector guid="Det00001" type="large_discount" incident_type="Inc00001"/>', 6,
     "Det00001"),
    ('<detector guid="Det00001" type="large_discount" incident_type="Inc00001">\n'
     '<param name="max_percent" value="1"/>\n<param name="max_percent" value="2"/>\n'
     "</detector>", 7, "max_percent"),
    ('<detector guid="Det00001" type="large_discount" incident_type="Inc00001" '
     'enabled="maybe"/>', 5, "enabled"),
    ("<surprise/>", 5, "surprise"),
])
def test_schema_refusals(detectors: str, line: int, words: str) -> None:
    e = refused(wrap(detectors))
    assert e.line == line, e
    assert words in e.reason


@pytest.mark.parametrize(("param", "words"), [
    ('<param name="max_percentage" value="3"/>', "unknown parameter 'max_percentage'"),
    ('<param name="max_percent" value="many"/>', "max_percent"),
    ('<param name="max_percent" value="-5"/>', "must not be negative"),
    ('<param name="max_percent"><item>3</item></param>', "needs value="),
])
def test_bad_parameters_report_the_param_line(param: str, words: str) -> None:
    xml = wrap('<detector guid="Det00001" type="large_discount" incident_type="Inc00001">\n'
               f"  {param}\n</detector>")
    e = refused(xml)
    assert e.line == 6, e
    assert words in e.reason


@pytest.mark.parametrize(("type_name", "param", "words"), [
    ("restricted_goods_hours", '<param name="words" value="BEER"/>', "is a list"),
    ("restricted_goods_hours", '<param name="start" value="25:00"/>', "HH:MM"),
    ("restricted_goods_hours", '<param name="timezone" value="Mars/Base"/>', "Mars/Base"),
    ("price_override", '<param name="reference_prices"><item>1</item></param>', "map"),
    ("price_override",
     '<param name="reference_prices"><entry key="A1" value="cheap"/></param>',
     "reference_prices"),
    ("events_filter", '<param name="events"><item>POS_NOPE</item></param>', "POS_NOPE"),
    ("events_filter", '<param name="mode" value="sometimes"/>', "mode"),
])
def test_bad_typed_parameters(type_name: str, param: str, words: str) -> None:
    xml = wrap(f'<detector guid="Det00001" type="{type_name}" incident_type="Inc00001">\n'
               f"  {param}\n</detector>")
    e = refused(xml)
    assert e.line == 6, e
    assert words in e.reason


def test_syntax_error_reports_its_line() -> None:
    xml = wrap('<detector guid="Det00001" type="large_discount" incident_type="Inc00001">\n'
               '<param name="max_percent" value="3">\n</detector>')
    e = refused(xml)
    assert "well-formed" in e.reason
    assert e.line in (6, 7)


@pytest.mark.parametrize("xml", [b"", b"not xml at all", b"<posguard_detectors>",
                                 b"\x00\x01\x02"])
def test_garbage_is_refused(xml: bytes) -> None:
    refused(xml)


def test_wrong_root_or_version_is_refused() -> None:
    refused(b"<detectors/>")
    refused(wrap("").replace(b'version="1"', b'version="2"'))


def test_non_bytes_and_oversized_input_refused() -> None:
    with pytest.raises(ConfigError):
        parse_config(12)  # type: ignore[arg-type]
    big = wrap("<!-- " + "x" * (9 * 1024 * 1024) + " -->")
    assert "larger" in refused(big).reason


def test_a_str_document_is_accepted() -> None:
    xml = export_config(default_config()).decode()
    assert parse_config(xml) == default_config()  # type: ignore[arg-type]


# -- refused: hostile XML --------------------------------------------------------------------

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE posguard_detectors [
  <!ENTITY xxe SYSTEM "file:///etc/passwd">
]>
<posguard_detectors version="1">
  <incident_types><incident_type guid="Inc00001" name="&xxe;"/></incident_types>
  <detectors/>
</posguard_detectors>
"""

LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<posguard_detectors version="1">
  <incident_types><incident_type guid="Inc00001" name="&lol9;"/></incident_types>
  <detectors/>
</posguard_detectors>
"""


def test_xxe_file_entity_is_refused_without_reading_the_file() -> None:
    e = refused(XXE)
    assert e.line == 2 and "DOCTYPE" in e.reason
    assert "root:" not in str(e)


def test_billion_laughs_is_refused_quickly() -> None:
    t0 = time.perf_counter()
    e = refused(LAUGHS)
    assert time.perf_counter() - t0 < 1.0
    assert e.line == 2


@pytest.mark.parametrize("xml", [
    b'<!DOCTYPE posguard_detectors SYSTEM "http://example.invalid/x.dtd">'
    b"<posguard_detectors/>",
    b"<!doctype posguard_detectors><posguard_detectors/>",
    b'<?xml version="1.0"?>\n<!DOCTYPE posguard_detectors>\n<posguard_detectors/>',
])
def test_any_doctype_is_refused(xml: bytes) -> None:
    assert "DOCTYPE" in refused(xml).reason


def test_doctype_hidden_in_utf16_is_refused() -> None:
    xml = XXE.decode().replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="utf-16"?>')
    e = refused(xml.encode("utf-16"))
    assert "DOCTYPE" in e.reason
    assert "root:" not in str(e)


def test_a_refused_file_leaves_nothing_half_applied() -> None:
    # parse_config returns a whole configuration or raises: the caller keeps its old one.
    good = parse_config(export_config(default_config()))
    bad = export_config(default_config()).replace(b'value="30"', b'value="thirty"', 1)
    with pytest.raises(ConfigError):
        parse_config(bad)
    assert good == default_config()
