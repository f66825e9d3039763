"""Test PKI and loopback TLS endpoints for the TLS configuration tests (no network).

`make_pki` writes a CA, a server certificate for localhost/127.0.0.1 and client certificates
with the `openssl` command line (the `cryptography` package is not installed here).
`TlsEcho` is a TLS server that requires nothing and answers with the client certificate's
common name; `TlsForwarder` terminates TLS (optionally requiring a client certificate) in
front of a plain TCP service, e.g. the suite's ClickHouse-HTTP endpoint, and records the
client certificate names it saw and the bytes the clients sent (the HTTP requests, headers
included).
"""

from __future__ import annotations

import select
import shutil
import socket
import ssl
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

__all__ = ["Pki", "make_pki", "openssl_missing", "TlsEcho", "TlsForwarder", "KEY_PASSWORD"]

KEY_PASSWORD = "s3cret-pass"


@dataclass(frozen=True)
class Pki:
    """Paths of the test certificates and keys (PEM)."""

    dir: Path
    ca: Path
    ca_folder: Path  # the CA alone, hashed for capath use
    server: Path
    server_key: Path
    client: Path
    client_key: Path
    client_enc_key: Path  # client_key encrypted with KEY_PASSWORD
    combined: Path  # client certificate and key in one file
    other_key: Path  # a key of another certificate
    not_pem: Path


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=30)


def _signed(d: Path, name: str, cn: str, san: str | None) -> None:
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-subj", f"/CN={cn}", "-keyout", f"{name}.key", "-out", f"{name}.csr", cwd=d)
    ext = d / f"{name}.ext"
    ext.write_text(f"subjectAltName={san}\n" if san else "basicConstraints=CA:FALSE\n")
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-days", "2", "-extfile", ext.name, "-out", f"{name}.pem",
             cwd=d)


def openssl_missing() -> str | None:
    """None when the openssl command exists, else why the TLS tests skip."""
    return None if shutil.which("openssl") else "no openssl command to make test certificates"


def make_pki(d: Path) -> Pki:
    """Write the test CA, server and client certificates into folder `d`."""
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-days", "2", "-subj", "/CN=posguard-test-ca", "-keyout", "ca.key",
             "-out", "ca.pem", cwd=d)
    _signed(d, "server", "localhost", "DNS:localhost,IP:127.0.0.1")
    _signed(d, "client", "posguard-client", None)
    _signed(d, "other", "someone-else", None)
    _openssl("pkey", "-in", "client.key", "-aes256", "-passout", f"pass:{KEY_PASSWORD}",
             "-out", "client-enc.key", cwd=d)
    (d / "client-combined.pem").write_text(
        (d / "client.pem").read_text() + (d / "client.key").read_text())
    (d / "not-pem.txt").write_text("hello\n")
    folder = d / "cafolder"
    folder.mkdir()
    shutil.copy(d / "ca.pem", folder / "ca.pem")
    _openssl("rehash", str(folder), cwd=d)
    return Pki(dir=d, ca=d / "ca.pem", ca_folder=folder, server=d / "server.pem",
               server_key=d / "server.key", client=d / "client.pem",
               client_key=d / "client.key", client_enc_key=d / "client-enc.key",
               combined=d / "client-combined.pem", other_key=d / "other.key",
               not_pem=d / "not-pem.txt")


def _common_name(tls: ssl.SSLSocket) -> str:
    cert = tls.getpeercert() or {}
    names = [v for rdn in cert.get("subject", ()) for k, v in rdn if k == "commonName"]
    return names[0] if names else "none"


class _TlsListener:
    """A loopback listener (TLS with the test server certificate unless pki is None), one
    thread per client."""

    def __init__(self, pki: Pki | None, require_client_cert: bool):
        self.context: ssl.SSLContext | None = None
        if pki is not None:
            self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.context.load_cert_chain(pki.server, pki.server_key)
            self.context.load_verify_locations(cafile=pki.ca)
            self.context.verify_mode = (ssl.CERT_REQUIRED if require_client_cert
                                        else ssl.CERT_OPTIONAL)
        self.client_names: list[str] = []
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def port(self) -> int:
        return int(self._sock.getsockname()[1])

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(10)
        try:
            if self.context is None:
                with conn:
                    self.handle(conn)
                return
            with self.context.wrap_socket(conn, server_side=True) as tls:
                self.client_names.append(_common_name(tls))
                self.handle(tls)
        except (OSError, ssl.SSLError):
            conn.close()  # a refused handshake: the client side reports it

    def handle(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def __enter__(self) -> _TlsListener:
        self._thread.start()
        return self

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()


class TlsEcho(_TlsListener):
    """Answer each client with the common name of its certificate ("none" without one)."""

    def __init__(self, pki: Pki):
        super().__init__(pki, require_client_cert=False)

    def handle(self, conn: socket.socket) -> None:
        conn.sendall(self.client_names[-1].encode())


class TlsForwarder(_TlsListener):
    """Terminate TLS (none when pki is None) and pipe the bytes to a plain TCP service at
    127.0.0.1:`target_port`, keeping what the clients sent in `received`."""

    def __init__(self, pki: Pki | None, target_port: int, require_client_cert: bool = False):
        super().__init__(pki, require_client_cert)
        self.target_port = target_port
        self.received = bytearray()

    def handle(self, conn: socket.socket) -> None:
        # one thread per connection, select() between the two sides: an SSL socket must not
        # be read and written from two threads at once
        pending = conn.pending if isinstance(conn, ssl.SSLSocket) else (lambda: 0)
        with socket.create_connection(("127.0.0.1", self.target_port), timeout=10) as plain:
            while True:
                ready = [conn] if pending() else select.select([conn, plain], [], [], 10)[0]
                if not ready:
                    return
                for side in ready:
                    data = side.recv(65536)
                    if not data:
                        return
                    if side is conn:
                        self.received += data
                    (plain if side is conn else conn).sendall(data)
