"""Authentication for DHIS2: HTTP Basic or a personal access token.

Both are `requests.auth.AuthBase` objects so the session attaches them to every request, and both
keep the secret out of `repr`/`str` because reprs end up in logs, Dagster's UI and tracebacks.
"""

from __future__ import annotations

import requests
from requests.auth import AuthBase, _basic_auth_str


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


def describe_auth(auth: AuthBase | None) -> str:
    """Name the credentials in use for an error message, without revealing them."""
    if auth is None:
        return "no credentials"
    describe = getattr(auth, "describe", None)
    return describe() if callable(describe) else type(auth).__name__
