"""Station signing keys (Ed25519) and the signed MQTT message envelope.

Each station has one Ed25519 key pair, made at install (``station keygen``) or at
first start: ``<data_dir>/station_ed25519.key`` (PKCS#8 PEM, mode 0600) and
``station_ed25519.pub`` (the raw 32-byte public key, base64, for
``station ward enroll``). Each record is signed once, when it is stored, as an
item ``{"record": {...}, "sig": "<base64 Ed25519>"}`` where ``sig`` covers
``station.record.canonical_bytes(record)``. One MQTT message carries one or more
items (batching amortises the per-message cost on both ends)::

    {"v": 1, "station_id": "...", "items": [{"record": ..., "sig": ...}, ...]}

The receiver checks that the topic's station, the envelope's and every record's
agree and that each signature verifies with the key enrolled for that station;
a bad item is refused on its own, the others are kept.

Acknowledgements go the other way and are signed too, by the ward's own Ed25519 key
(``ward_ack_ed25519.key`` on the ward server; its public half is what ``station ward
enroll`` prints and the station pins as ``mqtt.ward_key``)::

    {"v": 1, "station_id": "...", "ack": [record_id, ...],
     "refused": [{"record_id": ..., "reason": ...}], "sig": "<base64 Ed25519>"}

``sig`` covers ``canonical_bytes`` of the document without ``sig``: the station id is
inside, so an ack for one station cannot be replayed to another. The station acts on an
ack only when its signature verifies with the pinned key (:func:`open_ack`), and then
only for records it has in flight: a client that can publish on the ack topic (a
misconfigured broker) cannot delete or set aside anything.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from station.config import SIGNING_KEY, Config
from station.record import canonical_bytes, received_problem, valid_record_id
from station.sync.errors import SyncError
from station.sync.limits import MAX_ITEM_BYTES, MAX_ITEMS, MAX_MESSAGE_BYTES, load_json
from station.sync.storage import create_private_file

ENVELOPE_VERSION = 1


class EnvelopeError(SyncError):
    """A message that must be rejected (the message says why; no personal data)."""


def key_paths(cfg: Config) -> tuple[Path, Path]:
    """The station's key pair: the private key (its unsealed copy when sealed) and the
    public half, which always stays in ``data_dir``."""
    return cfg.key_file(SIGNING_KEY), cfg.data_dir / "station_ed25519.pub"


def station_signing_key(cfg: Config) -> Ed25519PrivateKey:
    """The station's signing key, made on first use (a sealed one never is)."""
    return load_or_create_signing_key(*key_paths(cfg), create=not cfg.key_sealed(SIGNING_KEY))


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


def load_or_create_signing_key(
    key_file: Path, pub_file: Path, *, create: bool = True
) -> Ed25519PrivateKey:
    """Load the station key; make the pair (0600 private key) when it does not exist
    (and ``create``)."""
    try:
        pem = key_file.read_bytes()
    except FileNotFoundError:
        if not create:
            raise SyncError(
                f"signing key {key_file} is missing (and must not be made anew)"
            ) from None
        return _create_key(key_file, pub_file)
    except OSError as exc:
        raise SyncError(f"cannot read signing key {key_file}: {exc.strerror}") from exc
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except ValueError as exc:
        raise SyncError(f"signing key {key_file} is not a PEM private key") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise SyncError(f"signing key {key_file} is not an Ed25519 key")
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
    try:
        made = create_private_file(key_file, pem)
    except OSError as exc:
        raise SyncError(f"cannot create signing key {key_file}: {exc.strerror}") from exc
    if not made:  # another process made it first: use theirs
        return load_or_create_signing_key(key_file, pub_file)
    pub_file.write_text(public_key_text(key.public_key()) + "\n", encoding="ascii")
    return key


