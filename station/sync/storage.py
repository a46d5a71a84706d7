"""A tinydb Storage that is encrypted at rest and replaced atomically on every write.

File format: ``MAGIC || nonce(12) || AES-256-GCM(json, aad=MAGIC || file name)``.
A write goes to a temp file in the same folder, is fsynced, renamed over the old
file, and the folder is fsynced: after a power cut the file is either the old or
the new version, never a mix. No write caching (tinydb's CachingMiddleware can lose
up to 999 writes). Binding the file name into the AAD means a segment copied over
another one fails to decrypt instead of silently taking its place.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from tinydb.storages import Storage

from station.files import fsync_dir, write_atomically
from station.sync.errors import StoreError, StoreFull

MAGIC = b"CCCD-OUTBOX-1\n"
KEY_BYTES = 32


class StoreCorrupt(StoreError):
    """A store file that does not decrypt or parse (wrong key, torn, tampered)."""


def atomic_write(path: Path, data: bytes, *, sync_dir: bool = True) -> None:
    """Write ``data`` to ``path`` (0600) via temp file + fsync + rename + folder fsync
    (:func:`station.files.write_atomically`); a full disk is :class:`StoreFull`.

    ``sync_dir=False`` skips the folder fsync: after a power cut the path may then
    hold the previous complete version (never a torn one). Used for deletions,
    which are safe to lose (the ward ignores a resent record and acks again).
    """
    try:
        write_atomically(path, data, mode=0o600, sync_dir=sync_dir)
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise StoreFull(f"outbox write failed: disk full ({path.parent})") from exc
        raise StoreError(f"outbox write of {path.name} failed: {exc.strerror}") from exc


def create_private_file(path: Path, data: bytes) -> bool:
    """Create ``path`` (mode 0600) holding ``data``, all or nothing; never overwrite.

    The data is written and fsynced under a temp name, then hard-linked into
    place (which fails if the file exists): a crash never leaves an empty or
    half-written key. Returns False when the file already existed.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.new")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
    except FileExistsError:
        return False
    finally:
        tmp.unlink()
    fsync_dir(path.parent)
    return True


def load_or_create_key(path: Path, *, create: bool = True) -> bytes:
    """A 32-byte secret key file (the store key, the log key); created (mode 0600) when
    missing and ``create``, never overwritten."""
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        if not create:
            raise StoreError(f"key file {path} is missing (and must not be made anew)") from None
        key = secrets.token_bytes(KEY_BYTES)
        try:
            made = create_private_file(path, key)
        except OSError as exc:
            raise StoreError(f"cannot create key file {path}: {exc.strerror}") from exc
        return key if made else load_or_create_key(path)  # another process won: theirs
    except OSError as exc:
        raise StoreError(f"cannot read key file {path}: {exc.strerror}") from exc
    if len(key) != KEY_BYTES:
        raise StoreError(f"key file {path} has {len(key)} bytes, expected {KEY_BYTES}")
    return key


def seal(key: bytes, name: str, plaintext: bytes) -> bytes:
    nonce = secrets.token_bytes(12)
    return MAGIC + nonce + AESGCM(key).encrypt(nonce, plaintext, MAGIC + name.encode())


def unseal(key: bytes, name: str, blob: bytes) -> bytes:
    if not blob.startswith(MAGIC) or len(blob) < len(MAGIC) + 12 + 16:
        raise StoreCorrupt(f"{name}: not an outbox file (bad header or truncated)")
    nonce = blob[len(MAGIC) : len(MAGIC) + 12]
    try:
        return AESGCM(key).decrypt(nonce, blob[len(MAGIC) + 12 :], MAGIC + name.encode())
    except InvalidTag as exc:
        raise StoreCorrupt(f"{name}: does not decrypt (wrong key or damaged)") from exc


class EncryptedAtomicStorage(Storage):
    """tinydb ``Storage``: ``TinyDB(path, key=KEY, storage=EncryptedAtomicStorage)``."""

    def __init__(self, path: str | Path, key: bytes, sync_dir: bool = True) -> None:
        self.path = Path(path)
        self._key = key
        self._sync_dir = sync_dir

    def read(self) -> dict[str, dict[str, Any]] | None:
        try:
            blob = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"cannot read {self.path.name}: {exc.strerror}") from exc
        plain = unseal(self._key, self.path.name, blob)
        try:
            data = json.loads(plain)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise StoreCorrupt(f"{self.path.name}: decrypted but not JSON") from exc
        if not isinstance(data, dict):
            raise StoreCorrupt(f"{self.path.name}: not a tinydb document")
        return data

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        plain = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        atomic_write(self.path, seal(self._key, self.path.name, plain), sync_dir=self._sync_dir)

    def close(self) -> None:
        """Nothing stays open between calls."""


__all__ = [
    "EncryptedAtomicStorage",
    "StoreCorrupt",
    "atomic_write",
    "create_private_file",
    "load_or_create_key",
]
