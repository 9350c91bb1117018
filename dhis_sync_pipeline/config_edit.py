"""Edit the configuration file (CLI and dashboard forms), changing only the lines the edit is about.

A YAML dumper re-indents and re-wraps whatever it writes, so the file is edited as text instead:
the YAML parser says where each key and value sits, only those spans are replaced (or new lines
inserted), and every other line stays byte for byte as the operator wrote it. Before anything is
written, the edited text must parse to exactly the intended document (nothing else changed) and
validate as a whole; then it replaces the file atomically with the file's permission mode kept.
A bad edit leaves the file untouched.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import re
import stat
import tempfile
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from dhis_sync_pipeline.config import ConfigError, SyncFile, _plain, _read_yaml, parse_config

PLAIN_SCALAR = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-/]*")
UNUSUAL_YAML = (
    "this file's YAML uses a form the in-place editor cannot change without touching other lines "
    "(e.g. an alias or an explicit '?' key); make the change by hand (see README: Configuration)"
)


def update_auto_sync(path: Path, config_id: str, changes: dict[str, Any], execution_mode: str | None = None) -> SyncFile:
    """Set keys under `auto_sync` (and optionally `execution_mode`) of one configuration."""
    document = _Document.read(path)
    index = document.config_index(config_id)
    entry = ("sync_configurations", index)
    if execution_mode is not None:
        document.set_key(entry, "execution_mode", execution_mode)
    if changes:
        if isinstance(document.expected["sync_configurations"][index].get("auto_sync"), dict):
            for key, value in changes.items():
                document.set_key((*entry, "auto_sync"), key, value)
        else:
            document.set_key(entry, "auto_sync", dict(changes))
    return document.write()


def add_sync_config(path: Path, entry: dict[str, Any]) -> SyncFile:
    """Append a sync configuration."""
    document = _Document.read(path)
    if isinstance(document.expected.get("sync_configurations"), list):
        document.append((), "sync_configurations", entry)
    else:
        document.set_key((), "sync_configurations", [entry])
    return document.write()


#: A value in an update's `changes` that removes the key (e.g. start_date when a relative window is chosen).
DELETE = object()


def update_sync_config(path: Path, config_id: str, changes: dict[str, Any]) -> SyncFile:
    """Set keys of one configuration; a dict merges into an existing mapping, key by key."""
    document = _Document.read(path)
    document.merge(("sync_configurations", document.config_index(config_id)), changes)
    return document.write()


def add_instance(path: Path, entry: dict[str, Any]) -> SyncFile:
    """Append a DHIS2 instance."""
    document = _Document.read(path)
    if isinstance(document.expected.get("instances"), list) and document.expected["instances"]:
        document.append((), "instances", entry)
    else:
        document.set_key((), "instances", [entry])
    return document.write()


def update_instance(path: Path, name: str, changes: dict[str, Any]) -> SyncFile:
    """Set keys of one instance; its `auth` is replaced whole when its type changes (the keys differ)."""
    document = _Document.read(path)
    instances = document.expected.get("instances") or []
    index = next((i for i, e in enumerate(instances) if isinstance(e, dict) and e.get("name") == name), None)
    if index is None:
        known = ", ".join(str(e.get("name")) for e in instances if isinstance(e, dict))
        raise ConfigError(path, [f"instances: no instance named '{name}' (known: {known or 'none'})"])
    where = ("instances", index)
    changes = dict(changes)
    auth = changes.pop("auth", None)
    current_auth = instances[index].get("auth")
    if auth is not None:
        if isinstance(current_auth, dict) and current_auth.get("type") == auth.get("type"):
            document.merge((*where, "auth"), auth)
        else:
            document.set_key(where, "auth", auth)
    document.merge(where, changes)
    return document.write()


class _Document:
    """The file's text, edited span by span, and the plain data it is meant to hold afterwards."""

    def __init__(self, path: Path, raw: bytes):
        self.path = path
        self.original = raw
        text = raw.decode("utf-8")
        self.bom = "\ufeff" if text.startswith("\ufeff") else ""
        self.text = text[len(self.bom):]
        self.newline = "\r\n" if "\r\n" in self.text else "\n"
        self.expected = _plain(_read_yaml(self.text, path))  # a syntax error is reported with its line
        if not isinstance(self.expected, dict):
            raise ConfigError(path, ["the top level must be a mapping with 'instances' and 'sync_configurations'"])

    @classmethod
    def read(cls, path: Path) -> _Document:
        if not path.exists():
            raise ConfigError(path, ["file not found; create it first (see README: Configuration)"])
        return cls(path, path.read_bytes())

    def config_index(self, config_id: str) -> int:
        configs = self.expected.get("sync_configurations") or []
        for index, entry in enumerate(configs):
            if isinstance(entry, dict) and entry.get("id") == config_id:
                return index
        known = ", ".join(str(e.get("id")) for e in configs if isinstance(e, dict))
        raise ConfigError(self.path, [f"sync_configurations: no configuration with id '{config_id}' (known: {known or 'none'})"])

    # --- edits: each one re-reads the edited text, so positions are always current ----------

    def set_key(self, where: tuple, key: str, value: Any) -> None:
        _at(self.expected, where)[key] = copy.deepcopy(value)
        with self._unusual_yaml():
            mapping = self._node(where)
            for key_node, value_node in mapping.value:
                if key_node.value == key:
                    self.text = _replace_value(self.text, key_node, value_node, value, mapping.flow_style, self.newline)
                    return
            self.text = _add_key(self.text, mapping, key, value, self.newline)

    def merge(self, where: tuple, changes: dict[str, Any]) -> None:
        """Set each key; a dict value goes into an existing mapping key by key; DELETE removes a key."""
        current = _at(self.expected, where)
        deletions = []
        for key, value in changes.items():
            kept = _without_deletions(value)
            if value is DELETE or kept == {} and isinstance(value, dict) and value:
                deletions.append(key)  # a section whose every key goes, goes too
            elif isinstance(value, dict) and value and isinstance(current.get(key), dict):
                self.merge((*where, key), value)
            else:
                self.set_key(where, key, kept)
        for key in deletions:  # after the additions, so a mapping never passes through empty
            if key in current:
                self.delete_key(where, key)

    def delete_key(self, where: tuple, key: str) -> None:
        del _at(self.expected, where)[key]
        with self._unusual_yaml():
            mapping = self._node(where)
            [(key_node, value_node)] = [(k, v) for k, v in mapping.value if k.value == key]
            if len(mapping.value) == 1:
                raise ValueError("the last key of a mapping")  # it would become null, not {}
            if mapping.flow_style:
                self.text = _delete_flow_pair(self.text, mapping, key_node, value_node)
            else:
                self.text = _delete_block_pair(self.text, key_node, value_node)

    def append(self, where: tuple, key: str, item: Any) -> None:
        _at(self.expected, where)[key].append(copy.deepcopy(item))
        with self._unusual_yaml():
            mapping = self._node(where)
            [(key_node, sequence)] = [(k, v) for k, v in mapping.value if k.value == key]
            self.text = _append_item(self.text, key_node, sequence, item, mapping.flow_style, self.newline)

    @contextlib.contextmanager
    def _unusual_yaml(self):
        """A YAML form the text surgery does not know (explicit keys, aliases…) is refused, not guessed at."""
        try:
            yield
        except (AssertionError, StopIteration, IndexError, ValueError, YAMLError):
            raise ConfigError(self.path, [UNUSUAL_YAML]) from None

    def _node(self, where: tuple) -> Node:
        node = YAML(typ="rt").compose(self.text)
        for step in where:
            if isinstance(step, int):
                node = node.value[step]
            else:
                node = next(v for k, v in node.value if k.value == step)
        assert isinstance(node, MappingNode), where  # the plain data said so
        return node

    def write(self) -> SyncFile:
        try:
            written = _plain(YAML(typ="rt").load(self.text))
        except YAMLError:
            written = None
        if written != self.expected:
            raise ConfigError(self.path, [UNUSUAL_YAML])
        sync_file = parse_config(self.text, self.path)  # raises ConfigError; the file is not touched
        _replace_file(self.path, (self.bom + self.text).encode("utf-8"))
        return sync_file