def seal_item(
    record: Mapping[str, Any], key: Ed25519PrivateKey, *, canonical: bytes | None = None
) -> bytes:
    """One signed record, ``{"record": ..., "sig": ...}`` (``canonical`` if computed)."""
    sig = key.sign(canonical if canonical is not None else canonical_bytes(record))
    item = {"record": record, "sig": base64.b64encode(sig).decode("ascii")}
    return json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def batch_payload(station_id: str, items: Sequence[bytes]) -> bytes:
    """One MQTT message carrying several signed items (no re-serialisation)."""
    head = json.dumps({"v": ENVELOPE_VERSION, "station_id": station_id})[:-1].encode()
    return head + b',"items":[' + b",".join(items) + b"]}"


def seal_envelope(record: Mapping[str, Any], key: Ed25519PrivateKey) -> bytes:
    """A message with one signed record (tools and tests)."""
    return batch_payload(str(record.get("station_id")), [seal_item(record, key)])


@dataclass(frozen=True)
class Opened:
    """A record that passed every check."""

    record: dict[str, Any]
    signature: str  # base64
    canonical: bytes  # canonical_bytes(record), what the signature covers

    @property
    def record_id(self) -> str:
        return str(self.record["record_id"])


@dataclass(frozen=True)
class Rejected:
    """One item refused; ``reason`` is a short word for counters and the audit log."""

    reason: str
    detail: str
    record_id: str = ""
    canonical: bytes = b""  # canonical_bytes of the refused record, when it has one


def open_envelope(
    payload: bytes,
    topic_station: str,
    lookup: Callable[[str], Ed25519PublicKey | None],
) -> tuple[list[Opened], list[Rejected]]:
    """Check one message: its good records and the refused items.

    Raises EnvelopeError when the whole message must be refused (too large or deep, not
    JSON, wrong version, too many items, station mismatch, station not enrolled).
    """
    try:
        env = load_json(payload, MAX_MESSAGE_BYTES)
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError included
        raise EnvelopeError(f"malformed: {_short(exc)}") from exc
    if not isinstance(env, dict) or env.get("v") != ENVELOPE_VERSION:
        raise EnvelopeError("malformed: not a version 1 envelope")
    items = env.get("items")
    if not isinstance(items, list) or not items:
        raise EnvelopeError("malformed: no items")
    if len(items) > MAX_ITEMS:
        raise EnvelopeError(f"malformed: {len(items)} items, more than {MAX_ITEMS}")
    if env.get("station_id") != topic_station:
        raise EnvelopeError("station mismatch between topic and envelope")
    key = lookup(topic_station)
    if key is None:
        raise EnvelopeError("unknown station (not enrolled)")
    good: list[Opened] = []
    bad: list[Rejected] = []
    for item in items:
        result = _open_item(item, topic_station, key)
        if isinstance(result, Opened):
            good.append(result)
        else:
            bad.append(result)
    return good, bad


def _short(exc: ValueError) -> str:
    """A parse error in a few words (a JSON error's text says where, not what)."""
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8"
    if isinstance(exc, json.JSONDecodeError):
        return "not JSON"
    return str(exc)


def _open_item(item: Any, station: str, key: Ed25519PublicKey) -> Opened | Rejected:
    record = item.get("record") if isinstance(item, dict) else None
    if not isinstance(record, dict) or not valid_record_id(record.get("record_id")):
        return Rejected("malformed", "item without a record with a UUID record_id")
    record_id = str(record["record_id"])
    sig_text = item.get("sig")
    if not isinstance(sig_text, str) or not sig_text:
        return Rejected("unsigned", "item has no signature", record_id)
    try:
        canonical = canonical_bytes(record)
    except ValueError:  # a lone surrogate (\ud800) cannot be UTF-8: nobody signed that
        return Rejected("malformed", "record text is not valid Unicode", record_id)
    if len(canonical) > MAX_ITEM_BYTES:
        return Rejected("too large", f"record of {len(canonical)} bytes", record_id)
    if record.get("station_id") != station:
        return Rejected("station mismatch", "record names another station", record_id, canonical)
    try:
        key.verify(base64.b64decode(sig_text, validate=True), canonical)
    except (InvalidSignature, binascii.Error, ValueError):
        return Rejected("forged", "signature does not verify", record_id, canonical)
    problem = received_problem(record)
    if problem is not None:
        return Rejected("malformed", problem, record_id, canonical)
    return Opened(record, sig_text, canonical)


