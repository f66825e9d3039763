"""TLS/SASL settings (confluent-style `[kafka_config]` keys) reach the Faust workers' aiokafka
client as the same protocol, mechanism, user and trust: checked on the keyword arguments
Faust's aiokafka driver builds from the worker app's broker_credentials (no broker)."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from pathlib import Path

import pytest
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

from posguard.streams.app import WorkerConfig, create_app


def _aiokafka_auth(kafka_config: dict[str, str]) -> dict[str, object]:
    ctx = create_app(WorkerConfig(bootstrap="127.0.0.1:9", kafka_config=kafka_config))
    return dict(credentials_to_aiokafka_auth(ctx.app.conf.broker_credentials))


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A self-signed CA and a client certificate/key in PEM files."""
    if shutil.which("openssl") is None:
        pytest.skip("no openssl to make test certificates")
    d = tmp_path_factory.mktemp("pki")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=posguard-test-ca", "-keyout", str(d / "ca.key"),
                    "-out", str(d / "ca.pem")], check=True, capture_output=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=posguard-client", "-keyout", str(d / "client.key"),
                    "-out", str(d / "client.pem")], check=True, capture_output=True)
    return {"ca": d / "ca.pem", "cert": d / "client.pem", "key": d / "client.key"}


def _ca_names(context: ssl.SSLContext) -> set[str]:
    return {v for c in context.get_ca_certs() for rdn in c["subject"] for k, v in rdn
            if k == "commonName"}


def test_plaintext_when_nothing_is_configured() -> None:
    assert _aiokafka_auth({}) == {"security_protocol": "PLAINTEXT"}
    assert _aiokafka_auth({"security.protocol": "plaintext"}) == {
        "security_protocol": "PLAINTEXT"}


def test_ssl_with_ca_and_client_certificate(pki: dict[str, Path]) -> None:
    auth = _aiokafka_auth({"security.protocol": "SSL", "ssl.ca.location": str(pki["ca"]),
                           "ssl.certificate.location": str(pki["cert"]),
                           "ssl.key.location": str(pki["key"])})
    assert auth["security_protocol"] == "SSL"
    context = auth["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert "posguard-test-ca" in _ca_names(context)


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_sasl_ssl_carries_mechanism_user_password_and_trust(
        pki: dict[str, Path], mechanism: str) -> None:
    auth = _aiokafka_auth({"security.protocol": "SASL_SSL", "sasl.mechanism": mechanism,
                           "sasl.username": "posguard", "sasl.password": "s3cret",
                           "ssl.ca.location": str(pki["ca"])})
    assert auth["security_protocol"] == "SASL_SSL"
    assert auth["sasl_mechanism"] == mechanism
    assert (auth["sasl_plain_username"], auth["sasl_plain_password"]) == ("posguard", "s3cret")
    assert "posguard-test-ca" in _ca_names(auth["ssl_context"])  # type: ignore[arg-type]


def test_sasl_plaintext_has_no_tls() -> None:
    auth = _aiokafka_auth({"security.protocol": "SASL_PLAINTEXT",
                           "sasl.mechanism": "SCRAM-SHA-256",
                           "sasl.username": "u", "sasl.password": "p"})
    assert auth["security_protocol"] == "SASL_PLAINTEXT"
    assert auth["ssl_context"] is None
    assert auth["sasl_mechanism"] == "SCRAM-SHA-256"
