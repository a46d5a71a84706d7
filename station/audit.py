"""The audit log the personal-data law asks for: reads, deliveries, deletions.

One JSON object per line: ``{"at", "event", "record_id", "fingerprint", "outcome"}``.
It never holds personal data: a record is named by its id (a random UUID) and a
fingerprint (``station.fingerprint`` of its canonical bytes). The file is rotated by
size (``audit.log`` -> ``audit.log.1`` ... ``audit.log.N``, oldest dropped). Safe to
call from several threads; each line is flushed to the OS before
:meth:`AuditLog.write` returns.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

DEFAULT_MAX_BYTES = 1_000_000
DEFAULT_BACKUPS = 10


class AuditLog:
    """Append-only JSON-lines audit log with size-based rotation."""

    def __init__(
        self,
        path: str | Path,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        backups: int = DEFAULT_BACKUPS,
    ) -> None:
        if max_bytes < 1024 or backups < 1:
            raise ValueError("audit log needs max_bytes >= 1024 and backups >= 1")
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.backups = backups
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, event: str, record_id: str, fingerprint: str, outcome: str) -> None:
        """Append one line (``event`` e.g. "read", "delivered", "deleted")."""
        self.write_many([(event, record_id, fingerprint, outcome)])

    def write_many(self, entries: Iterable[tuple[str, str, str, str]]) -> None:
        """Append several lines with one open/flush (batches of deliveries)."""
        at = datetime.now(UTC).isoformat(timespec="milliseconds")
        text = "".join(
            json.dumps(
                {"at": at, "event": e, "record_id": r, "fingerprint": f, "outcome": o},
                ensure_ascii=True,
            )
            + "\n"
            for e, r, f, o in entries
        )
        if not text:
            return
        data = text.encode("ascii")
        with self._lock:
            self._rotate_if_needed(len(data))
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)

    def _rotate_if_needed(self, incoming: int) -> None:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return
        if size + incoming <= self.max_bytes:
            return
        for i in range(self.backups - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{i}")
            if older.exists():
                os.replace(older, self.path.with_name(f"{self.path.name}.{i + 1}"))
        os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))

    def read(self) -> list[dict[str, str]]:
        """Every line of the current file (not the rotated ones), parsed."""
        try:
            lines = self.path.read_text(encoding="ascii").splitlines()
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in lines if line.strip()]


__all__ = ["AuditLog"]
