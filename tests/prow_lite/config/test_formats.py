"""Go's formats as Prow configs use them: durations, cron expressions, RE2 regexes."""

from __future__ import annotations

import pytest

from prow_lite.config import parse_cron, parse_duration
from prow_lite.config.goregex import compile_go


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0", 0.0),
        ("90s", 90.0),
        ("1h30m", 5400.0),
        ("1.5h", 5400.0),
        ("300ms", 0.3),
        ("2m3.5s", 123.5),
        ("-1m", -60.0),
        ("10us", 1e-5),
    ],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5", "1x", "h", "1h 30m", "1d"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


def test_cron_fields() -> None:
    schedule = parse_cron("*/15 9-17 * jan,JUL mon-fri")
    assert schedule.seconds == frozenset({0})
    assert schedule.minutes == frozenset({0, 15, 30, 45})
    assert schedule.hours == frozenset(range(9, 18))
    assert schedule.days_of_month == frozenset(range(1, 32))
    assert schedule.months == frozenset({1, 7})
    assert schedule.days_of_week == frozenset(range(1, 6))


def test_cron_seconds_descriptors_every_and_timezone() -> None:
    assert parse_cron("30 0 12 * * *").seconds == frozenset({30})
    assert parse_cron("@daily") == parse_cron("0 0 * * *")
    assert parse_cron("@every 1h30m").every_s == 5400.0
    assert parse_cron("CRON_TZ=Europe/Paris 0 3 * * *").timezone == "Europe/Paris"
    assert parse_cron("5/20 * * * *").minutes == frozenset({5, 25, 45})


@pytest.mark.parametrize(
    ("expr", "reason"),
    [
        ("61 * * * *", "minute: 61 is outside 0-59"),
        ("* * * *", "expected 5 or 6 fields"),
        ("* * 0 * *", "day of month: 0 is outside 1-31"),
        ("5-1 * * * *", "runs backwards"),
        ("*/0 * * * *", "bad step"),
        ("* * * foo *", "'foo' is not a number"),
        ("@fortnightly", "unknown descriptor"),
    ],
)
def test_bad_cron(expr: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_cron(expr)


@pytest.mark.parametrize(
    ("pattern", "text", "matches"),
    [
        ("[[:digit:]]+", "release-12", True),
        ("^[[:alpha:]]+$", "main", True),
        ("^[[:alpha:]]+$", "main1", False),
        (r"main\z", "main", True),
        (r"main\z", "main\n", False),
        (r"a\\z", "a\\z", True),  # an escaped backslash before z stays literal
    ],
)
def test_go_regex_spellings(pattern: str, text: str, matches: bool) -> None:
    assert (compile_go(pattern).search(text) is not None) is matches


@pytest.mark.parametrize("pattern", ["([", "(?P<x>a", "[[:nope:]]"])
def test_bad_regexes_raise_value_error(pattern: str) -> None:
    with pytest.raises(ValueError):
        compile_go(pattern)
