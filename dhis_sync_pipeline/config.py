"""The configuration file: DHIS2 instances and the sync configurations between them.

`load_config()` reads `dhis_sync.yaml` (path from `DHIS_SYNC_CONFIG`), validates it with pydantic
and turns every mistake into one `ConfigError` whose message names the file, the key path (with
its line) and the fix. The same message reaches the CLI, `dagster definitions validate` and the
Dagster UI's code-location error, because they all load the file through here.

Secrets never live in the file: instances name the environment variable holding the password
or token, and a password written in the file is refused.
"""

from __future__ import annotations

import datetime as dt
import difflib
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from dhis_sync_pipeline.dhis2.metadata_types import DEFAULT_METADATA_RESOURCES, METADATA_TYPES

CONFIG_ENV_VAR = "DHIS_SYNC_CONFIG"
DEFAULT_CONFIG_PATH = "dhis_sync.yaml"

UID_PATTERN = re.compile(r"^[a-zA-Z][a-zA-Z0-9]{10}$")
SLUG_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
ENV_VAR_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
RELATIVE_WINDOW_PATTERN = re.compile(r"^(\d+)([dwmy])$")
TIME_WINDOW_PATTERN = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")

# Resources a sensor can watch besides metadata collections.
DATA_VALUES_RESOURCE = "dataValues"


class ConfigError(Exception):
    """A configuration file that cannot be used, with every problem found in it."""

    def __init__(self, path: str | os.PathLike[str], problems: list[str]):
        self.path = str(path)
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        noun = "problem" if len(problems) == 1 else "problems"
        super().__init__(f"Invalid DHIS2 sync configuration {self.path} ({len(problems)} {noun}):\n{lines}")


class _Strict(BaseModel):
    """Unknown keys are mistakes (usually typos), not something to ignore silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --- instances -------------------------------------------------------------------------------


def _check_env_var_name(value: str) -> str:
    if not ENV_VAR_PATTERN.match(value):
        raise ValueError(
            f"{value!r} is not an environment variable name; write the NAME of the variable "
            "(e.g. DHIS2_SOURCE_PASSWORD), not the secret itself"
        )
    return value


def _refuse_secrets(data: Any) -> Any:
    if isinstance(data, dict):
        for key in ("password", "token", "secret"):
            if key in data:
                env_key = "token_env" if key == "token" else "password_env"
                example = "DHIS2_SOURCE_TOKEN" if key == "token" else "DHIS2_SOURCE_PASSWORD"
                raise ValueError(
                    f"a {key} must not be written in the configuration file; put it in an "
                    f"environment variable and name that variable with {env_key} "
                    f"(e.g. {env_key}: {example})"
                )
    return data


class BasicAuthConfig(_Strict):
    type: Literal["basic"]
    username: str = Field(min_length=1)
    password_env: str

    _check_password_env = field_validator("password_env")(_check_env_var_name)
    _no_secrets = model_validator(mode="before")(_refuse_secrets)

    @property
    def secret_env(self) -> str:
        return self.password_env


class TokenAuthConfig(_Strict):
    type: Literal["token"]
    token_env: str

    _check_token_env = field_validator("token_env")(_check_env_var_name)
    _no_secrets = model_validator(mode="before")(_refuse_secrets)

    @property
    def secret_env(self) -> str:
        return self.token_env


class Timeouts(_Strict):
    connect: float = Field(default=10.0, gt=0, le=300)
    read: float = Field(default=120.0, gt=0, le=3600)


class HttpRetries(_Strict):
    """Retries of one request on connection errors, 429 and 502/503/504, with exponential backoff."""

    max_retries: int = Field(default=5, ge=0, le=20)
    backoff_factor: float = Field(default=0.5, ge=0, le=60)


class InstanceConfig(_Strict):
    name: str = Field(min_length=1)
    base_url: str
    auth: Annotated[BasicAuthConfig | TokenAuthConfig, Field(discriminator="type")]
    timeouts: Timeouts = Timeouts()
    http_retries: HttpRetries = HttpRetries()
    verify_tls: bool = True

    @field_validator("base_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        parsed = urlparse(value)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(
                f"{value!r} is not an http(s) URL; write the server's address, "
                "e.g. https://dhis2.example.org or https://example.org/dhis"
            )
        if parsed.path.rstrip("/").endswith("/api"):
            raise ValueError(f"{value!r} ends with /api; give the server's root URL without /api")
        if parsed.username or parsed.password:
            raise ValueError("base_url must not contain credentials; use the auth section")
        return value.rstrip("/")


# --- sync configurations ---------------------------------------------------------------------

ImportStrategy = Literal["CREATE", "UPDATE", "CREATE_AND_UPDATE", "DELETE"]


class ImportOptions(_Strict):
    """Passed to DHIS2's importers under the same names DHIS2 uses."""

    import_strategy: ImportStrategy = "CREATE_AND_UPDATE"
    atomic_mode: Literal["ALL", "NONE"] = "NONE"
    merge_mode: Literal["MERGE", "REPLACE"] = "REPLACE"
    skip_sharing: bool = False
    dry_run: bool = False