def _without_deletions(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_deletions(v) for k, v in value.items() if v is not DELETE}
    return value


def _at(data: dict, where: tuple) -> dict:
    for step in where:
        data = data[step]
    return data


def _replace_file(path: Path, content: bytes) -> None:
    """Write beside the file, give the copy the file's mode (and owner when allowed), swap atomically."""
    target = path.resolve()  # a symlinked configuration stays a symlink
    info = target.stat()
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, stat.S_IMODE(info.st_mode))
        with contextlib.suppress(OSError):  # only root may give the file back to another owner
            os.chown(tmp, info.st_uid, info.st_gid)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# --- text surgery ------------------------------------------------------------------------------


def _replace_value(text: str, key_node: Node, node: Node, value: Any, in_flow: bool, nl: str) -> str:
    colon = _colon_after(text, key_node)
    if _is_empty(node):  # `key:` with nothing after it
        if _needs_block(value) and not in_flow:
            return _insert_lines(text, colon, _block_value(value, key_node.start_mark.column + 2), nl)
        return text[:colon + 1] + " " + _flow(value) + text[colon + 1:]
    if isinstance(node, ScalarNode) or node.flow_style:
        if _needs_block(value) and not in_flow and isinstance(value, list) and not node.value:
            # `key: []` becoming a list of mappings: the items go on the lines below, block style.
            head = text[:node.start_mark.index].rstrip(" \t") + text[node.end_mark.index:]
            return _insert_lines(head, colon, _block_value(value, key_node.start_mark.column + 2), nl)
        return text[:node.start_mark.index] + _flow(value) + text[node.end_mark.index:]
    if isinstance(node, SequenceNode) and isinstance(value, list) and value and not _needs_block(value):
        # A block list stays a block list, its dashes where they were.
        items = (nl + " " * node.start_mark.column).join(f"- {_flow(v)}" for v in value)
        return text[:node.start_mark.index] + items + text[_end(text, node):]
    # Anything else: the new value in flow style on the key's line; the key's comment is kept.
    between = text[colon + 1:node.start_mark.index].rstrip(" \t\r\n")
    return text[:colon + 1] + " " + _flow(value) + between + text[_end(text, node):]


