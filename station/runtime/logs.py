"""Logging set-up: structured lines for journald, human lines in a terminal.

Under systemd, stderr is a stream to journald and ``$JOURNAL_STREAM`` names it
(``device:inode``). Then every line is written as ``<N>logger: message key=value ...``:
journald turns the ``<N>`` syslog prefix into the entry's PRIORITY (so ``journalctl -p
warning -u station`` works) and keeps the rest as MESSAGE. No systemd-python needed.
Otherwise lines are ``time LEVEL logger: message key=value``.

``extra={...}`` fields of a log call are appended as ``key=value``.

:class:`RedactFilter` is a safety net, not the privacy policy: code must never log names,
ID numbers or MRZ data in the first place; this filter masks any 12-digit run (a CCCD ID
number) and any 9-digit run (the chip's document number) that slips through anyway.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Mapping
from typing import TextIO

_ID12 = re.compile(r"(?<!\d)\d{12}(?!\d)")
_NUM9 = re.compile(r"(?<!\d)\d{9}(?!\d)")

_STANDARD_ATTRS = frozenset(
    vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None)).keys()
) | {"message", "asctime", "taskName"}

_PRIORITY = {
    logging.CRITICAL: 2,
    logging.ERROR: 3,
    logging.WARNING: 4,
    logging.INFO: 6,
    logging.DEBUG: 7,
}


def redact(text: str) -> str:
    """Mask 12-digit (ID number) and 9-digit (document number) runs of digits."""
    return _NUM9.sub("[redacted-9]", _ID12.sub("[redacted-id]", text))


def syslog_priority(levelno: int) -> int:
    """The syslog priority (0..7) of a logging level."""
    for threshold in sorted(_PRIORITY, reverse=True):
        if levelno >= threshold:
            return _PRIORITY[threshold]
    return 7


def _value(value: object) -> str:
    text = str(value)
    if not text or any(c.isspace() or c in '"=' for c in text):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return text


def extra_fields(record: logging.LogRecord) -> str:
    """`` key=value`` pairs for the non-standard attributes of a record (sorted)."""
    pairs = [
        f"{key}={_value(value)}"
        for key, value in sorted(vars(record).items())
        if key not in _STANDARD_ATTRS and not key.startswith("_")
    ]
    return (" " + " ".join(pairs)) if pairs else ""


class RedactFilter(logging.Filter):
    """Masks ID-like numbers in the message, its arguments and extra fields."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: emit() reports it, never the caller
            return True
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        for key, value in list(vars(record).items()):
            if key in _STANDARD_ATTRS or key.startswith("_"):
                continue
            if isinstance(value, str | int) and not isinstance(value, bool):
                masked = redact(str(value))
                if masked != str(value):
                    setattr(record, key, masked)
        return True


class JournalFormatter(logging.Formatter):
    """``<N>logger: message key=value``; every line of a traceback gets the prefix too."""

    def format(self, record: logging.LogRecord) -> str:
        text = f"{record.name}: {record.getMessage()}{extra_fields(record)}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        prefix = f"<{syslog_priority(record.levelno)}>"
        return "\n".join(prefix + line for line in redact(text).splitlines())


class HumanFormatter(logging.Formatter):
    """``2026-01-01 10:00:00,123 INFO logger: message key=value`` for a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        head = super().format(record)
        first, sep, rest = head.partition("\n")
        return redact(first + extra_fields(record) + sep + rest)


def stream_is_journal(stream: TextIO, env: Mapping[str, str]) -> bool:
    """True if ``stream`` is the journald stream named by $JOURNAL_STREAM."""
    want = env.get("JOURNAL_STREAM", "")
    if not want:
        return False
    try:
        st = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return want == f"{st.st_dev}:{st.st_ino}"


def configure_logging(
    level: str | int = "INFO",
    *,
    stream: TextIO | None = None,
    env: Mapping[str, str] | None = None,
) -> logging.Handler:
    """Replace the root logger's handlers with one redacting handler; returns it."""
    stream = sys.stderr if stream is None else stream
    env = os.environ if env is None else env
    handler = logging.StreamHandler(stream)
    journal = stream_is_journal(stream, env)
    handler.setFormatter(JournalFormatter() if journal else HumanFormatter())
    handler.addFilter(RedactFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(level if isinstance(level, int) else level.upper())
    return handler


__all__ = [
    "HumanFormatter",
    "JournalFormatter",
    "RedactFilter",
    "configure_logging",
    "extra_fields",
    "redact",
    "stream_is_journal",
    "syslog_priority",
]
