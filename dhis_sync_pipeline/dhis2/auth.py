"""Authentication for DHIS2: HTTP Basic or a personal access token.

Both are `requests.auth.AuthBase` objects so the session attaches them to every request, and both
keep the secret out of `repr`/`str` because reprs end up in logs, Dagster's UI and tracebacks.
They also know every form in which their secret travels (`secrets()`), so `scrub` can remove it
from whatever a server echoes back before that text reaches an error message or a log.
"""

from __future__ import annotations

import base64
from urllib.parse import quote

import requests
from requests.auth import AuthBase, _basic_auth_str

#: What a secret is replaced with in text kept from a server.
MASK = "***"


def _encodings(secret: str) -> set[str]:
    """A secret as sent and base64-encoded (standard and URL-safe, padded or not), each of those
    also percent-encoded, as a server echoing it inside a URL would write it."""
    raw = secret.encode("utf-8")
    forms = {secret}
    for encoded in (base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()):
        forms.update({encoded, encoded.rstrip("=")})
    return forms | {quote(form, safe=safe) for form in forms for safe in ("", "/")}


class BasicAuth(AuthBase):
    """HTTP Basic authentication with a DHIS2 username and password."""

    def __init__(self, username: str, password: str) -> None:
        self.username = username
        self._password = password

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = _basic_auth_str(self.username, self._password)
        return request

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, BasicAuth)
            and other.username == self.username
            and other._password == self._password
        )

    def __hash__(self) -> int:
        return hash((BasicAuth, self.username))

    def __repr__(self) -> str:
        return f"BasicAuth(username={self.username!r}, password='***')"

    __str__ = __repr__

    def describe(self) -> str:
        """How these credentials are named in error messages (never the secret)."""
        return f"user {self.username!r} (Basic auth)"

    def secrets(self) -> set[str]:
        """The password, the username:password pair and the header's base64, in every form sent."""
        if not self._password:
            return set()
        return _encodings(f"{self.username}:{self._password}") | _encodings(self._password)


class ApiTokenAuth(AuthBase):
    """A DHIS2 personal access token, sent as `Authorization: ApiToken <token>`."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"ApiToken {self._token}"
        return request

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ApiTokenAuth) and other._token == self._token

    def __hash__(self) -> int:
        return hash(ApiTokenAuth)

    def __repr__(self) -> str:
        return "ApiTokenAuth(token='***')"

    __str__ = __repr__

    def describe(self) -> str:
        return "a personal access token"

    def secrets(self) -> set[str]:
        return _encodings(self._token) if self._token else set()


def describe_auth(auth: AuthBase | None) -> str:
    """Name the credentials in use for an error message, without revealing them."""
    if auth is None:
        return "no credentials"
    describe = getattr(auth, "describe", None)
    return describe() if callable(describe) else type(auth).__name__


def scrub(text: str, auth: AuthBase | None) -> str:
    """`text` with every form of the credentials `auth` sends replaced by ***.

    Longest first, so the base64 of "user:password" goes whole rather than leaving a tail.
    """
    secrets = getattr(auth, "secrets", None)
    if not text or not callable(secrets):
        return text
    for secret in sorted(secrets(), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text