def _add_key(text: str, mapping: MappingNode, key: str, value: Any, nl: str) -> str:
    if mapping.flow_style:
        if not mapping.value:
            at = mapping.start_mark.index + 1
            return text[:at] + f"{_flow(key)}: {_flow(value)}" + text[at:]
        at = _end_of_pair(text, *mapping.value[-1])
        return text[:at] + f", {_flow(key)}: {_flow(value)}" + text[at:]
    return _insert_lines(text, _end(text, mapping), _block_pair(key, value, mapping.start_mark.column), nl)


def _append_item(text: str, key_node: Node, sequence: SequenceNode, item: Any, in_flow: bool, nl: str) -> str:
    if sequence.flow_style and sequence.value:
        at = _end(text, sequence.value[-1])
        return text[:at] + ", " + _flow(item) + text[at:]
    if sequence.flow_style:
        return _replace_value(text, key_node, sequence, [item], in_flow, nl)
    first = sequence.value[0]
    item_column = first.start_mark.column if isinstance(first, MappingNode) and not first.flow_style else None
    return _insert_lines(text, _end(text, sequence), _block_item(item, sequence.start_mark.column, item_column), nl)


def _delete_block_pair(text: str, key_node: Node, value_node: Node) -> str:
    """Remove the whole lines of a block mapping's `key: value` (the key must start its line)."""
    start = text.rfind("\n", 0, key_node.start_mark.index) + 1
    if text[start:key_node.start_mark.index].strip():
        raise ValueError("the key shares its line (e.g. the first key of a '- ' item)")
    end = text.find("\n", _end_of_pair(text, key_node, value_node))
    end = len(text) if end < 0 else end + 1
    return text[:start] + text[end:]


