"""HTTP Basic and personal access tokens (`Authorization: ApiToken <token>`).

Token forms: v1 `d2pat_` + 32 characters + 10-digit CRC32, v2 `d2p_` + 44 characters + 6-char
base62 CRC32. The checksum covers everything before it. A malformed header or bad checksum is a
400, an unknown or expired token a 401, as in DHIS2.
"""

from __future__ import annotations

import base64
import binascii
import random
import re
import string
from dataclasses import dataclass
from datetime import datetime

_B62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
_ALNUM = string.ascii_letters + string.digits
_V1 = re.compile(r"^d2pat_[A-Za-z0-9]{32}\d{10}$")
_V2 = re.compile(r"^d2p_[A-Za-z0-9]{44}[A-Za-z0-9]{6}$")


def _base62(n: int, width: int = 6) -> str:
    digits = []
    while n:
        n, r = divmod(n, 62)
        digits.append(_B62[r])
    return "".join(reversed(digits)).rjust(width, "0")


def make_token(rng: random.Random, version: int = 2) -> str:
    if version == 1:
        body = "d2pat_" + "".join(rng.choice(_ALNUM) for _ in range(32))
        return body + f"{binascii.crc32(body.encode()):010d}"
    body = "d2p_" + "".join(rng.choice(_ALNUM) for _ in range(44))
    return body + _base62(binascii.crc32(body.encode()))


def checksum_ok(token: str) -> bool:
    if _V1.match(token):
        return f"{binascii.crc32(token[:-10].encode()):010d}" == token[-10:]
    if _V2.match(token):
        return _base62(binascii.crc32(token[:-6].encode())) == token[-6:]
    return False


@dataclass
class AuthResult:
    username: str | None = None
    status: int = 200  # 200 ok, 302 redirect to login, 400 bad token, 401 refused
    message: str = ""


def authenticate(state, header: str | None, xhr: bool) -> AuthResult:
    if not header:
        return AuthResult(status=401 if xhr else 302, message="Unauthorized")
    scheme, _, credentials = header.strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
            username, _, password = decoded.partition(":")
        except (ValueError, UnicodeDecodeError):
            return AuthResult(status=401, message="Unauthorized")
        if state.passwords.get(username) == password and password:
            return AuthResult(username=username)
        return AuthResult(status=401, message="Unauthorized")
    if scheme.lower() == "apitoken":
        if not credentials or not (_V1.match(credentials) or _V2.match(credentials)):
            return AuthResult(status=400, message="Invalid API token format")
        if not checksum_ok(credentials):
            return AuthResult(status=400, message="Invalid API token checksum")
        with state.lock:
            entry = state.tokens.get(credentials)
        if entry is None:
            return AuthResult(status=401, message="The API token does not exist")
        expires: datetime | None = entry.get("expires")
        if expires is not None and state.now() >= expires:
            return AuthResult(status=401, message="The API token has expired")
        return AuthResult(username=entry["username"])
    return AuthResult(status=401, message="Unauthorized")
