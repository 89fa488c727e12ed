"""Reading parsed YAML into typed values: each problem is recorded as `<file>: <key path>: <message>`.

A `Node` is one mapping at one key path of one file. Its getters return a usable default after recording a
problem, so one pass reports every mistake in the files instead of stopping at the first.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")


def join(path: str, key: str) -> str:
    """`path.key` for identifier-like keys, `path["key"]` otherwise (repo keys, wildcards)."""
    if _IDENTIFIER.match(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key)}]"


def at_key(path: str, key: str) -> str:
    """`path["key"]`: a key of a mapping keyed by data (a repo, an org), always bracketed."""
    return f"{path}[{json.dumps(key)}]"


def at_index(path: str, index: int) -> str:
    return f"{path}[{index}]"


def is_org_repo(key: str) -> bool:
    """`org/repo`: two non-empty names, no spaces."""
    org, slash, repo = key.partition("/")
    return bool(org and slash and repo) and "/" not in repo and not any(c.isspace() for c in key)


def is_org_or_repo(key: str) -> bool:
    """`org` or `org/repo`."""
    return is_org_repo(key) or (bool(key) and "/" not in key and not any(c.isspace() for c in key))


def type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


@dataclass
class Problems:
    """Every problem found so far, in the order found."""

    items: list[str]

    def add(self, file: str, path: str, message: str) -> None:
        self.items.append(f"{file}: {path}: {message}" if path else f"{file}: {message}")


@dataclass
class Node:
    """One mapping of one file at one key path."""

    raw: Mapping[str, Any]
    file: str
    path: str
    problems: Problems

    @classmethod
    def root(cls, value: Any, file: str, problems: Problems) -> Node | None:
        if value is None:
            return cls({}, file, "", problems)
        if not isinstance(value, dict):
            problems.add(file, "", f"the document must be a mapping, got {type_name(value)}")
            return None
        return cls(value, file, "", problems)

    def problem(self, key: str | None, message: str) -> None:
        self.problems.add(self.file, join(self.path, key) if key is not None else self.path, message)

    def keys(self, allowed: Collection[str], ignored: Collection[str] = ()) -> None:
        """Record every key that is neither `allowed` (modelled) nor `ignored` (known, accepted, unused)."""
        for key in self.raw:
            if not isinstance(key, str):
                self.problems.add(self.file, self.path, f"key {key!r} is not a string")
            elif key not in allowed and key not in ignored:
                self.problem(key, "unknown field")

    def has(self, key: str) -> bool:
        return self.raw.get(key) is not None

    def _get(self, key: str, kind: type | tuple[type, ...], what: str) -> Any:
        value = self.raw.get(key)
        if value is None:
            return None
        if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _as_tuple(kind)):
            self.problem(key, f"must be {what}, got {type_name(value)}")
            return None
        return value

    def string(self, key: str, default: str = "") -> str:
        value = self._get(key, str, "a string")
        return default if value is None else value

    def opt_string(self, key: str) -> str | None:
        value: str | None = self._get(key, str, "a string")
        return value

    def boolean(self, key: str, default: bool = False) -> bool:
        value = self._get(key, bool, "true or false")
        return default if value is None else value

    def opt_boolean(self, key: str) -> bool | None:
        value: bool | None = self._get(key, bool, "true or false")
        return value

    def integer(self, key: str, default: int = 0, *, minimum: int | None = None) -> int:
        value = self._get(key, int, "an integer")
        if value is None:
            return default
        if minimum is not None and value < minimum:
            self.problem(key, f"must be at least {minimum}, got {value}")
            return default
        return int(value)

    def str_list(self, key: str) -> tuple[str, ...]:
        return self.strings_at(self.raw.get(key), join(self.path, key))

    def strings_at(self, value: Any, path: str) -> tuple[str, ...]:
        """`value`, found at `path` of this file, as a list of strings."""
        if value is None:
            return ()
        if not isinstance(value, list):
            self.problems.add(self.file, path, f"must be a list of strings, got {type_name(value)}")
            return ()
        out: list[str] = []
        for i, item in enumerate(value):
            if isinstance(item, str):
                out.append(item)
            else:
                self.problems.add(self.file, at_index(path, i), f"must be a string, got {type_name(item)}")
        return tuple(out)

    def node_at(self, value: Any, path: str) -> Node | None:
        """`value`, found at `path` of this file, as a Node; None (with a problem recorded) if not a mapping."""
        if isinstance(value, dict):
            return Node(value, self.file, path, self.problems)
        self.problems.add(self.file, path, f"must be a mapping, got {type_name(value)}")
        return None

    def repo_list(self, key: str) -> tuple[str, ...]:
        """A list of `org` or `org/repo` entries."""
        items = self.str_list(key)
        for i, item in enumerate(items):
            if not is_org_or_repo(item):
                self.problems.add(self.file, at_index(join(self.path, key), i), f'{item!r} is not "org" or "org/repo"')
        return tuple(item for item in items if is_org_or_repo(item))

    def str_map(self, key: str) -> dict[str, str]:
        mapping = self._get(key, dict, "a mapping of strings to strings")
        if mapping is None:
            return {}
        out: dict[str, str] = {}
        for k, v in mapping.items():
            if isinstance(k, str) and isinstance(v, str):
                out[k] = v
            else:
                self.problems.add(
                    self.file,
                    at_key(join(self.path, key), str(k)),
                    f"must map a string to a string, got {type_name(v)}",
                )
        return out

    def raw_mapping(self, key: str) -> dict[str, Any] | None:
        value: dict[str, Any] | None = self._get(key, dict, "a mapping")
        return value

    def raw_list(self, key: str) -> list[Any]:
        value: list[Any] | None = self._get(key, list, "a list")
        return value or []

    def child(self, key: str) -> Node | None:
        """The mapping under `key` as a Node; None (with a problem recorded) when it is not a mapping."""
        value = self._get(key, dict, "a mapping")
        return None if value is None else Node(value, self.file, join(self.path, key), self.problems)

    def children(self, key: str) -> Iterator[tuple[int, Node]]:
        """The mappings of the list under `key`, with their indexes; other items are recorded as problems."""
        return self.list_at(self.raw_list(key), join(self.path, key))

    def list_at(self, value: Any, path: str) -> Iterator[tuple[int, Node]]:
        """The mappings of `value`, a list found at `path` of this file."""
        if value is None:
            return
        if not isinstance(value, list):
            self.problems.add(self.file, path, f"must be a list, got {type_name(value)}")
            return
        for i, item in enumerate(value):
            if isinstance(item, dict):
                yield i, Node(item, self.file, at_index(path, i), self.problems)
            else:
                self.problems.add(self.file, at_index(path, i), f"must be a mapping, got {type_name(item)}")

    def entries(self, key: str) -> Iterator[tuple[str, Any, str]]:
        """The items of the mapping under `key` (keyed by data: repos, orgs) with each item's key path."""
        mapping = self.raw_mapping(key)
        if not mapping:
            return
        path = join(self.path, key)
        for k, v in mapping.items():
            if not isinstance(k, str):
                self.problems.add(self.file, path, f"key {k!r} must be a string")
                continue
            yield k, v, at_key(path, k)


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)