class PageSizes(_Strict):
    metadata_read: int = Field(default=500, ge=1, le=10_000)  # objects per page of a type read in pages
    # A type with more changed objects than this is read in pages; smaller ones all come in one
    # GET /api/metadata together.
    metadata_export: int = Field(default=50_000, ge=1, le=1_000_000)
    # Objects per POST /api/metadata (of all types together: DHIS2 orders one payload itself).
    metadata_write: int = Field(default=5_000, ge=1, le=50_000)
    data_values: int = Field(default=10_000, ge=50, le=30_000)
    # Rows one dataValueSets answer may hold before its slice is split (`limit`, never a page).
    data_values_slice_cap: int = Field(default=200_000, ge=100, le=5_000_000)


class StepRetries(_Strict):
    """Dagster step retries when a server is unreachable or answers 5xx after HTTP retries."""

    max_retries: int = Field(default=2, ge=0, le=10)
    delay_seconds: int = Field(default=30, ge=0, le=3600)


class MetadataSection(_Strict):
    resources: tuple[str, ...] = DEFAULT_METADATA_RESOURCES
    propagate_deletions: bool = False

    @field_validator("resources")
    @classmethod
    def _known_resources(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [r for r in value if r not in METADATA_TYPES]
        if unknown:
            raise ValueError(f"unknown metadata resource {_with_suggestions(unknown, METADATA_TYPES)}")
        duplicates = sorted({r for r in value if value.count(r) > 1})
        if duplicates:
            raise ValueError(f"{', '.join(duplicates)} listed more than once")
        return value


def _with_suggestions(unknown: list[str], known: Any) -> str:
    """Name the unknown values and, for each, the closest known DHIS2 name."""
    parts = []
    for value in unknown:
        close = difflib.get_close_matches(value, list(known), n=1)
        parts.append(f"{value!r}" + (f" (did you mean '{close[0]}'?)" if close else ""))
    return (
        ", ".join(parts)
        + "; use DHIS2 collection names as in the API, e.g. dataElements, organisationUnits "
        "(README: Configuration lists them all)"
    )


class DataSection(_Strict):
    data_sets: tuple[str, ...] = Field(min_length=1)
    org_units: tuple[str, ...] = Field(min_length=1)
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    relative_window: str | None = None
    complete_registrations: bool = True

    @field_validator("data_sets", "org_units")
    @classmethod
    def _uids(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [v for v in value if not UID_PATTERN.match(v)]
        if bad:
            raise ValueError(
                f"{', '.join(map(repr, bad))} is not a DHIS2 UID (11 characters, a letter then "
                "letters or digits); copy the id from the source server"
            )
        return value

    @field_validator("relative_window")
    @classmethod
    def _window(cls, value: str | None) -> str | None:
        if value is not None and not RELATIVE_WINDOW_PATTERN.match(value):
            raise ValueError(
                f"{value!r} is not a relative window; write a number and a unit, "
                "d (days), w (weeks), m (months) or y (years), e.g. 90d or 12m"
            )
        return value

    @model_validator(mode="after")
    def _one_time_selection(self) -> DataSection:
        dates = self.start_date is not None or self.end_date is not None
        if dates and self.relative_window:
            raise ValueError("give either start_date/end_date or relative_window, not both")
        if not dates and not self.relative_window:
            raise ValueError("give a time selection: start_date and end_date, or relative_window (e.g. 12m)")
        if dates and (self.start_date is None or self.end_date is None):
            raise ValueError("start_date and end_date go together; give both")
        if dates and self.start_date > self.end_date:  # type: ignore[operator]
            raise ValueError(f"start_date {self.start_date} is after end_date {self.end_date}")
        return self

    def window(self, today: dt.date) -> tuple[dt.date, dt.date]:
        """The first run's period selection, as start and end dates."""
        if self.start_date is not None and self.end_date is not None:
            return self.start_date, self.end_date
        match = RELATIVE_WINDOW_PATTERN.match(self.relative_window or "")
        assert match  # guaranteed by validation
        count, unit = int(match.group(1)), match.group(2)
        days = {"d": 1, "w": 7, "m": 31, "y": 366}[unit] * count
        return today - dt.timedelta(days=days), today


class TimeWindow(BaseModel):
    """A daily window such as 20:00-06:00 (may cross midnight), in the source's time zone."""

    model_config = ConfigDict(frozen=True)
    start: dt.time
    end: dt.time

    @classmethod
    def parse(cls, text: str) -> TimeWindow:
        match = TIME_WINDOW_PATTERN.match(text.replace(" ", "").replace("–", "-"))
        if not match:
            raise ValueError(f"{text!r} is not a time window; write HH:MM-HH:MM, e.g. 20:00-06:00")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if (h1, m1) == (h2, m2):
            raise ValueError(f"{text!r} starts and ends at the same time; omit the window to allow all day")
        return cls(start=dt.time(h1, m1), end=dt.time(h2, m2))

    def contains(self, moment: dt.time) -> bool:
        if self.start < self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


class AutoSyncSettings(_Strict):
    enabled: bool = True
    check_interval: int = Field(default=300, ge=60, le=86_400)
    monitored_resources: tuple[str, ...] = ()
    max_runs_per_hour: int = Field(default=6, ge=1, le=60)
    cooldown_after_error: int = Field(default=900, ge=0, le=86_400)
    allowed_time_windows: tuple[str, ...] = ()
    full_sync_cron: str | None = None

    @field_validator("check_interval", mode="before")
    @classmethod
    def _interval_hint(cls, value: Any) -> Any:
        if isinstance(value, int) and value < 60:
            raise ValueError(
                f"check_interval is {value} seconds; it must be at least 60 so the source server "
                "is not polled too often (write 60 or more)"
            )
        return value

    @field_validator("monitored_resources")
    @classmethod
    def _known(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [r for r in value if r not in METADATA_TYPES and r != DATA_VALUES_RESOURCE]
        if unknown:
            known = [*METADATA_TYPES, DATA_VALUES_RESOURCE]
            raise ValueError(f"unknown monitored resource {_with_suggestions(unknown, known)}")
        return value

    @field_validator("allowed_time_windows")
    @classmethod
    def _windows(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for text in value:
            TimeWindow.parse(text)
        return value

    @field_validator("full_sync_cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is None:
            return value
        from dagster._utils.schedules import is_valid_cron_string

        if not is_valid_cron_string(value):
            raise ValueError(f"{value!r} is not a cron expression; write five fields, e.g. '0 2 * * 0'")
        return value

    def time_windows(self) -> list[TimeWindow]:
        return [TimeWindow.parse(text) for text in self.allowed_time_windows]


class TrackerSection(_Strict):
    """Tracker and event data of some programmes (sync/tracker.py)."""

    programs: tuple[str, ...] = Field(min_length=1)  # tracker and single-event programmes
    org_units: tuple[str, ...] = Field(min_length=1)  # roots
    org_unit_mode: Literal["SELECTED", "CHILDREN", "DESCENDANTS"] = "DESCENDANTS"
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    relative_window: str | None = None  # events occurred in the window; None: all of them
    page_size: int = Field(default=1_000, ge=10, le=10_000)  # read pages and posted chunks
    overlap_seconds: int = Field(default=300, ge=0, le=86_400)  # re-read before the watermark
    propagate_deletions: bool = True

    _uids = field_validator("programs", "org_units")(DataSection._uids.__func__)  # type: ignore[attr-defined]
    _window = field_validator("relative_window")(DataSection._window.__func__)  # type: ignore[attr-defined]

    @model_validator(mode="after")
    def _dates(self) -> TrackerSection:
        dates = self.start_date is not None or self.end_date is not None
        if dates and self.relative_window:
            raise ValueError("give either start_date/end_date or relative_window, not both")
        if dates and (self.start_date is None or self.end_date is None):
            raise ValueError("start_date and end_date go together; give both")
        if dates and self.start_date > self.end_date:  # type: ignore[operator]
            raise ValueError(f"start_date {self.start_date} is after end_date {self.end_date}")
        return self

    def window(self, today: dt.date) -> tuple[dt.date, dt.date] | None:
        if self.start_date is None and self.relative_window is None:
            return None
        return DataSection.window(self, today)  # type: ignore[arg-type]


# --- notifications ---------------------------------------------------------------------------

NotificationEvent = Literal["failure", "recovery", "success"]
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+$")


def _refuse_notification_secrets(data: Any) -> Any:
    if isinstance(data, dict):
        if "webhook_url" in data:
            raise ValueError(
                "a webhook URL carries its own secret and must not be written in the configuration file; "
                "put it in an environment variable and name that variable with webhook_url_env "
                "(e.g. webhook_url_env: DHIS_SYNC_WEBHOOK)"
            )
        if "password" in data:
            raise ValueError(
                "an SMTP password must not be written in the configuration file; put it in an environment "
                "variable and name that variable with password_env (e.g. password_env: DHIS_SYNC_SMTP_PASSWORD)"
            )
    return data


class EmailNotification(_Strict):
    """An SMTP server to send alerts through (STARTTLS on port 587 by default)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    smtp_host: str = Field(min_length=1)
    smtp_port: int = Field(default=587, ge=1, le=65_535)
    starttls: bool = True
    username: str | None = None
    password_env: str | None = None
    sender: str = Field(alias="from")
    to: tuple[str, ...] = Field(min_length=1)

    _no_secrets = model_validator(mode="before")(_refuse_notification_secrets)

    @field_validator("password_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        return None if value is None else _check_env_var_name(value)

    @field_validator("sender")
    @classmethod
    def _sender(cls, value: str) -> str:
        if not EMAIL_PATTERN.match(value):
            raise ValueError(f"{value!r} is not an e-mail address; write e.g. from: dhis-sync@example.org")
        return value

    @field_validator("to")
    @classmethod
    def _recipients(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [v for v in value if not EMAIL_PATTERN.match(v)]
        if bad:
            raise ValueError(f"{', '.join(map(repr, bad))} is not an e-mail address; write e.g. to: [team@example.org]")
        return value

    @model_validator(mode="after")
    def _login_pair(self) -> EmailNotification:
        if (self.username is None) != (self.password_env is None):
            raise ValueError("username and password_env go together: give both to log in to the SMTP server, "
                             "or neither to send without logging in")
        return self


class NotificationsConfig(_Strict):
    """Alerts by chat webhook and/or e-mail when a run fails, recovers or succeeds.

    At the top of the file it is the default; a configuration's own section overrides the keys it
    gives (`email` as a whole)."""

    on: tuple[NotificationEvent, ...] = ("failure", "recovery")
    webhook_url_env: str | None = None
    kind: Literal["slack", "teams", "json"] = "slack"
    email: EmailNotification | None = None
    # Where the links in messages point; default: DHIS_SYNC_DAGSTER_URL / DHIS_SYNC_DASHBOARD_URL.
    dagster_url: str | None = None
    dashboard_url: str | None = None

    _no_secrets = model_validator(mode="before")(_refuse_notification_secrets)

    @field_validator("webhook_url_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        return None if value is None else _check_env_var_name(value)

    @field_validator("dagster_url", "dashboard_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and urlparse(value).scheme not in ("http", "https"):
            raise ValueError(f"{value!r} is not an http(s) URL; write e.g. https://dagster.example.org")
        return value.rstrip("/") if value else value

    def secret_envs(self) -> list[tuple[str, str]]:
        """(variable, key) of each secret this section names."""
        found = [(self.webhook_url_env, "webhook_url_env")] if self.webhook_url_env else []
        if self.email and self.email.password_env:
            found.append((self.email.password_env, "email.password_env"))
        return found


class SyncConfig(_Strict):
    id: str
    name: str = Field(min_length=1)
    source: str
    destination: str
    execution_mode: Literal["manual", "automatic"] = "manual"
    metadata: MetadataSection = MetadataSection()
    data: DataSection | None = None
    import_options: ImportOptions = ImportOptions()
    page_sizes: PageSizes = PageSizes()
    error_tolerance: int = Field(default=0, ge=0)
    step_retries: StepRetries = StepRetries()
    auto_sync: AutoSyncSettings | None = None
    notifications: NotificationsConfig | None = None  # overrides the file's default, key by key
    tracker: TrackerSection | None = None  # tracker and event data (sync/tracker.py)

    @field_validator("id")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not SLUG_PATTERN.match(value):
            suggestion = re.sub(r"[^a-z0-9_]+", "_", value.lower()).strip("_") or "my_sync"
            if not suggestion[0].isalpha():
                suggestion = f"sync_{suggestion}"
            raise ValueError(
                f"{value!r} is not a valid id; use lower-case letters, digits and underscores, "
                f"starting with a letter (e.g. {suggestion!r}); it becomes the Dagster job name"
            )
        return value

    @model_validator(mode="after")
    def _source_is_not_destination(self) -> SyncConfig:
        if self.source == self.destination:
            raise ValueError(
                f"source and destination are both '{self.source}'; a sync needs two different instances"
            )
        return self

    @property
    def auto(self) -> AutoSyncSettings:
        return self.auto_sync or AutoSyncSettings()

    @property
    def is_automatic(self) -> bool:
        return self.execution_mode == "automatic"

    @property
    def job_name(self) -> str:
        return f"sync_{self.id}"

    @property
    def metadata_resources(self) -> tuple[str, ...]:
        return self.metadata.resources


class SyncFile(_Strict):
    instances: tuple[InstanceConfig, ...]
    sync_configurations: tuple[SyncConfig, ...] = ()
    notifications: NotificationsConfig | None = None  # the default of every configuration

    @model_validator(mode="after")
    def _cross_references(self) -> SyncFile:
        problems: list[str] = []
        names = [i.name for i in self.instances]
        if not names:
            problems.append("instances: no DHIS2 instance is defined; add at least a source and a destination")
        for name in sorted({n for n in names if names.count(n) > 1}):
            problems.append(f"instances: the name '{name}' is used more than once; give each instance its own name")
        ids = [c.id for c in self.sync_configurations]
        for dup in sorted({i for i in ids if ids.count(i) > 1}):
            problems.append(f"sync_configurations: the id '{dup}' is used more than once; ids must be unique")
        for index, config in enumerate(self.sync_configurations):
            for role in ("source", "destination"):
                ref = getattr(config, role)
                if ref not in names:
                    problems.append(
                        f"sync_configurations[{index}].{role}: unknown instance '{ref}'; "
                        f"define it under instances or use one of: {', '.join(names)}"
                    )
        if problems:
            raise _CrossReferenceErrors(problems)
        return self

    @model_validator(mode="after")
    def _notification_channels(self) -> SyncFile:
        problems = []
        if self.notifications is not None and self.notifications.on and not _has_channel(self.notifications):
            if not all(c.notifications for c in self.sync_configurations):  # someone inherits it as is
                problems.append("notifications: no channel to send to; add webhook_url_env or email")
        for index, config in enumerate(self.sync_configurations):
            effective = self.notifications_for(config)
            if config.notifications is not None and effective and effective.on and not _has_channel(effective):
                problems.append(f"sync_configurations[{index}].notifications: no channel to send to; add "
                                "webhook_url_env or email here or in the notifications section at the top")
        if problems:
            raise _CrossReferenceErrors(problems)
        return self

    def notifications_for(self, config: SyncConfig) -> NotificationsConfig | None:
        """The file's default notifications with the keys the configuration sets replaced."""
        own, default = config.notifications, self.notifications
        if own is None or default is None:
            return own or default
        return default.model_copy(update={name: getattr(own, name) for name in own.model_fields_set})

    def instance(self, name: str) -> InstanceConfig:
        for instance in self.instances:
            if instance.name == name:
                return instance
        raise KeyError(name)

    def missing_secrets(self, config: SyncConfig) -> list[str]:
        """Problems for the secrets of a configuration's instances that this environment lacks."""
        problems = []
        for role in ("source", "destination"):
            instance = self.instance(getattr(config, role))
            if not os.environ.get(instance.auth.secret_env):
                problems.append(
                    f"{instance.auth.secret_env} is not set (the secret of {role} instance '{instance.name}'); "
                    f"export it here and in the environment of the Dagster webserver and daemon"
                )
        return problems

    def unset_secrets(self) -> list[str]:
        """Warnings, one per instance whose secret variable this environment does not set (never a value)."""
        warnings = []
        for instance in self.instances:
            name = instance.auth.secret_env
            if not os.environ.get(name):
                field = "password_env" if instance.auth.type == "basic" else "token_env"
                warnings.append(
                    f"instance '{instance.name}': {name} (its {field}) is not set, so syncs using it will fail; "
                    f"export {name}=… in the environment of the webserver, daemon and run workers"
                )
        sections = [("notifications", self.notifications)] + [
            (f"configuration '{c.id}' notifications", c.notifications) for c in self.sync_configurations]
        for where, section in sections:
            for name, key in section.secret_envs() if section else ():
                if not os.environ.get(name):
                    warnings.append(f"{where}: {name} (its {key}) is not set, so those messages cannot be sent; "
                                    f"export {name}=… in the environment of the dagster-daemon")
        return warnings

    def sync_config(self, config_id: str) -> SyncConfig:
        for config in self.sync_configurations:
            if config.id == config_id:
                return config
        known = ", ".join(c.id for c in self.sync_configurations) or "none"
        raise KeyError(f"no sync configuration '{config_id}' (known: {known})")


def _has_channel(section: NotificationsConfig) -> bool:
    return bool(section.webhook_url_env or section.email)


class _CrossReferenceErrors(ValueError):
    """Problems already phrased with their key paths."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


# --- loading ---------------------------------------------------------------------------------


def config_path() -> Path:
    return Path(os.environ.get(CONFIG_ENV_VAR, DEFAULT_CONFIG_PATH))


def load_config(path: str | os.PathLike[str] | None = None) -> SyncFile:
    """Read and validate the configuration file, or raise one ConfigError listing every problem."""
    file = Path(path) if path is not None else config_path()
    if not file.exists():
        raise ConfigError(
            file,
            [
                f"file not found (looked at {file.resolve()}); create it, or point "
                f"{CONFIG_ENV_VAR} at your configuration file (see README: Configuration)"
            ],
        )
    return parse_config(file.read_text(encoding="utf-8"), file)


def parse_config(text: str, file: str | os.PathLike[str] = DEFAULT_CONFIG_PATH) -> SyncFile:
    document = _read_yaml(text, file)
    if document is None:
        raise ConfigError(file, ["the file is empty; it needs an 'instances' section (see README: Configuration)"])
    if not isinstance(document, dict):
        raise ConfigError(file, ["the top level must be a mapping with 'instances' and 'sync_configurations'"])
    try:
        return SyncFile.model_validate(_plain(document))
    except ValidationError as exc:
        raise ConfigError(file, _describe(exc, document)) from None


def _read_yaml(text: str, file: str | os.PathLike[str]) -> Any:
    try:
        return YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        raise ConfigError(
            file, [f"YAML syntax error at {where}: {exc.problem}; check indentation and quoting there"]
        ) from None


def _plain(node: Any) -> Any:
    """ruamel's commented containers as plain dicts and lists, for pydantic."""
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def _describe(exc: ValidationError, document: Any) -> list[str]:
    problems: list[str] = []
    for error in exc.errors():
        ctx_error = (error.get("ctx") or {}).get("error")
        if isinstance(ctx_error, _CrossReferenceErrors):
            problems.extend(_with_line(p, document) for p in ctx_error.problems)
            continue
        loc = _loc_path(error["loc"])
        message = _message(error)
        problems.append(f"{loc}{_line_of(error['loc'], document)}: {message}")
    return problems


def _loc_path(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif item in ("basic", "token") and parts and parts[-1].endswith("auth"):
            continue  # the discriminated union's branch name is noise for a reader
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or "(top level)"


def _message(error: dict[str, Any]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"unknown key '{error['loc'][-1]}'; check its spelling (see README: Configuration)"
    if kind == "missing":
        return "required key is missing"
    if kind == "union_tag_invalid" or kind == "union_tag_not_found":
        return "auth.type must be 'basic' (username + password_env) or 'token' (token_env)"
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


def _line_of(loc: tuple[Any, ...], document: Any) -> str:
    node, line = document, None
    for item in loc:
        if isinstance(node, CommentedMap) and item in node:
            line = node.lc.key(item)[0]
            node = node[item]
        elif isinstance(node, CommentedSeq) and isinstance(item, int) and item < len(node):
            line = node.lc.item(item)[0]
            node = node[item]
        else:
            break
    return f" (line {line + 1})" if line is not None else ""


def _with_line(problem: str, document: Any) -> str:
    """Add the line number to a cross-reference problem phrased as 'key.path: message'."""
    path, _, message = problem.partition(": ")
    loc: list[Any] = []
    for part in re.findall(r"[A-Za-z_]+|\[\d+\]", path):
        loc.append(int(part[1:-1]) if part.startswith("[") else part)
    return f"{path}{_line_of(tuple(loc), document)}: {message}"


def describe_key(config_id: str, *loc: str | int, path: str | os.PathLike[str] | None = None) -> str:
    """Where a configuration's setting is written, e.g. `sync_configurations[0].data.org_units[1]
    (line 23) of dhis_sync.yaml`, for messages about a value the servers refused."""
    file = Path(path) if path is not None else config_path()
    try:
        document = _read_yaml(file.read_text(encoding="utf-8"), file)
        index = next(i for i, c in enumerate(document["sync_configurations"]) if c.get("id") == config_id)
    except (OSError, ConfigError, KeyError, TypeError, StopIteration):
        return f"{'.'.join(map(str, loc))} of configuration '{config_id}'"
    full = ("sync_configurations", index, *loc)
    return f"{_loc_path(full)}{_line_of(full, document)} of {file}"
