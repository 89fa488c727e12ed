"""JSON logs, one object per line, with anything that looks like a GitHub credential redacted."""

from __future__ import annotations

import json
import logging
import re
import sys
import time

from aiohttp.http_exceptions import HttpProcessingError

# GitHub token formats (github.blog 2021-04-05 "Behind GitHub's new authentication token formats") and
# Authorization header values; a credential that reaches a log line by mistake is masked, not printed.
_SECRET = re.compile(
    r"(gh[pousr]_[A-Za-z0-9_]{16,}|github_pat_[A-Za-z0-9_]{20,}|"
    r"(?i:(?:token|bearer|basic)\s+)[A-Za-z0-9_\-.=:+/]{8,})"
)
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


def redact(text: str) -> str:
    return _SECRET.sub("[REDACTED]", text)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, object] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for name, value in record.__dict__.items():
            if name not in _STANDARD and not name.startswith("_"):
                doc[name] = value
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return redact(json.dumps(doc, default=str))


class QuietParseErrors(logging.Filter):
    """aiohttp logs a malformed request with a traceback quoting the offending bytes (maybe a header holding a
    credential). Keep one line naming the error instead; the client already got its 400."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], HttpProcessingError):
            record.msg = f"malformed request refused: {type(record.exc_info[1]).__name__}"
            record.args = ()
            record.exc_info = None
            record.exc_text = None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def setup(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(QuietParseErrors())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiohttp.access").disabled = True  # our access line has no query string, theirs does
