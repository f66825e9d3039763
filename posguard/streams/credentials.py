"""Kafka TLS/SASL for the Faust workers: confluent-style settings -> Faust broker_credentials.

One `[kafka_config]` table configures every Kafka client of a deployment. confluent-kafka
(sink, publisher, admin) takes its librdkafka keys as they are; the Faust workers talk to
Kafka through aiokafka, which wants an `ssl.SSLContext` and SASL credentials instead. This
module builds those from the same keys, so both kinds of client trust the same CA and log in
as the same user:

| librdkafka key | here |
| --- | --- |
| security.protocol | PLAINTEXT (no credentials), SSL, SASL_PLAINTEXT, SASL_SSL |
| ssl.ca.location | CA file or folder to trust ("probe" or unset: the system's CAs) |
| ssl.ca.pem | CA certificates as PEM text |
| ssl.certificate.location, ssl.key.location, ssl.key.password | client certificate (mTLS) |
| ssl.endpoint.identification.algorithm | "https" (default: check the host name) or "none" |
| enable.ssl.certificate.verification | false: do not verify the broker at all (tests only) |
| sasl.mechanism(s) | PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, GSSAPI |
| sasl.username, sasl.password | PLAIN and SCRAM credentials |
| sasl.kerberos.service.name | GSSAPI service name (default "kafka") |

A setting that cannot be used (an unreadable file, a key the password does not open, an
unknown mechanism) is a KafkaConfigError naming the key, raised when the worker is built
rather than as an opaque TLS failure at the first connection. An encrypted key is never
allowed to prompt for its pass phrase on the terminal.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import faust
from faust.auth import Credentials

from posguard.streams.errors import KafkaConfigError

__all__ = ["broker_credentials", "ssl_context", "SASL_MECHANISMS"]

SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "GSSAPI")
_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def broker_credentials(kafka_config: Mapping[str, Any]) -> dict[str, Any]:
    """Faust app keyword arguments for the TLS/SASL settings of `kafka_config`.

    Args:
        kafka_config: librdkafka-style keys (the `[kafka_config]` table of the settings).

    Returns:
        `{}` for PLAINTEXT (or no `security.protocol`), else `{"broker_credentials": c}` with
        `c` a `faust.SSLCredentials`, `faust.SASLCredentials` or `faust.GSSAPICredentials`.

    Raises:
        KafkaConfigError: a setting that cannot be used, named in the message.

    Example:
        >>> broker_credentials({"security.protocol": "PLAINTEXT"})
        {}
    """
    proto = _protocol(kafka_config)
    if proto == "PLAINTEXT":
        return {}
    context = ssl_context(kafka_config) if proto.endswith("SSL") else None
    if proto == "SSL":
        return {"broker_credentials": faust.SSLCredentials(context)}
    return {"broker_credentials": _sasl_credentials(kafka_config, context)}


def ssl_context(kafka_config: Mapping[str, Any]) -> ssl.SSLContext:
    """The client TLS context the `ssl.*` keys describe (trust, host check, client cert).

    Raises:
        KafkaConfigError: an unreadable or unusable CA, certificate or key, named by its key.
    """
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    algorithm = str(_get(kafka_config, "ssl.endpoint.identification.algorithm") or "https")
    if algorithm.lower() not in ("https", "none"):
        raise KafkaConfigError(
            f"ssl.endpoint.identification.algorithm: {algorithm!r} is not 'https' or 'none'")
    verify = _flag(kafka_config, "enable.ssl.certificate.verification", default=True)
    if algorithm.lower() == "none" or not verify:
        context.check_hostname = False  # must precede CERT_NONE
    if not verify:
        context.verify_mode = ssl.CERT_NONE
    _load_trust(context, kafka_config)
    _load_client_certificate(context, kafka_config)
    return context


def _get(cfg: Mapping[str, Any], key: str) -> Any:
    value = cfg.get(key)
    return None if value is None or value == "" else value


def _flag(cfg: Mapping[str, Any], key: str, default: bool) -> bool:
    value = _get(cfg, key)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise KafkaConfigError(f"{key}: {value!r} is not true or false")


def _protocol(cfg: Mapping[str, Any]) -> str:
    proto = str(_get(cfg, "security.protocol") or "PLAINTEXT").upper()
    if proto not in _PROTOCOLS:
        raise KafkaConfigError(
            f"security.protocol: {proto!r} is not one of {', '.join(_PROTOCOLS)}")
    return proto


def _read(key: str, location: Any) -> str:
    """The text of the file a `*.location` key names, or an error naming the key."""
    path = Path(str(location))
    try:
        return path.read_text(encoding="ascii", errors="replace")
    except OSError as e:  # missing, a folder, no permission
        raise KafkaConfigError(f"{key}: cannot read {path}: {e.strerror or e}") from None


def _load_trust(context: ssl.SSLContext, cfg: Mapping[str, Any]) -> None:
    location, pem = _get(cfg, "ssl.ca.location"), _get(cfg, "ssl.ca.pem")
    if location is None and pem is None:
        return  # create_default_context already trusts the system's CAs
    if location is not None and str(location) != "probe":
        path = Path(str(location))
        try:
            if path.is_dir():
                context.load_verify_locations(capath=str(path))
            else:
                _read("ssl.ca.location", path)
                context.load_verify_locations(cafile=str(path))
        except ssl.SSLError as e:
            raise KafkaConfigError(
                f"ssl.ca.location: no usable PEM CA certificate in {path} ({e})") from None
    if pem is not None:
        try:
            context.load_verify_locations(cadata=str(pem))
        except (ssl.SSLError, ValueError) as e:
            raise KafkaConfigError(f"ssl.ca.pem: not PEM CA certificates ({e})") from None


def _load_client_certificate(context: ssl.SSLContext, cfg: Mapping[str, Any]) -> None:
    for key in ("ssl.certificate.pem", "ssl.key.pem"):
        if _get(cfg, key) is not None:
            location = key.replace(".pem", ".location")
            raise KafkaConfigError(
                f"{key}: inline PEM is not supported for the Faust workers; use {location}")
    cert, key = _get(cfg, "ssl.certificate.location"), _get(cfg, "ssl.key.location")
    password = _get(cfg, "ssl.key.password")
    if cert is None:
        if key is not None:
            raise KafkaConfigError(
                "ssl.key.location: set ssl.certificate.location too (the key's certificate)")
        return
    cert_text = _read("ssl.certificate.location", cert)
    if "-----BEGIN CERTIFICATE-----" not in cert_text:
        raise KafkaConfigError(f"ssl.certificate.location: no PEM certificate in {cert}")
    key_name = "ssl.key.location" if key is not None else "ssl.certificate.location"
    key_text = _read("ssl.key.location", key) if key is not None else cert_text
    if "PRIVATE KEY-----" not in key_text:
        raise KafkaConfigError(f"{key_name}: no PEM private key in {key or cert}")
    if password is None and "ENCRYPTED" in key_text:
        raise KafkaConfigError(f"{key_name}: the private key is encrypted; set ssl.key.password")
    try:
        # a password (even "") is always passed: OpenSSL would otherwise prompt on the tty
        context.load_cert_chain(str(cert), str(key) if key is not None else None,
                                password=str(password or ""))
    except ssl.SSLError as e:
        if e.reason == "KEY_VALUES_MISMATCH":
            raise KafkaConfigError(
                f"{key_name}: the private key does not belong to the certificate in "
                f"ssl.certificate.location ({cert})") from None
        if password is not None:
            raise KafkaConfigError(
                f"ssl.key.password: does not decrypt the private key in {key or cert} ({e})"
            ) from None
        raise KafkaConfigError(
            f"{key_name}: cannot load the private key in {key or cert} ({e})") from None


def _mechanism(cfg: Mapping[str, Any]) -> str:
    # librdkafka's own name is sasl.mechanisms; sasl.mechanism is its alias
    given = {k: str(v).strip().upper() for k in ("sasl.mechanism", "sasl.mechanisms")
             if (v := _get(cfg, k)) is not None}
    if len(set(given.values())) > 1:
        raise KafkaConfigError("sasl.mechanism and sasl.mechanisms disagree: set one")
    key, mechanism = next(iter(given.items()), ("sasl.mechanism", "PLAIN"))
    if mechanism == "OAUTHBEARER":
        raise KafkaConfigError(
            f"{key}: OAUTHBEARER is not supported for the Faust workers (needs a token "
            f"provider); use {', '.join(SASL_MECHANISMS)}")
    if mechanism not in SASL_MECHANISMS:
        raise KafkaConfigError(
            f"{key}: {mechanism!r} is not one of {', '.join(SASL_MECHANISMS)}")
    return mechanism


def _sasl_credentials(cfg: Mapping[str, Any],
                      context: ssl.SSLContext | None) -> Credentials:
    mechanism = _mechanism(cfg)
    if mechanism == "GSSAPI":
        return faust.GSSAPICredentials(
            kerberos_service_name=str(_get(cfg, "sasl.kerberos.service.name") or "kafka"),
            ssl_context=context)
    for key in ("sasl.username", "sasl.password"):
        if _get(cfg, key) is None:
            raise KafkaConfigError(f"{key}: required for SASL {mechanism}")
    return faust.SASLCredentials(username=str(cfg["sasl.username"]),
                                 password=str(cfg["sasl.password"]),
                                 ssl_context=context, mechanism=mechanism)
