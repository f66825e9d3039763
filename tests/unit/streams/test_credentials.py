"""Kafka TLS/SASL settings -> the Faust workers' aiokafka credentials (no broker).

The TLS contexts are judged by real handshakes against a loopback TLS server that checks
client certificates against the test CA, so "the client certificate is loaded" and "the host name
is (not) checked" are observed, not inferred from attributes (tests/tls_testkit.py).
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from typing import Any

import faust
import pytest
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

from posguard.errors import PosguardError
from posguard.streams.credentials import SASL_MECHANISMS, broker_credentials, ssl_context
from posguard.streams.errors import KafkaConfigError
from tests.tls_testkit import KEY_PASSWORD, Pki, TlsEcho, make_pki, openssl_missing


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    if (reason := openssl_missing()) is not None:
        pytest.skip(reason)
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def tls_server(pki: Pki) -> Iterator[int]:
    """A loopback TLS server answering with the client certificate's common name."""
    with TlsEcho(pki) as server:
        yield server.port


def _handshake(context: ssl.SSLContext, port: int, server_hostname: str = "localhost") -> str:
    """Connect, finish the handshake, return the client CN the server saw."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
            context.wrap_socket(raw, server_hostname=server_hostname) as tls:
        return tls.recv(100).decode()


def _auth(kafka_config: dict[str, Any]) -> dict[str, Any]:
    kwargs = broker_credentials(kafka_config)
    return dict(credentials_to_aiokafka_auth(kwargs.get("broker_credentials")))


def _tls(pki: Pki, **extra: Any) -> dict[str, Any]:
    return {"security.protocol": "SSL", "ssl.ca.location": str(pki.ca), **extra}


# -- protocols ------------------------------------------------------------------------------
@pytest.mark.parametrize("cfg", [{}, {"security.protocol": "PLAINTEXT"},
                                 {"security.protocol": "plaintext"},
                                 {"security.protocol": ""}])
def test_plaintext_needs_no_credentials(cfg: dict[str, str]) -> None:
    assert broker_credentials(cfg) == {}
    assert _auth(cfg) == {"security_protocol": "PLAINTEXT"}


def test_unknown_protocol_is_named() -> None:
    with pytest.raises(KafkaConfigError, match="security.protocol: 'TLS'"):
        broker_credentials({"security.protocol": "tls"})


def test_errors_are_posguard_errors() -> None:
    assert issubclass(KafkaConfigError, PosguardError)


# -- TLS, observed through handshakes --------------------------------------------------------
def test_ssl_presents_the_client_certificate(pki: Pki, tls_server: int) -> None:
    auth = _auth(_tls(pki, **{"ssl.certificate.location": str(pki.client),
                              "ssl.key.location": str(pki.client_key)}))
    assert auth["security_protocol"] == "SSL"
    context = auth["ssl_context"]
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert _handshake(context, tls_server) == "posguard-client"


def test_ssl_without_client_certificate_still_verifies_the_server(
        pki: Pki, tls_server: int) -> None:
    context = ssl_context(_tls(pki))
    assert _handshake(context, tls_server) == "none"
    untrusting = ssl_context({"security.protocol": "SSL"})  # system CAs only
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(untrusting, tls_server)


def test_encrypted_key_opens_with_its_password(pki: Pki, tls_server: int) -> None:
    context = ssl_context(_tls(pki, **{
        "ssl.certificate.location": str(pki.client),
        "ssl.key.location": str(pki.client_enc_key),
        "ssl.key.password": KEY_PASSWORD}))
    assert _handshake(context, tls_server) == "posguard-client"


def test_key_inside_the_certificate_file(pki: Pki, tls_server: int) -> None:
    context = ssl_context(_tls(pki, **{
        "ssl.certificate.location": str(pki.combined)}))
    assert _handshake(context, tls_server) == "posguard-client"


def test_host_name_is_checked_unless_identification_is_none(
        pki: Pki, tls_server: int) -> None:
    with pytest.raises(ssl.SSLCertVerificationError, match="(?i)hostname"):
        _handshake(ssl_context(_tls(pki)), tls_server, server_hostname="kafka.example")
    relaxed = ssl_context(_tls(pki, **{"ssl.endpoint.identification.algorithm": "none"}))
    assert not relaxed.check_hostname and relaxed.verify_mode == ssl.CERT_REQUIRED
    assert _handshake(relaxed, tls_server, server_hostname="kafka.example") == "none"


def test_verification_off_trusts_any_server(pki: Pki, tls_server: int) -> None:
    context = ssl_context({"security.protocol": "SSL",
                           "enable.ssl.certificate.verification": "false"})
    assert context.verify_mode == ssl.CERT_NONE
    assert _handshake(context, tls_server, server_hostname="kafka.example") == "none"


def test_ca_folder_and_inline_ca_pem(pki: Pki, tls_server: int) -> None:
    inline = ssl_context({"ssl.ca.pem": pki.ca.read_text()})
    assert _handshake(inline, tls_server) == "none"
    folder = ssl_context({"ssl.ca.location": str(pki.ca_folder)})
    assert _handshake(folder, tls_server) == "none"
    probe = ssl_context({"ssl.ca.location": "probe"})  # librdkafka's "the system's CAs"
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(probe, tls_server)


# -- clear errors naming the setting ---------------------------------------------------------
@pytest.mark.parametrize(("overrides", "message"), [
    ({"ssl.ca.location": "/nonexistent/ca.pem"}, r"ssl.ca.location: cannot read"),
    ({"ssl.ca.location": "NOT_PEM"}, r"ssl.ca.location: no usable PEM CA certificate"),
    ({"ssl.ca.pem": "garbage"}, r"ssl.ca.pem: not PEM"),
    ({"ssl.certificate.location": "/nonexistent/client.pem"},
     r"ssl.certificate.location: cannot read"),
    ({"ssl.certificate.location": "NOT_PEM", "ssl.key.location": "CLIENT_KEY"},
     r"ssl.certificate.location: no PEM certificate"),
    ({"ssl.certificate.location": "CLIENT", "ssl.key.location": "/nonexistent/client.key"},
     r"ssl.key.location: cannot read"),
    ({"ssl.certificate.location": "CLIENT", "ssl.key.location": "NOT_PEM"},
     r"ssl.key.location: no PEM private key"),
    ({"ssl.certificate.location": "CLIENT"}, r"ssl.certificate.location: no PEM private key"),
    ({"ssl.certificate.location": "CLIENT", "ssl.key.location": "ENC_KEY"},
     r"ssl.key.location: the private key is encrypted; set ssl.key.password"),
    ({"ssl.certificate.location": "CLIENT", "ssl.key.location": "ENC_KEY",
      "ssl.key.password": "wrong"}, r"ssl.key.password: does not decrypt"),
    ({"ssl.certificate.location": "CLIENT", "ssl.key.location": "OTHER_KEY"},
     r"ssl.key.location: the private key does not belong to the certificate"),
    ({"ssl.key.location": "CLIENT_KEY"}, r"ssl.key.location: set ssl.certificate.location"),
    ({"ssl.certificate.pem": "-----BEGIN CERTIFICATE-----"},
     r"ssl.certificate.pem: inline PEM is not supported.*ssl.certificate.location"),
    ({"ssl.endpoint.identification.algorithm": "dns"},
     r"ssl.endpoint.identification.algorithm: 'dns'"),
    ({"enable.ssl.certificate.verification": "maybe"},
     r"enable.ssl.certificate.verification: 'maybe' is not true or false"),
])
def test_unusable_tls_settings_name_the_key(pki: Pki, overrides: dict[str, str],
                                            message: str) -> None:
    files = {"NOT_PEM": pki.not_pem, "CLIENT": pki.client,
             "CLIENT_KEY": pki.client_key, "ENC_KEY": pki.client_enc_key,
             "OTHER_KEY": pki.other_key}
    cfg = _tls(pki, **{k: str(files.get(v, v)) for k, v in overrides.items()})
    with pytest.raises(KafkaConfigError, match=message):
        broker_credentials(cfg)
    with pytest.raises(KafkaConfigError, match=message):
        broker_credentials({**cfg, "security.protocol": "SASL_SSL",
                            "sasl.username": "u", "sasl.password": "p"})


def test_sasl_plaintext_ignores_tls_files() -> None:
    auth = _auth({"security.protocol": "SASL_PLAINTEXT", "sasl.username": "u",
                  "sasl.password": "p", "ssl.ca.location": "/nonexistent/ca.pem"})
    assert auth["security_protocol"] == "SASL_PLAINTEXT" and auth["ssl_context"] is None


# -- SASL ------------------------------------------------------------------------------------
@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "scram-sha-512"])
@pytest.mark.parametrize("key", ["sasl.mechanism", "sasl.mechanisms"])
def test_sasl_ssl_mechanisms(pki: Pki, tls_server: int, mechanism: str,
                             key: str) -> None:
    auth = _auth({"security.protocol": "SASL_SSL", key: mechanism, "sasl.username": "posguard",
                  "sasl.password": "pw", "ssl.ca.location": str(pki.ca)})
    assert auth["security_protocol"] == "SASL_SSL"
    assert auth["sasl_mechanism"] == mechanism.upper()
    assert (auth["sasl_plain_username"], auth["sasl_plain_password"]) == ("posguard", "pw")
    assert _handshake(auth["ssl_context"], tls_server) == "none"


def test_sasl_defaults_to_plain() -> None:
    auth = _auth({"security.protocol": "SASL_PLAINTEXT", "sasl.username": "u",
                  "sasl.password": "p"})
    assert auth["sasl_mechanism"] == "PLAIN"


def test_gssapi_carries_the_kerberos_service_name() -> None:
    creds = broker_credentials({"security.protocol": "SASL_PLAINTEXT",
                                "sasl.mechanism": "GSSAPI",
                                "sasl.kerberos.service.name": "kafka-prod"})["broker_credentials"]
    assert isinstance(creds, faust.GSSAPICredentials)
    auth = dict(credentials_to_aiokafka_auth(creds))
    assert auth["sasl_mechanism"] == "GSSAPI"
    assert auth["sasl_kerberos_service_name"] == "kafka-prod"


_USER = {"sasl.username": "u", "sasl.password": "p"}


@pytest.mark.parametrize(("cfg", "message"), [
    ({**_USER, "sasl.mechanism": "SCRAM-SHA-1"}, r"sasl.mechanism: 'SCRAM-SHA-1' is not one of"),
    ({**_USER, "sasl.mechanisms": "OAUTHBEARER"}, r"sasl.mechanisms: OAUTHBEARER is not supp"),
    ({**_USER, "sasl.mechanism": "PLAIN", "sasl.mechanisms": "SCRAM-SHA-256"}, r"disagree"),
    ({"sasl.mechanism": "SCRAM-SHA-256", "sasl.password": "p"},
     r"sasl.username: required for SASL SCRAM-SHA-256"),
    ({"sasl.username": "u"}, r"sasl.password: required for SASL PLAIN"),
])
def test_unusable_sasl_settings_name_the_key(cfg: dict[str, str], message: str) -> None:
    with pytest.raises(KafkaConfigError, match=message):
        broker_credentials({"security.protocol": "SASL_PLAINTEXT", **cfg})


def test_supported_mechanisms_are_faust_mechanisms() -> None:
    from faust.types.auth import SASLMechanism

    assert {m.value for m in SASLMechanism} >= set(SASL_MECHANISMS)
