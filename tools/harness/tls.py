"""TLS test material: a self-signed certificate, and a proxy that intercepts TLS with it the way
a company proxy does for a machine that does not trust its CA.

The proxy answers every CONNECT with 200 and then a TLS handshake with its own certificate,
which no client trusts: the handshake fails and nothing is forwarded. It listens on 127.0.0.1
only; builds reach it with `--network host`. It counts the CONNECTs, so a test can tell one
attempt from a client's retries.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .commands import run, unique

HANDSHAKE_TIMEOUT = 10  # seconds a client gets to send its request and start TLS


def self_signed_certificate(folder: Path, name: str = "cert") -> tuple[Path, Path]:
    """A fresh key and self-signed certificate (valid one day, a unique subject): (key, cert)."""
    key, cert = folder / f"{name}.key", folder / f"{name}.crt"
    run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            f"/CN={unique('berth-test-ca')}",
            "-keyout",
            key,
            "-out",
            cert,
        ]
    )
    return key, cert


@dataclass
class InterceptingProxy:
    url: str  # for HTTPS_PROXY
    connects: list[str] = field(default_factory=list)  # the CONNECT request lines, in order


@contextlib.contextmanager
def intercepting_proxy(folder: Path) -> Iterator[InterceptingProxy]:
    key, cert = self_signed_certificate(folder, "proxy")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.5)  # so that the accept loop notices the end
    proxy = InterceptingProxy(f"http://127.0.0.1:{server.getsockname()[1]}")
    stopping = threading.Event()

    def intercept(client: socket.socket) -> None:
        with client:
            client.settimeout(HANDSHAKE_TIMEOUT)
            request = b""
            while b"\r\n\r\n" not in request and len(request) < 65536:
                chunk = client.recv(4096)
                if not chunk:
                    return
                request += chunk
            line = request.split(b"\r\n", 1)[0].decode(errors="replace")
            if not line.startswith("CONNECT "):
                client.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                return
            proxy.connects.append(line)
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            with contextlib.suppress(OSError), context.wrap_socket(client, server_side=True):
                pass  # the client gives up during the handshake: it does not trust us

    def serve() -> None:
        while not stopping.is_set():
            try:
                client, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=intercept, args=(client,), daemon=True).start()

    thread = threading.Thread(target=serve, name="berth-intercepting-proxy", daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        stopping.set()
        server.close()
        thread.join(timeout=5)
