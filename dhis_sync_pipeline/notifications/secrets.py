"""The secret values a message must never carry, and their removal from any text.

They are the values of the variables the configuration names (DHIS2 passwords and tokens, the
webhook URL, the SMTP password) and the dashboard's token: a step's failure text is already
scrubbed by the DHIS2 client, this is the last check before anything leaves the machine.
"""

from __future__ import annotations

import os
from urllib.parse import urlparse

from dhis_sync_pipeline.config import SyncFile

MASK = "********"
OTHER_SECRET_ENVS = ("DHIS_SYNC_DASHBOARD_TOKEN", "DHIS_SYNC_DASHBOARD_SECRET")
MIN_LENGTH = 4  # shorter values would mask ordinary words


def known_secrets(sync_file: SyncFile) -> list[str]:
    names = [i.auth.secret_env for i in sync_file.instances] + list(OTHER_SECRET_ENVS)
    sections = [sync_file.notifications] + [c.notifications for c in sync_file.sync_configurations]
    names += [name for section in sections if section for name, _ in section.secret_envs()]
    values: set[str] = set()
    for name in names:
        value = os.environ.get(name)
        if value and len(value) >= MIN_LENGTH:
            values.add(value)
            parsed = urlparse(value)
            if parsed.scheme in ("http", "https") and len(parsed.path) >= 8:
                values.add(parsed.path)  # errors name a URL's host and path apart
    return sorted(values, key=len, reverse=True)  # longest first, so no tail of one is left


def scrub(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, MASK)
    return text
