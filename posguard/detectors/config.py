"""The detector configuration in XML: parse (validated against the XSD), export, defaults.

    <posguard_detectors version="1">
      <incident_types>
        <incident_type guid="PGI00002" name="Position deleted without an administrator"
                       folder="Standard" description="..."/>
      </incident_types>
      <detectors>
        <detector guid="PGD00002" type="delete_without_admin" name="..." enabled="true"
                  incident_type="PGI00002">
          <terminals><terminal>T1RuoVF7</terminal></terminals>   <!-- none = all -->
          <param name="min_amount" value="0"/>                   <!-- a number/flag/text -->
          <param name="words"><item>BEER</item></param>          <!-- a list -->
          <param name="reference_prices"><entry key="A1" value="8990"/></param>  <!-- a map -->
        </detector>
      </detectors>
    </posguard_detectors>

The schema is `posguard-detectors.xsd` beside this module. Hostile input is refused before
anything is expanded: no DOCTYPE (so no entities, no XXE, no billion laughs), no network, no
DTD loading, no huge trees. Every refusal is a ConfigError carrying the line and the reason.
The values themselves (DetectorConfig, JSON bytes for pos.detectors, defaults) live in
`posguard.detectors.spec` and are re-exported here.
"""

from __future__ import annotations

import codecs
import re
import typing
from functools import cache
from importlib import resources
from typing import Any

import msgspec
from lxml import etree

from posguard.detectors.base import IncidentType
from posguard.detectors.errors import ConfigError
from posguard.detectors.registry import STANDARD_DETECTORS
from posguard.detectors.spec import (
    DetectorConfig,
    DetectorSpec,
    build_detectors,
    config_from_bytes,
    config_to_bytes,
    default_config,
    normalize_params,
    plain_params,
    validate_config,
)

__all__ = [
    "DetectorConfig",
    "DetectorSpec",
    "IncidentType",
    "ConfigError",
    "parse_config",
    "export_config",
    "default_config",
    "config_to_bytes",
    "config_from_bytes",
    "validate_config",
    "build_detectors",
    "xsd_text",
    "MAX_CONFIG_BYTES",
]

MAX_CONFIG_BYTES = 8 * 1024 * 1024
_XSD_NAME = "posguard-detectors.xsd"
_DTD = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


def xsd_text() -> bytes:
    """The XML Schema of the configuration (shipped as package data)."""
    return resources.files("posguard.detectors").joinpath(_XSD_NAME).read_bytes()


@cache
def _schema() -> etree.XMLSchema:
    doc = etree.fromstring(xsd_text(), _parser())
    return etree.XMLSchema(doc)


def _parser() -> etree.XMLParser:
    # A fresh parser per call: lxml parsers keep state and are not for sharing across threads.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_pis=True,
    )


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


_WIDE = (
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
    (b"<\x00\x00\x00", "utf-32-le"), (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00", "utf-16-le"), (b"\x00<", "utf-16-be"),
)


def _as_ascii_view(data: bytes) -> bytes:
    """The document re-encoded so the DOCTYPE scan also sees UTF-16/32 input."""
    for mark, enc in _WIDE:
        if data.startswith(mark):
            try:
                return data.decode(enc).encode("utf-8")
            except UnicodeDecodeError:
                return data
    return data


def _parse_xml(data: bytes) -> etree._Element:
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"configuration is larger than {MAX_CONFIG_BYTES} bytes")
    view = _as_ascii_view(data)
    m = _DTD.search(view)
    if m:
        raise ConfigError(
            f"<!{m.group(1).decode().upper()}> is not allowed (no DTDs or entities)",
            _line_of(view, m.start()),
        )
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as e:
        raise ConfigError(f"not well-formed XML: {e.msg}", e.lineno or None) from None
    except ValueError as e:  # e.g. a str with an encoding declaration
        raise ConfigError(f"not XML: {e}") from None
    doc = root.getroottree().docinfo
    # A DOCTYPE the byte scan missed (UTF-16 input, say) is still refused, before use.
    if doc.doctype or doc.internalDTD is not None or doc.externalDTD is not None:
        raise ConfigError("a DOCTYPE is not allowed (no DTDs or entities)", 1)
    return root


def _validate_schema(root: etree._Element) -> None:
    schema = _schema()
    if not schema.validate(root):
        err = schema.error_log[0]
        raise ConfigError(f"does not match the schema: {err.message}", err.line or None)


def _field_kinds(type_name: str) -> dict[str, str]:
    cls = STANDARD_DETECTORS[type_name]
    kinds = {}
    for f in msgspec.structs.fields(cls.params_type):
        origin = typing.get_origin(f.type)
        kinds[f.name] = (
            "list" if origin in (tuple, list) else "map" if origin is dict else "scalar"
        )
    return kinds


