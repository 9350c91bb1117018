"""Edit the configuration file from the CLI without losing the operator's comments or layout.

ruamel.yaml's round-trip mode keeps comments, key order and quoting; every edit is validated as a
whole file before anything is written, and the file is replaced atomically, so a bad edit leaves
the original untouched.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from dhis_sync_pipeline.config import ConfigError, SyncFile, parse_config


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap the operator's lines
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def update_auto_sync(path: Path, config_id: str, changes: dict[str, Any], execution_mode: str | None = None) -> SyncFile:
    """Set keys under `auto_sync` (and optionally `execution_mode`) of one configuration."""
    document = _load(path)
    entry = _find(document, config_id, path)
    if execution_mode is not None:
        entry["execution_mode"] = execution_mode
    section = entry.get("auto_sync")
    if not isinstance(section, dict):
        section = CommentedMap()
        entry["auto_sync"] = section
    for key, value in changes.items():
        section[key] = CommentedSeq(value) if isinstance(value, (list, tuple)) else value
    return _validate_and_write(document, path)


def add_sync_config(path: Path, entry: dict[str, Any]) -> SyncFile:
    """Append a sync configuration."""
    document = _load(path)
    configs = document.get("sync_configurations")
    if not isinstance(configs, list):
        configs = CommentedSeq()
        document["sync_configurations"] = configs
    configs.append(_commented(entry))
    return _validate_and_write(document, path)


def _commented(value: Any) -> Any:
    if isinstance(value, dict):
        return CommentedMap((k, _commented(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return CommentedSeq(_commented(v) for v in value)
    return value


def _load(path: Path) -> CommentedMap:
    if not path.exists():
        raise ConfigError(path, ["file not found; create it first (see README: Configuration)"])
    document = _yaml().load(path.read_text(encoding="utf-8"))
    if not isinstance(document, CommentedMap):
        raise ConfigError(path, ["the top level must be a mapping with 'instances' and 'sync_configurations'"])
    return document


def _find(document: CommentedMap, config_id: str, path: Path) -> CommentedMap:
    for entry in document.get("sync_configurations") or []:
        if isinstance(entry, dict) and entry.get("id") == config_id:
            return entry
    known = ", ".join(str(e.get("id")) for e in document.get("sync_configurations") or [] if isinstance(e, dict))
    raise ConfigError(path, [f"sync_configurations: no configuration with id '{config_id}' (known: {known or 'none'})"])


def _validate_and_write(document: CommentedMap, path: Path) -> SyncFile:
    buffer = io.StringIO()
    _yaml().dump(document, buffer)
    text = buffer.getvalue()
    sync_file = parse_config(text, path)  # raises ConfigError; the file is not touched
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)
    return sync_file