@dataclass(frozen=True)
class Ack:
    """A verified acknowledgement: ids the ward stored, (id, reason) pairs it refused."""

    ack: tuple[str, ...]
    refused: tuple[tuple[str, str], ...]


def seal_ack(doc: Mapping[str, Any], station_id: str, key: Ed25519PrivateKey) -> bytes:
    """The ack message for ``station_id``: ``doc`` ({"ack": [...], "refused": [...]})
    with the version, the station id and the ward's signature over all of it."""
    body = {**doc, "v": ENVELOPE_VERSION, "station_id": station_id}
    body.pop("sig", None)
    sig = base64.b64encode(key.sign(canonical_bytes(body))).decode("ascii")
    return json.dumps({**body, "sig": sig}, ensure_ascii=False).encode("utf-8")


def open_ack(payload: bytes, station_id: str, key: Ed25519PublicKey) -> Ack:
    """Check an ack message for ``station_id`` against the pinned ward key; EnvelopeError
    (a short reason, no data) when it is malformed, unsigned, forged or for another
    station. Items that are not well-formed ids are dropped."""
    try:
        doc = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise EnvelopeError("malformed ack: not JSON") from exc
    if not isinstance(doc, dict) or doc.get("v") != ENVELOPE_VERSION:
        raise EnvelopeError("unsigned or malformed ack (not a version 1 ack)")
    sig = doc.pop("sig", None)
    if not isinstance(sig, str) or not sig:
        raise EnvelopeError("unsigned ack")
    try:
        key.verify(base64.b64decode(sig, validate=True), canonical_bytes(doc))
    except (InvalidSignature, binascii.Error, ValueError, TypeError, RecursionError) as exc:
        raise EnvelopeError("ack signature does not verify with the ward key") from exc
    if doc.get("station_id") != station_id:
        raise EnvelopeError("ack for another station")
    ids, refused = doc.get("ack", []), doc.get("refused", [])
    if not isinstance(ids, list) or not isinstance(refused, list):
        raise EnvelopeError("malformed ack: ack or refused is not a list")
    return Ack(
        tuple(i for i in ids if isinstance(i, str) and i),
        tuple(
            (str(r["record_id"]), str(r.get("reason", "")))
            for r in refused
            if isinstance(r, dict) and isinstance(r.get("record_id"), str) and r["record_id"]
        ),
    )


WARD_KEY_NAME = "ward_ack_ed25519.key"  # default: beside the ward database


def ward_key_text(key_file: Path) -> str:
    """The base64 public half of the ward's ack key (made if missing): ``mqtt.ward_key``."""
    return public_key_text(load_ward_key(key_file).public_key())


def load_ward_key(key_file: Path) -> Ed25519PrivateKey:
    """The ward's ack-signing key (PKCS#8 PEM, 0600), made with its public half (base64,
    ``<name>.pub``) when it does not exist yet."""
    return load_or_create_signing_key(key_file, key_file.with_suffix(".pub"))


__all__ = [
    "WARD_KEY_NAME",
    "Ack",
    "EnvelopeError",
    "Opened",
    "Rejected",
    "batch_payload",
    "key_paths",
    "load_or_create_signing_key",
    "load_ward_key",
    "open_ack",
    "open_envelope",
    "parse_public_key",
    "public_key_text",
    "seal_ack",
    "seal_envelope",
    "seal_item",
    "station_signing_key",
    "ward_key_text",
]
