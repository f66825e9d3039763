"""The detector configuration as values: incident types and detector specs, checked.

`DetectorConfig` is a frozen msgspec Struct: it travels on the compacted pos.detectors topic
as JSON (`config_to_bytes` / `config_from_bytes`), and `posguard.detectors.config` reads and
writes it as XML. `validate_config` is the one check every path goes through; it also
normalises each detector's params to the full set with defaults, so two equal configurations
compare equal however they were written.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import msgspec

from posguard.detectors.base import GUID_RE, Detector, IncidentType
from posguard.detectors.errors import ConfigError
from posguard.detectors.localtime import Zones
from posguard.detectors.registry import STANDARD_DETECTORS
from posguard.errors import PosguardError

__all__ = [
    "DetectorSpec",
    "DetectorConfig",
    "IncidentType",
    "validate_config",
    "normalize_params",
    "plain_params",
    "default_config",
    "config_to_bytes",
    "config_from_bytes",
    "build_detectors",
]

CONFIG_VERSION = 1


class DetectorSpec(msgspec.Struct, frozen=True, kw_only=True):
    """One configured detector.

    Attributes:
        guid: 8 letters or digits, unique in the configuration.
        type: a standard detector type name ("delete_without_admin", ...).
        name: display name ("" = the rule's title).
        enabled: whether live workers run it.
        incident_type: GUID of the incident type it raises.
        terminals: terminal GUIDs it applies to; empty = all.
        params: parameter name -> value (JSON values; normalised to the full set).
    """

    guid: str
    type: str
    incident_type: str
    name: str = ""
    enabled: bool = True
    terminals: tuple[str, ...] = ()
    params: dict[str, Any] = msgspec.field(default_factory=dict)


class DetectorConfig(msgspec.Struct, frozen=True, kw_only=True):
    """The whole detector configuration: what `posguard detectors import` replaces."""

    version: int = CONFIG_VERSION
    incident_types: tuple[IncidentType, ...] = ()
    detectors: tuple[DetectorSpec, ...] = ()

    def incident_type(self, guid: str) -> IncidentType | None:
        """The incident type with this GUID, if any."""
        for it in self.incident_types:
            if it.guid == guid:
                return it
        return None


def params_error_field(message: str) -> str:
    """The parameter a msgspec/params error message is about ("" when it names none)."""
    if "at `$." in message:
        return message.split("at `$.", 1)[1].split("`", 1)[0].split(".", 1)[0].split("[", 1)[0]
    head = message.split(":", 1)[0]
    return head.split("/", 1)[0].strip() if ":" in message else ""


def normalize_params(type_name: str, params: dict[str, Any], *, strict: bool = True) -> Any:
    """Check params for a detector type; return its Params struct (defaults filled in).

    Args:
        type_name: the detector type.
        params: parameter values (JSON-like; with strict=False, strings as read from XML).
        strict: refuse strings where numbers/booleans are expected.

    Raises:
        ConfigError: unknown type, unknown parameter, or a bad value (the reason names it).
    """
    cls = STANDARD_DETECTORS.get(type_name)
    if cls is None:
        raise ConfigError(
            f"unknown detector type {type_name!r}; known: {', '.join(STANDARD_DETECTORS)}"
        )
    known = [f.name for f in msgspec.structs.fields(cls.params_type)]
    for name in params:
        if name not in known:
            raise ConfigError(
                f"{type_name}: unknown parameter {name!r}; known: {', '.join(known)}",
                param=name,
            )
    try:
        return msgspec.convert(params, cls.params_type, strict=strict)
    except (msgspec.ValidationError, PosguardError) as e:
        msg = str(e)
        field = params_error_field(msg)
        if " - at `$." in msg:  # msgspec's "Expected `int`, got `str` - at `$.max_percent`"
            msg = f"{field}: {msg.split(' - at `$.', 1)[0]}"
        raise ConfigError(f"{type_name}: parameter {msg}", param=field) from None


def plain_params(params: Any) -> dict[str, Any]:
    """A Params struct as a plain dict of JSON values (tuples as lists), field order kept."""
    out: dict[str, Any] = {}
    for f in msgspec.structs.fields(params):
        v = getattr(params, f.name)
        out[f.name] = list(v) if isinstance(v, tuple) else dict(v) if isinstance(v, dict) else v
    return out


def _check_guid(what: str, guid: str) -> None:
    if not GUID_RE.match(guid):
        raise ConfigError(f"{what} GUID {guid!r} is not 8 letters or digits")


def validate_config(config: DetectorConfig) -> DetectorConfig:
    """Check a configuration and return it with every detector's params normalised.

    Raises:
        ConfigError: the first problem found, with its reason (no line: not from XML).
    """
    if config.version != CONFIG_VERSION:
        raise ConfigError(f"configuration version {config.version} (this build reads 1)")
    types: set[str] = set()
    for it in config.incident_types:
        _check_guid("incident type", it.guid)
        if it.guid in types:
            raise ConfigError(f"incident type GUID {it.guid!r} used twice")
        if not it.name.strip():
            raise ConfigError(f"incident type {it.guid}: empty name")
        types.add(it.guid)
    guids: set[str] = set()
    specs = []
    for d in config.detectors:
        _check_guid("detector", d.guid)
        if d.guid in guids:
            raise ConfigError(f"detector GUID {d.guid!r} used twice")
        guids.add(d.guid)
        if d.incident_type not in types:
            raise ConfigError(f"detector {d.guid}: no incident type {d.incident_type!r}")
        if any(not t.strip() for t in d.terminals):
            raise ConfigError(f"detector {d.guid}: empty terminal GUID")
        try:
            params = normalize_params(d.type, d.params)
        except ConfigError as e:
            raise ConfigError(f"detector {d.guid}: {e.reason}") from None
        specs.append(msgspec.structs.replace(d, params=plain_params(params)))
    return msgspec.structs.replace(config, detectors=tuple(specs))


def default_config() -> DetectorConfig:
    """Every standard detector enabled with its defaults, each with its own incident type.

    GUIDs are fixed (PGI00001.. for incident types, PGD00001.. for detectors, in the order
    of issue 4's list), so the default configuration is the same everywhere.
    """
    types = []
    specs = []
    for n, (type_name, cls) in enumerate(STANDARD_DETECTORS.items(), start=1):
        it = IncidentType(guid=f"PGI{n:05d}", name=cls.title, description=cls.summary,
                          folder="Standard")
        types.append(it)
        specs.append(
            DetectorSpec(
                guid=f"PGD{n:05d}",
                type=type_name,
                name=cls.title,
                incident_type=it.guid,
                params=plain_params(cls.params_type()),
            )
        )
    return DetectorConfig(incident_types=tuple(types), detectors=tuple(specs))


_json_encoder = msgspec.json.Encoder()
_json_decoder = msgspec.json.Decoder(DetectorConfig)


def config_to_bytes(config: DetectorConfig) -> bytes:
    """JSON bytes of a configuration, the value on the pos.detectors topic."""
    return _json_encoder.encode(config)


def config_from_bytes(data: bytes) -> DetectorConfig:
    """A configuration from pos.detectors bytes, validated; ConfigError when it is not one."""
    try:
        cfg = _json_decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as e:
        raise ConfigError(f"not a detector configuration: {e}") from None
    return validate_config(cfg)


def build_detectors(
    config: DetectorConfig,
    *,
    zones: Zones | None = None,
    only: Collection[str] | None = None,
) -> list[Detector[Any, Any]]:
    """Build the detectors of a configuration: the enabled ones, or exactly `only`.

    Raises:
        ConfigError: the configuration is not valid, or `only` names an unknown GUID.
    """
    cfg = validate_config(config)
    if only is not None:
        missing = set(only) - {d.guid for d in cfg.detectors}
        if missing:
            raise ConfigError(f"no detector with GUID {', '.join(sorted(missing))}")
    out: list[Detector[Any, Any]] = []
    for d in cfg.detectors:
        if (d.guid not in only) if only is not None else not d.enabled:
            continue
        cls = STANDARD_DETECTORS[d.type]
        out.append(
            cls(
                d.guid,
                normalize_params(d.type, d.params),
                incident_type=cfg.incident_type(d.incident_type),
                name=d.name,
                terminals=d.terminals,
                zones=zones,
            )
        )
    return out
