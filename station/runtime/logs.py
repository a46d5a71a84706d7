"""Logging set-up: structured lines for journald, human lines in a terminal.

Under systemd, stderr is a stream to journald and ``$JOURNAL_STREAM`` names it
(``device:inode``). Then every line is written as ``<N>logger: message key=value ...``:
journald turns the ``<N>`` syslog prefix into the entry's PRIORITY (so ``journalctl -p
warning -u station`` works) and keeps the rest as MESSAGE. No systemd-python needed.
Otherwise lines are ``time LEVEL logger: message key=value``.

``extra={...}`` fields of a log call are appended as ``key=value``.

:class:`RedactFilter` is a safety net, not the privacy policy: code must never log names,
ID numbers or MRZ data in the first place; this filter masks any 12-digit run (a CCCD ID
number) and any 9-digit run (the chip's document number) that slips through anyway. It
never touches a UUID (record ids) or a run of 16 or more hex digits (fingerprints,
certificate hashes), whose digits may happen to form such a run. It also formats each
``station.fingerprint.Pseudonym`` argument with the station's secret log key.

One log call is one line: in the message and its ``key=value`` fields, line breaks and
other control characters are escaped (``\n``, ``\x1b``, ``\u2028``), so a string that
came from the network (a record id in an ack, a reason word) cannot forge a log line.
Only a traceback spans lines, each one prefixed in the journal.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Mapping
from typing import TextIO

from station.config import LOG_KEY, Config
from station.fingerprint import Pseudonym

_ID12 = re.compile(r"(?<!\d)\d{12}(?!\d)")
_NUM9 = re.compile(r"(?<!\d)\d{9}(?!\d)")
# Never masked: a UUID, or 16+ hex digits standing alone (fingerprints, SHA-256 hex).
_KEEP = re.compile(
    r"(?<![0-9A-Za-z])(?:[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}"
    r"|[0-9a-fA-F]{16,})(?![0-9A-Za-z])"
)
# Control characters (C0 but tab, DEL, C1) and the Unicode line/paragraph separators.
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
_ESCAPES = {"\n": "\\n", "\r": "\\r"}

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


def _mask(text: str) -> str:
    return _NUM9.sub("[redacted-9]", _ID12.sub("[redacted-id]", text))


def redact(text: str) -> str:
    """Mask 12-digit (ID number) and 9-digit (document number) runs of digits, outside
    UUIDs and hex fingerprints."""
    out, last = [], 0
    for keep in _KEEP.finditer(text):
        out += [_mask(text[last : keep.start()]), keep.group()]
        last = keep.end()
    out.append(_mask(text[last:]))
    return "".join(out)


def escape_controls(text: str) -> str:
    """``text`` on one line: control characters and line separators escaped."""
    return _CONTROL.sub(lambda m: _ESCAPES.get(m.group(), repr(m.group())[1:-1]), text)


def syslog_priority(levelno: int) -> int:
    """The syslog priority (0..7) of a logging level."""
    for threshold in sorted(_PRIORITY, reverse=True):
        if levelno >= threshold:
            return _PRIORITY[threshold]
    return 7


def _value(value: object) -> str:
    text = str(value)
    if not text or any(c.isspace() or c in '"=' for c in text):
        return '"' + escape_controls(text.replace("\\", "\\\\").replace('"', '\\"')) + '"'
    return escape_controls(text)


def extra_fields(record: logging.LogRecord) -> str:
    """`` key=value`` pairs for the non-standard attributes of a record (sorted)."""
    pairs = [
        f"{key}={_value(value)}"
        for key, value in sorted(vars(record).items())
        if key not in _STANDARD_ATTRS and not key.startswith("_")
    ]
    return (" " + " ".join(pairs)) if pairs else ""


class RedactFilter(logging.Filter):
    """Masks ID-like numbers in the message, its arguments and extra fields; formats
    ``Pseudonym`` arguments with ``pseudonym_key`` (None: the process's own key)."""

    def __init__(self, pseudonym_key: bytes | None = None) -> None:
        super().__init__()
        self.pseudonym_key = pseudonym_key

    def _keyed(self, value: object) -> object:
        if isinstance(value, Pseudonym) and self.pseudonym_key is not None:
            return value.with_key(self.pseudonym_key)
        return value

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(self._keyed(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: self._keyed(v) for k, v in record.args.items()}
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
        text = escape_controls(f"{record.name}: {record.getMessage()}{extra_fields(record)}")
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        prefix = f"<{syslog_priority(record.levelno)}>"
        return "\n".join(prefix + line for line in redact(text).splitlines())


class HumanFormatter(logging.Formatter):
    """``2026-01-01 10:00:00,123 INFO logger: message key=value`` for a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        message = escape_controls(record.getMessage())
        line = f"{self.formatTime(record)} {record.levelname} {record.name}: {message}"
        line += extra_fields(record)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return redact(line)


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
    pseudonym_key: bytes | None = None,
) -> logging.Handler:
    """Replace the root logger's handlers with one redacting handler; returns it.
    ``pseudonym_key``: the station's secret log key (:func:`load_log_key`)."""
    stream = sys.stderr if stream is None else stream
    env = os.environ if env is None else env
    handler = logging.StreamHandler(stream)
    journal = stream_is_journal(stream, env)
    handler.setFormatter(JournalFormatter() if journal else HumanFormatter())
    handler.addFilter(RedactFilter(pseudonym_key))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(level if isinstance(level, int) else level.upper())
    return handler


def load_log_key(cfg: Config) -> bytes:
    """The station's secret log key (``<data_dir>/log_pseudonym.key``, made on first use,
    mode 0600; its unsealed copy when sealed): it names card-derived bytes in logs."""
    from station.sync.storage import load_or_create_key

    return load_or_create_key(cfg.key_file(LOG_KEY), create=not cfg.key_sealed(LOG_KEY))


__all__ = [
    "HumanFormatter",
    "JournalFormatter",
    "RedactFilter",
    "configure_logging",
    "escape_controls",
    "extra_fields",
    "load_log_key",
    "redact",
    "stream_is_journal",
    "syslog_priority",
]
