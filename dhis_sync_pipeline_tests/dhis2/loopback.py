"""Tiny real HTTP(S) servers on loopback, for answers the emulator cannot give.

A proxy's HTML error pages, a web server that is not DHIS2, an old DHIS2 version, a self-signed
certificate, a server that echoes the credentials it received: each test passes a function that
turns a request into (status, headers, body), and the client talks to it over real sockets.
"""

from __future__ import annotations

import http.server
import shutil
import ssl
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]


Answer = tuple[int, dict[str, str], bytes | str]


class LoopbackServer:
    """`with LoopbackServer(answer) as server:` then `server.base_url`; `tls=(cert, key)` for https."""

    def __init__(self, answer: Callable[[Request], Answer], tls: tuple[Path, Path] | None = None) -> None:
        self.requests: list[Request] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _serve(self) -> None:
                request = Request(self.command, self.path, dict(self.headers.items()))
                outer.requests.append(request)
                status, headers, body = answer(request)
                data = body.encode("utf-8") if isinstance(body, str) else body
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _serve

            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        scheme = "http"
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(tls[0]), str(tls[1]))
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
            scheme = "https"
        self.base_url = f"{scheme}://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> LoopbackServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made with the openssl command."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a self-signed certificate")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )
    return cert, key


def json_answer(status: int, body: str) -> Answer:
    return status, {"Content-Type": "application/json;charset=UTF-8"}, body


def html_answer(status: int, page: str) -> Answer:
    return status, {"Content-Type": "text/html; charset=utf-8"}, page