def _param_value(el: etree._Element, kind: str, type_name: str) -> Any:
    name = el.get("name")
    items = el.findall("item")
    entries = el.findall("entry")
    value = el.get("value")
    line = el.sourceline
    if kind == "scalar":
        if value is None or items or entries:
            raise ConfigError(f"{type_name}: parameter {name!r} needs value=\"...\"", line)
        return value
    if value is not None:
        child = "<item>" if kind == "list" else "<entry key= value=>"
        raise ConfigError(f"{type_name}: parameter {name!r} is a {kind}: use {child} children",
                          line)
    if kind == "list":
        if entries:
            raise ConfigError(f"{type_name}: parameter {name!r} is a list: use <item>", line)
        return [i.text or "" for i in items]
    if items:
        raise ConfigError(f"{type_name}: parameter {name!r} is a map: use <entry>", line)
    return {e.get("key"): e.get("value") for e in entries}


def _detector(el: etree._Element) -> DetectorSpec:
    type_name = el.get("type")
    guid = el.get("guid")
    kinds = _field_kinds(type_name)
    raw: dict[str, Any] = {}
    lines: dict[str, int] = {}
    for p in el.findall("param"):
        name = p.get("name")
        if name not in kinds:
            raise ConfigError(
                f"detector {guid} ({type_name}): unknown parameter {name!r}; "
                f"known: {', '.join(kinds)}",
                p.sourceline,
            )
        raw[name] = _param_value(p, kinds[name], type_name)
        lines[name] = p.sourceline
    try:
        params = normalize_params(type_name, raw, strict=False)
    except ConfigError as e:
        line = lines.get(e.param, el.sourceline)
        raise ConfigError(f"detector {guid}: {e.reason}", line, param=e.param) from None
    terms = el.find("terminals")
    return DetectorSpec(
        guid=guid,
        type=type_name,
        name=el.get("name", ""),
        enabled=el.get("enabled", "true") in ("true", "1"),
        incident_type=el.get("incident_type"),
        terminals=tuple((t.text or "").strip() for t in terms.findall("terminal"))
        if terms is not None
        else (),
        params=plain_params(params),
    )


def parse_config(xml: bytes) -> DetectorConfig:
    """Parse, check and normalise an XML detector configuration.

    Args:
        xml: the document's bytes (its declaration names the encoding; UTF-8 by default).

    Returns:
        The configuration, with every detector's params complete.

    Raises:
        ConfigError: hostile or malformed XML, a schema violation, or a bad parameter;
            `line` says where, the message why. Nothing is returned in part.

    Example:
        >>> cfg = parse_config(export_config(default_config()))
        >>> cfg == default_config()
        True
    """
    if isinstance(xml, str):
        xml = xml.encode("utf-8")
    if not isinstance(xml, bytes | bytearray):
        raise ConfigError(f"configuration must be bytes, not {type(xml).__name__}")
    root = _parse_xml(bytes(xml))
    _validate_schema(root)
    types = tuple(
        IncidentType(
            guid=it.get("guid"),
            name=it.get("name"),
            description=it.get("description", ""),
            folder=it.get("folder", ""),
        )
        for it in root.iterfind("incident_types/incident_type")
    )
    detectors = tuple(_detector(d) for d in root.iterfind("detectors/detector"))
    cfg = DetectorConfig(incident_types=types, detectors=detectors)
    try:
        return validate_config(cfg)
    except ConfigError as e:  # what the schema cannot say (it checks GUIDs and references)
        raise ConfigError(e.reason, root.sourceline) from None


def _scalar(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def export_config(config: DetectorConfig) -> bytes:
    """The configuration as XML (UTF-8, indented, every parameter written out).

    `parse_config(export_config(c)) == validate_config(c)`, and exporting that again gives
    the same bytes.
    """
    cfg = validate_config(config)
    root = etree.Element("posguard_detectors", version=str(cfg.version))
    types = etree.SubElement(root, "incident_types")
    for it in cfg.incident_types:
        etree.SubElement(types, "incident_type", guid=it.guid, name=it.name,
                         folder=it.folder, description=it.description)
    dets = etree.SubElement(root, "detectors")
    for d in cfg.detectors:
        el = etree.SubElement(dets, "detector", guid=d.guid, type=d.type, name=d.name,
                              enabled=_scalar(d.enabled), incident_type=d.incident_type)
        if d.terminals:
            terms = etree.SubElement(el, "terminals")
            for t in d.terminals:
                etree.SubElement(terms, "terminal").text = t
        for name, value in d.params.items():
            p = etree.SubElement(el, "param", name=name)
            if isinstance(value, list):
                for v in value:
                    etree.SubElement(p, "item").text = str(v)
            elif isinstance(value, dict):
                for k, v in value.items():
                    etree.SubElement(p, "entry", key=str(k), value=_scalar(v))
            else:
                p.set("value", _scalar(value))
    etree.indent(root, space="  ")
    body: bytes = etree.tostring(root, encoding="utf-8", xml_declaration=True)
    return body + b"\n"
