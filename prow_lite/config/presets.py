"""Prow's presets: env, volumes, mounts and tolerations added to the pod spec of every job whose labels match."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from prow_lite.config.fields import Node

PRESET_KEYS = ("labels", "env", "volumes", "volumeMounts", "tolerations")


@dataclass(frozen=True, slots=True)
class Preset:
    labels: Mapping[str, str] = field(default_factory=dict)
    env: tuple[Mapping[str, Any], ...] = ()
    volumes: tuple[Mapping[str, Any], ...] = ()
    volume_mounts: tuple[Mapping[str, Any], ...] = ()
    tolerations: tuple[Mapping[str, Any], ...] = ()
    source: str = ""  # `<file>: presets[i]`, for messages

    def applies_to(self, labels: Mapping[str, str]) -> bool:
        return all(labels.get(k) == v for k, v in self.labels.items())


def parse_preset(node: Node) -> Preset:
    node.keys(PRESET_KEYS)

    def named(key: str) -> tuple[Mapping[str, Any], ...]:
        out = []
        for _, item in node.children(key):
            if key != "tolerations" and not isinstance(item.raw.get("name"), str):
                node.problems.add(node.file, f"{item.path}.name", "must be a string")
                continue
            out.append(item.raw)
        return tuple(out)

    return Preset(
        labels=node.str_map("labels"),
        env=named("env"),
        volumes=named("volumes"),
        volume_mounts=named("volumeMounts"),
        tolerations=named("tolerations"),
        source=f"{node.file}: {node.path}",
    )


def apply_presets(spec: Mapping[str, Any], labels: Mapping[str, str], presets: list[Preset]) -> dict[str, Any]:
    """A copy of `spec` with every matching preset merged in; raises ValueError on a name given twice (as Prow)."""
    out = copy.deepcopy(dict(spec))
    containers = [c for c in out.get("containers") or [] if isinstance(c, dict)]
    for preset in presets:
        if not preset.applies_to(labels):
            continue
        for container in containers:
            _append_named(container, "env", preset.env, f"env var {{}} from {preset.source} is already set")
            _append_named(
                container,
                "volumeMounts",
                preset.volume_mounts,
                f"volume mount {{}} from {preset.source} is already set",
            )
        _append_named(out, "volumes", preset.volumes, f"volume {{}} from {preset.source} is already defined")
        tolerations = out.setdefault("tolerations", [])
        for toleration in preset.tolerations:
            if toleration in tolerations:
                raise ValueError(f"toleration {dict(toleration)} from {preset.source} is already set")
            tolerations.append(copy.deepcopy(dict(toleration)))
    return out


def _append_named(target: dict[str, Any], key: str, items: tuple[Mapping[str, Any], ...], message: str) -> None:
    if not items:
        return
    existing = target.setdefault(key, [])
    names = {item.get("name") for item in existing if isinstance(item, dict)}
    for item in items:
        if item["name"] in names:
            raise ValueError(message.format(repr(item["name"])))
        existing.append(copy.deepcopy(dict(item)))
        names.add(item["name"])
