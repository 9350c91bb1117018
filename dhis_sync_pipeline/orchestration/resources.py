"""DHIS2 instances as Dagster resources, one per instance in the configuration file.

Secrets are `EnvVar`s: Dagster resolves them in the process that runs a step, and the UI, run
config and logs only ever show the variable's name.
"""

from __future__ import annotations

import re

from dagster import ConfigurableResource, EnvVar

from dhis_sync_pipeline.config import BasicAuthConfig, InstanceConfig
from dhis_sync_pipeline.dhis2 import DHIS2Client
from dhis_sync_pipeline.dhis2.auth import ApiTokenAuth, BasicAuth


class DHIS2InstanceResource(ConfigurableResource):
    """Connection settings of one DHIS2 server; `client()` opens a session to it."""

    name: str
    base_url: str
    username: str | None = None
    password: str | None = None
    token: str | None = None
    connect_timeout: float = 10.0
    read_timeout: float = 120.0
    max_retries: int = 5
    backoff_factor: float = 0.5
    verify_tls: bool = True

    def client(self) -> DHIS2Client:
        if self.token:
            auth = ApiTokenAuth(self.token)
        elif self.username:
            auth = BasicAuth(self.username, self.password or "")
        else:
            auth = None
        return DHIS2Client(
            self.base_url,
            auth=auth,
            name=self.name,
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            max_retries=self.max_retries,
            backoff_factor=self.backoff_factor,
            verify_tls=self.verify_tls,
        )


def resource_key(instance_name: str) -> str:
    """A valid Dagster resource key for an instance name."""
    return "dhis2_" + re.sub(r"[^A-Za-z0-9_]", "_", instance_name).lower()


def instance_resource(instance: InstanceConfig) -> DHIS2InstanceResource:
    auth = instance.auth
    common = dict(
        name=instance.name,
        base_url=instance.base_url,
        connect_timeout=instance.timeouts.connect,
        read_timeout=instance.timeouts.read,
        max_retries=instance.http_retries.max_retries,
        backoff_factor=instance.http_retries.backoff_factor,
        verify_tls=instance.verify_tls,
    )
    if isinstance(auth, BasicAuthConfig):
        return DHIS2InstanceResource(username=auth.username, password=EnvVar(auth.password_env), **common)
    return DHIS2InstanceResource(token=EnvVar(auth.token_env), **common)