def _delete_flow_pair(text: str, mapping: MappingNode, key_node: Node, value_node: Node) -> str:
    """Remove `key: value` and one comma beside it from a flow mapping."""
    pairs = mapping.value
    position = next(i for i, (k, _) in enumerate(pairs) if k is key_node)
    if position + 1 < len(pairs):  # up to the next key
        return text[:key_node.start_mark.index] + text[pairs[position + 1][0].start_mark.index:]
    previous_end = _end_of_pair(text, *pairs[position - 1])  # from the end of the previous pair
    return text[:previous_end] + text[_end_of_pair(text, key_node, value_node):]


def _end(text: str, node: Node) -> int:
    """Where the node's own text ends (a block collection's last leaf, not the comments after it)."""
    if isinstance(node, ScalarNode) or node.flow_style or not node.value:
        return node.end_mark.index
    if isinstance(node, MappingNode):
        return _end_of_pair(text, *node.value[-1])
    return _end(text, node.value[-1])


def _end_of_pair(text: str, key_node: Node, value_node: Node) -> int:
    return _colon_after(text, key_node) + 1 if _is_empty(value_node) else _end(text, value_node)


def _is_empty(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.start_mark.index == node.end_mark.index


def _colon_after(text: str, key_node: Node) -> int:
    at = key_node.end_mark.index
    while text[at] in " \t":
        at += 1
    assert text[at] == ":", (key_node.value, text[at:at + 20])
    return at


def _insert_lines(text: str, position: int, lines: list[str], nl: str) -> str:
    """Insert whole lines after the line holding `position`."""
    if position > 0 and text[position - 1] == "\n":
        at = position  # already at a line start (after a block scalar)
    else:
        at = text.find("\n", position)
        at = len(text) if at < 0 else at + 1
    prefix = nl if at == len(text) and text and not text.endswith("\n") else ""
    return text[:at] + prefix + "".join(line + nl for line in lines) + text[at:]


# --- rendering new values ----------------------------------------------------------------------


def _needs_block(value: Any) -> bool:
    return (isinstance(value, dict) and bool(value)) or (
        isinstance(value, list) and any(isinstance(v, dict) for v in value))


def _block_pair(key: str, value: Any, column: int) -> list[str]:
    if _needs_block(value):
        return [" " * column + f"{_flow(key)}:", *_block_value(value, column + 2)]
    return [" " * column + f"{_flow(key)}: {_flow(value)}"]


def _block_value(value: Any, column: int) -> list[str]:
    if isinstance(value, dict):
        return [line for key, v in value.items() for line in _block_pair(key, v, column)]
    return [line for item in value for line in _block_item(item, column, None)]


def _block_item(item: Any, dash_column: int, item_column: int | None) -> list[str]:
    """One sequence item; a mapping's keys line up at `item_column` (default: after '- ')."""
    if not isinstance(item, dict) or not item:
        return [" " * dash_column + f"- {_flow(item)}"]
    column = item_column if item_column is not None and item_column > dash_column + 1 else dash_column + 2
    lines = _block_value(item, column)
    lines[0] = " " * dash_column + "-" + " " * (column - dash_column - 1) + lines[0][column:]
    return lines


def _flow(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return value if _reads_back_as(value) else json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_flow(k)}: {_flow(v)}" for k, v in value.items()) + "}"
    return "[" + ", ".join(_flow(v) for v in value) + "]"


def _reads_back_as(text: str) -> bool:
    """Whether `text` may be written unquoted and still read back as the same string."""
    if not PLAIN_SCALAR.fullmatch(text):
        return False
    loaded = YAML(typ="rt").load(text)
    return type(loaded) is str and loaded == text
