"""Cron expressions as Prow's periodics accept them (robfig/cron: optional seconds, `@daily`, `@every 1h`)."""

from __future__ import annotations

from dataclasses import dataclass

from prow_lite.config.goduration import parse_duration

_MONTHS = {
    name: i + 1
    for i, name in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"])
}
_DAYS = {name: i for i, name in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}
# (name, low, high, names) for second, minute, hour, day of month, month, day of week
_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("second", 0, 59, {}),
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 6, _DAYS),
)
_DESCRIPTORS = {
    "@yearly": "0 0 0 1 1 *",
    "@annually": "0 0 0 1 1 *",
    "@monthly": "0 0 0 1 * *",
    "@weekly": "0 0 0 * * 0",
    "@daily": "0 0 0 * * *",
    "@midnight": "0 0 0 * * *",
    "@hourly": "0 0 * * * *",
}


@dataclass(frozen=True, slots=True)
class CronSchedule:
    """A parsed cron expression: the allowed values of each field, or a fixed `every_s` interval."""

    seconds: frozenset[int] = frozenset()
    minutes: frozenset[int] = frozenset()
    hours: frozenset[int] = frozenset()
    days_of_month: frozenset[int] = frozenset()
    months: frozenset[int] = frozenset()
    days_of_week: frozenset[int] = frozenset()
    every_s: float | None = None
    timezone: str = ""


def parse_cron(expr: str) -> CronSchedule:
    """Parse `expr`; raises ValueError saying which field is wrong."""
    spec = expr.strip()
    timezone = ""
    if spec.startswith(("TZ=", "CRON_TZ=")):
        head, _, spec = spec.partition(" ")
        timezone = head.split("=", 1)[1]
        spec = spec.strip()
    if spec.startswith("@every "):
        every = parse_duration(spec[len("@every ") :].strip())
        if every <= 0:
            raise ValueError("@every needs a positive duration")
        return CronSchedule(every_s=every, timezone=timezone)
    if spec.startswith("@"):
        if spec not in _DESCRIPTORS:
            raise ValueError(f"unknown descriptor {spec!r}")
        spec = _DESCRIPTORS[spec]
    fields = spec.split()
    if len(fields) == 5:
        fields.insert(0, "0")
    if len(fields) != 6:
        raise ValueError(f"expected 5 or 6 fields, found {len(fields)}: {expr!r}")
    seconds, minutes, hours, days_of_month, months, days_of_week = (
        _parse_field(text, *meta) for text, meta in zip(fields, _FIELDS, strict=True)
    )
    return CronSchedule(seconds, minutes, hours, days_of_month, months, days_of_week, timezone=timezone)


def _parse_field(text: str, name: str, low: int, high: int, names: dict[str, int]) -> frozenset[int]:
    out: set[int] = set()
    for part in text.split(","):
        span, slash, step_text = part.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) == 0:
                raise ValueError(f"{name}: bad step in {part!r}")
            step = int(step_text)
        if span in ("*", "?"):
            start, end = low, high
        else:
            first, dash, last = span.partition("-")
            start = _value(first, name, low, high, names)
            end = _value(last, name, low, high, names) if dash else (high if slash else start)
        if start > end:
            raise ValueError(f"{name}: range {part!r} runs backwards")
        out.update(range(start, end + 1, step))
    return frozenset(out)


def _value(text: str, name: str, low: int, high: int, names: dict[str, int]) -> int:
    if text.lower() in names:
        return names[text.lower()]
    if not text.isdigit():
        raise ValueError(f"{name}: {text!r} is not a number")
    value = int(text)
    if not low <= value <= high:
        raise ValueError(f"{name}: {value} is outside {low}-{high}")
    return value
