"""A real SMTP server on loopback (aiosmtpd, STARTTLS and login, with a certificate made for the
test) and a local webhook receiver, for the notification tests."""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

SMTP_USER = "alerts"
SMTP_PASSWORD = "Smtp-Secret-pw-9911"
WEBHOOK_SECRET_PATH = "/services/T0000/B0000/WebhookSecret123456"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Mailbox:
    host: str
    port: int
    messages: list = field(default_factory=list)
    logins: list = field(default_factory=list)


@pytest.fixture
def smtp_server(tmp_path, monkeypatch) -> Iterator[Mailbox]:
    controller_module = pytest.importorskip("aiosmtpd.controller")
    from aiosmtpd.smtp import AuthResult, LoginPassword

    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make the test SMTP server's certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    # The sender verifies the server as any client does: trust this certificate alone.
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    mailbox = Mailbox("127.0.0.1", free_port())

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            mailbox.messages.append(message_from_bytes(envelope.original_content or envelope.content,
                                                       policy=policy.default))
            return "250 OK"

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == SMTP_USER \
            and auth_data.password.decode() == SMTP_PASSWORD
        mailbox.logins.append((auth_data.login.decode(), session.ssl is not None))
        return AuthResult(success=ok)

    controller = controller_module.Controller(
        Handler(), hostname=mailbox.host, port=mailbox.port, tls_context=context, require_starttls=True,
        authenticator=authenticator, auth_require_tls=True)
    controller.start()
    try:
        yield mailbox
    finally:
        controller.stop()


@dataclass
class Webhook:
    url: str
    posts: list = field(default_factory=list)


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    port = free_port()
    hook = Webhook(f"http://127.0.0.1:{port}{WEBHOOK_SECRET_PATH}")

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            hook.posts.append((self.path, json.loads(body)))
            self.send_response(200)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()


def closed_port_url() -> str:
    """A webhook that is down: nothing listens there."""
    return f"http://127.0.0.1:{free_port()}{WEBHOOK_SECRET_PATH}"


def notifications_yaml(smtp: Mailbox, on: str = "[failure, recovery]") -> str:
    return f"""\
notifications:
  on: {on}
  webhook_url_env: TEST_DHIS_SYNC_WEBHOOK
  kind: slack
  dagster_url: http://dagster.example.org
  dashboard_url: http://dashboard.example.org
  email:
    smtp_host: {smtp.host}
    smtp_port: {smtp.port}
    starttls: true
    username: {SMTP_USER}
    password_env: TEST_DHIS_SYNC_SMTP_PASSWORD
    from: dhis-sync@example.org
    to: [hmis-team@example.org]
"""


