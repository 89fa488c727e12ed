"""Reading one YAML file: parse errors name the file and line, duplicate keys are rejected as Go's strict YAML does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from prow_lite.config.errors import ConfigError


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (PyYAML keeps the last one silently)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: dict[Any, yaml.Mark] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue  # `<<: *anchor` entries may be overridden by the keys given here
        key = loader.construct_object(key_node, deep=deep)
        try:
            first = seen.get(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be a plain value", key_node.start_mark
            ) from None
        if first is not None:
            raise yaml.constructor.ConstructorError(
                f"while reading the mapping at line {node.start_mark.line + 1}",
                node.start_mark,
                f"key {key!r} given twice (first at line {first.line + 1})",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_yaml(path: Path, shown: str) -> Any:
    """The document in `path` (None for an empty file); `shown` is how errors name the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError([f"{shown}: cannot read: {err}"]) from err
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"{shown}:{mark.line + 1}:{mark.column + 1}" if mark else shown
        what = ": ".join(part for part in (err.context, err.problem) if part)
        raise ConfigError([f"{where}: invalid YAML: {what}"]) from err
    except yaml.YAMLError as err:
        raise ConfigError([f"{shown}: invalid YAML: {err}"]) from err
