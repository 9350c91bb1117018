"""What went wrong, in words a DHIS2 administrator can act on.

Two things the client needs when a request fails: a short excerpt of what the server answered
(DHIS2's WebMessage `message`, an HTML page's title, the start of a text) and a plain name for a
transport failure (connection refused, DNS, timeout, TLS) instead of urllib3's
"Max retries exceeded with url: …". Nothing here sees credentials; the client scrubs the result.
"""

from __future__ import annotations

import json
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import requests
from urllib3 import exceptions as u3

#: Longest excerpt of a server's answer kept in an error message.
EXCERPT_LENGTH = 200


def shorten(text: str, limit: int = EXCERPT_LENGTH) -> str:
    """Whitespace collapsed, at most `limit` characters (an ellipsis marks a cut)."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


class _PageText(HTMLParser):
    """The <title> and the visible text of an HTML page (scripts and styles skipped)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title: list[str] = []
        self.text: list[str] = []
        self._stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("title", "script", "style"):
            self._stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._stack and self._stack[-1] == tag:
            self._stack.pop()

    def handle_data(self, data: str) -> None:
        if not self._stack:
            self.text.append(data)
        elif self._stack[-1] == "title":
            self.title.append(data)


def _same(text: str) -> str:
    return text


def html_excerpt(page: str, clean: Callable[[str], str] = _same) -> str:
    parser = _PageText()
    try:
        parser.feed(page)
        parser.close()
    except Exception:  # noqa: BLE001 - a broken page still gets a (raw) excerpt
        return shorten(clean(page))
    return shorten(clean(" ".join(parser.title))) or shorten(clean(" ".join(parser.text)))


def looks_like_html(text: str, content_type: str = "") -> bool:
    return "html" in content_type.lower() or text.lstrip()[:1] == "<"


def body_excerpt(body: Any, text: str, content_type: str = "", clean: Callable[[str], str] = _same) -> str:
    """A short excerpt of an answer: DHIS2's message, a page's title, or the start of the text.

    `body` is the decoded JSON (or None), `text` the body as text. `clean` runs on the full text
    before it is cut (a secret cut in half would no longer be recognised).
    """
    if isinstance(body, dict):
        for key in ("message", "error", "description"):
            if isinstance(body.get(key), str) and body[key].strip():
                return shorten(clean(body[key]))
    if body is not None:
        return shorten(clean(json.dumps(body, separators=(",", ":"), ensure_ascii=False)))
    if not text.strip():
        return ""
    return html_excerpt(text, clean) if looks_like_html(text, content_type) else shorten(clean(text))


def is_web_message(body: Any) -> bool:
    """True for DHIS2's own JSON error answer (a WebMessage), as opposed to a proxy's page."""
    return isinstance(body, dict) and ("httpStatusCode" in body or "httpStatus" in body)


# ---------------------------------------------------------------------------------------------
# transport failures


@dataclass(frozen=True)
class TransportProblem:
    """`what` happened (a short phrase), how to `fix` it, and whether it is a TLS problem."""

    what: str
    fix: str
    tls: bool = False


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and everything it wraps (requests → urllib3 → socket/ssl), outermost first."""
    seen: list[BaseException] = []
    todo: list[Any] = [exc]
    while todo and len(seen) < 20:
        current = todo.pop(0)
        if not isinstance(current, BaseException) or any(current is s for s in seen):
            continue
        seen.append(current)
        todo.extend([getattr(current, "reason", None), *current.args[:1], current.__cause__, current.__context__])
    return seen


def _find(chain: list[BaseException], kind: type | tuple[type, ...]) -> Any:
    return next((e for e in chain if isinstance(e, kind)), None)


def transport_problem(exc: BaseException, url: str, connect_timeout: float, read_timeout: float) -> TransportProblem:
    """Name a requests/urllib3 failure that produced no HTTP answer."""
    chain = _chain(exc)
    host = urlsplit(url).hostname or url
    netloc = urlsplit(url).netloc or host
    verify = _find(chain, ssl.SSLCertVerificationError)
    if verify is not None:
        detail = getattr(verify, "verify_message", None) or getattr(verify, "reason", None) or str(verify)
        return TransportProblem(
            f"TLS certificate verification failed ({detail})",
            "Install the certificate of the CA that signed the server's certificate on this machine "
            "(or point REQUESTS_CA_BUNDLE at it), or, for testing only, set verify_tls: false for "
            "this instance.",
            tls=True,
        )
    tls = _find(chain, (ssl.SSLError, u3.SSLError, requests.exceptions.SSLError))
    if tls is not None:
        detail = getattr(_find(chain, ssl.SSLError), "reason", None) or type(tls).__name__
        return TransportProblem(
            f"the TLS handshake failed ({detail})",
            "Check the base URL's scheme: https:// for a server that speaks TLS on that port, "
            "http:// for one that does not.",
            tls=True,
        )
    if _find(chain, (u3.NameResolutionError, socket.gaierror)) is not None:
        return TransportProblem(
            f"the host name {host} could not be resolved (DNS)",
            "Check the host name in the base URL, and this machine's DNS and network.",
        )
    if _find(chain, ConnectionRefusedError) is not None:
        return TransportProblem(
            f"connection refused by {netloc}",
            "Check that the server is running and that the base URL's host and port are right.",
        )
    if _find(chain, (u3.ReadTimeoutError, requests.exceptions.ReadTimeout)) is not None:
        return TransportProblem(
            f"timed out after {read_timeout:g} s waiting for an answer",
            "The server is slow or overloaded: try again later, raise timeouts.read for this "
            "instance, or use smaller page sizes.",
        )
    if _find(chain, (u3.ConnectTimeoutError, requests.exceptions.ConnectTimeout, TimeoutError)) is not None:
        return TransportProblem(
            f"could not connect to {netloc} within {connect_timeout:g} s",
            "Check that the server is running, that the base URL's host and port are right and "
            "that no firewall or proxy drops the connection.",
        )
    if _find(chain, (ConnectionResetError, u3.ProtocolError, ConnectionAbortedError)) is not None:
        return TransportProblem(
            "the server closed the connection without answering",
            "The server or a proxy in front of it may be restarting or overloaded; check its logs.",
        )
    innermost = chain[-1] if chain else exc
    return TransportProblem(
        f"the request failed ({type(innermost).__name__}: {shorten(str(innermost), 160)})",
        "Check that the server is running, that the base URL (scheme, host, port, context path) "
        "is right and that this machine can reach it (firewall, proxy, DNS).",
    )
