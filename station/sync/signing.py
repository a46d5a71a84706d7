"""Station signing keys (Ed25519) and the signed MQTT message envelope.

Each station has one Ed25519 key pair, made at install (``station keygen``) or at
first start: ``<data_dir>/station_ed25519.key`` (PKCS#8 PEM, mode 0600) and
``station_ed25519.pub`` (the raw 32-byte public key, base64, for
``station ward enroll``). A record travels as the UTF-8 JSON envelope::

    {"v": 1, "station_id": "...", "record": {...}, "sig": "<base64 Ed25519>"}

where ``sig`` covers ``station.record.canonical_bytes(record)``. The receiver
checks that the topic's station, the envelope's and the record's agree and that
the signature verifies with the key enrolled for that station.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from station.config import Config
from station.record import canonical_bytes
from station.sync.errors import SyncError
from station.sync.storage import fsync_dir

ENVELOPE_VERSION = 1


class EnvelopeError(SyncError):
    """A message that must be rejected (the message says why; no personal data)."""


def key_paths(cfg: Config) -> tuple[Path, Path]:
    return cfg.data_dir / "station_ed25519.key", cfg.data_dir / "station_ed25519.pub"


def public_key_text(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def parse_public_key(text: str) -> Ed25519PublicKey:
    """A public key as base64 (44 chars) or hex (64 chars) of the raw 32 bytes."""
    text = text.strip()
    try:
        raw = bytes.fromhex(text) if len(text) == 64 else base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error) as exc:
        raise SyncError("public key is neither base64 nor hex") from exc
    if len(raw) != 32:
        raise SyncError(f"public key must be 32 bytes, got {len(raw)}")
    return Ed25519PublicKey.from_public_bytes(raw)


def load_or_create_signing_key(key_file: Path, pub_file: Path) -> Ed25519PrivateKey:
    """Load the station key; make the pair (0600 private key) when it does not exist."""
    try:
        pem = key_file.read_bytes()
    except FileNotFoundError:
        return _create_key(key_file, pub_file)
    except OSError as exc:
        raise SyncError(f"cannot read station key {key_file}: {exc.strerror}") from exc
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except ValueError as exc:
        raise SyncError(f"station key {key_file} is not a PEM private key") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise SyncError(f"station key {key_file} is not an Ed25519 key")
    if not pub_file.exists():
        pub_file.write_text(public_key_text(key.public_key()) + "\n", encoding="ascii")
    return key


def _create_key(key_file: Path, pub_file: Path) -> Ed25519PrivateKey:
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    key_file.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return load_or_create_signing_key(key_file, pub_file)
    try:
        os.write(fd, pem)
        os.fsync(fd)
    finally:
        os.close(fd)
    pub_file.write_text(public_key_text(key.public_key()) + "\n", encoding="ascii")
    fsync_dir(key_file.parent)
    return key


def seal_envelope(record: Mapping[str, Any], key: Ed25519PrivateKey) -> bytes:
    """The MQTT payload for one record, signed."""
    sig = key.sign(canonical_bytes(record))
    envelope = {
        "v": ENVELOPE_VERSION,
        "station_id": record.get("station_id"),
        "record": record,
        "sig": base64.b64encode(sig).decode("ascii"),
    }
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def open_envelope(
    payload: bytes,
    topic_station: str,
    lookup: Callable[[str], Ed25519PublicKey | None],
) -> dict[str, Any]:
    """Check one message and return its record; raises EnvelopeError saying why not."""
    try:
        env = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EnvelopeError("malformed: not JSON") from exc
    if not isinstance(env, dict) or env.get("v") != ENVELOPE_VERSION:
        raise EnvelopeError("malformed: not a version 1 envelope")
    record, sig_text = env.get("record"), env.get("sig")
    if not isinstance(record, dict) or not isinstance(record.get("record_id"), str):
        raise EnvelopeError("malformed: no record with a record_id")
    if not isinstance(sig_text, str) or not sig_text:
        raise EnvelopeError("unsigned")
    if not (env.get("station_id") == record.get("station_id") == topic_station):
        raise EnvelopeError("station mismatch between topic, envelope and record")
    key = lookup(topic_station)
    if key is None:
        raise EnvelopeError("unknown station (not enrolled)")
    try:
        key.verify(base64.b64decode(sig_text, validate=True), canonical_bytes(record))
    except (InvalidSignature, binascii.Error, ValueError) as exc:
        raise EnvelopeError("forged: signature does not verify") from exc
    return record


__all__ = [
    "EnvelopeError",
    "key_paths",
    "load_or_create_signing_key",
    "open_envelope",
    "parse_public_key",
    "public_key_text",
    "seal_envelope",
]
