"""Compiling the regexes of Prow configs (written for Go's RE2) with Python's `re`.

Matching is `Pattern.search`, as Go's `MatchString`: unanchored unless the pattern anchors itself. The few RE2
spellings Python lacks are translated: POSIX classes inside brackets (`[[:alpha:]]`) and `\\z` (end of text).
"""

from __future__ import annotations

import re
import warnings

_POSIX = {
    "alnum": "0-9A-Za-z",
    "alpha": "A-Za-z",
    "ascii": "\\x00-\\x7f",
    "blank": "\\t ",
    "cntrl": "\\x00-\\x1f\\x7f",
    "digit": "0-9",
    "graph": "!-~",
    "lower": "a-z",
    "print": " -~",
    "punct": "!-/:-@\\[-`{-~",
    "space": "\\t\\n\\v\\f\\r ",
    "upper": "A-Z",
    "word": "0-9A-Za-z_",
    "xdigit": "0-9A-Fa-f",
}
_POSIX_CLASS = re.compile(r"\[:([a-z]+):\]")
_END_OF_TEXT = re.compile(r"(?<!\\)((?:\\\\)*)\\z")


def _translate(pattern: str) -> str:
    pattern = _POSIX_CLASS.sub(lambda m: _POSIX.get(m.group(1), m.group(0)), pattern)
    return _END_OF_TEXT.sub(r"\1\\Z", pattern)


def compile_go(pattern: str) -> re.Pattern[str]:
    """Compile a Go regex; raises ValueError with the reason when Python cannot read it the same way."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. FutureWarning "possible nested set": Python would read it otherwise
        try:
            return re.compile(_translate(pattern))
        except (re.error, FutureWarning, DeprecationWarning) as err:
            raise ValueError(str(err)) from None
