"""`ConfigError`: every problem found in the config files, each line naming the file and the key."""

from __future__ import annotations

from collections.abc import Sequence


class ConfigError(Exception):
    """The config is invalid; each line of the message is `<file>: <key path>: <what is wrong>`."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(self.problems))
