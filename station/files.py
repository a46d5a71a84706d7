"""Durable file writes: temp file + fsync + rename + folder fsync.

One implementation for every layer that must never leave a torn file after a
power cut (the outbox and its keys in ``sync``, the ward's trust bundle in
``verify``). Errors are plain ``OSError``s; callers say what they mean.
"""

from __future__ import annotations

import os
from pathlib import Path


def fsync_dir(folder: Path) -> None:
    """Make a rename or link in ``folder`` durable."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(path: Path, data: bytes, *, mode: int = 0o600, sync_dir: bool = True) -> None:
    """Replace ``path`` with ``data``: after a power cut it holds the old or the new
    version, never a mix. ``sync_dir=False`` skips the folder fsync (the path may then
    still hold the previous complete version). The temp file is removed on failure."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        if sync_dir:
            fsync_dir(path.parent)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise


__all__ = ["fsync_dir", "write_atomically"]
