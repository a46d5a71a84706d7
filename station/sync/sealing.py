"""Keys off the SD card: sealed with the Raspberry Pi's OTP private key, unsealed to RAM.

The station's secret keys (the outbox key, the record-signing key, the log key and,
when ``mqtt.key_file`` is set, the TLS client key) normally lie in ``data_dir`` next to
the outbox: whoever copies the SD card can read every undelivered record and act as the
station. ``station keys seal`` (root, station stopped) encrypts each of them with a key
derived from the board's one-time-programmable private key (Pi 4/5, CM4/CM5: 256 bits
in OTP, readable only by root, ``rpi-otp-private-key``) into ``<data_dir>/sealed/<name>
.sealed`` and wipes the plain file. At every start ``station keys unseal`` (the unit's
``ExecStartPre=+``, as root) writes the plain keys to ``station.unsealed_dir``
(``/run/station/keys``: RAM, the service's own, gone when it stops) and the station
reads them there (``Config.key_file``); it never makes a sealed key anew.

What this protects, and what not (docs/security.md): an SD card taken out (or imaged)
without its board gives nothing. A whole stolen box still does: its thief can boot
another system on the same board, read the OTP as root and unseal. If the board dies,
the keys die with it: records not yet delivered cannot be read on another board.

File format: ``MAGIC || nonce(12) || AES-256-GCM(key bytes, aad = MAGIC || name)`` under
``HKDF-SHA256(otp, info = MAGIC)``.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from station.config import LOG_KEY, OUTBOX_KEY, SIGNING_KEY, TLS_KEY, Config
from station.files import fsync_dir
from station.sync.errors import SyncError
from station.sync.storage import atomic_write

log = logging.getLogger(__name__)

MAGIC = b"CCCD-SEALED-KEY-1\n"
OTP_BYTES = 32


class SealError(SyncError):
    """Sealing or unsealing failed (the message says which key and why)."""


@dataclass(frozen=True)
class KeyFileSpec:
    name: str  # as Config.key_file knows it
    plain: Path  # where the plain key lives before sealing


def key_files(cfg: Config) -> list[KeyFileSpec]:
    """The station's secret keys, where they lie unsealed on the card."""
    specs = [KeyFileSpec(n, cfg.data_dir / n) for n in (OUTBOX_KEY, SIGNING_KEY, LOG_KEY)]
    if cfg.mqtt.key_file:
        specs.append(KeyFileSpec(TLS_KEY, Path(cfg.mqtt.key_file)))
    return specs


def otp_secret(command: str) -> bytes:
    """The board's OTP private key, printed as 64 hex digits by ``command``."""
    try:
        done = subprocess.run(
            shlex.split(command), capture_output=True, text=True, timeout=20, check=False
        )
    except (OSError, ValueError) as exc:
        raise SealError(f"cannot run station.otp_command {command!r}: {exc}") from None
    hexes = re.findall(r"\b[0-9a-fA-F]{64}\b", done.stdout)
    if done.returncode != 0 or len(hexes) != 1:
        why = (done.stderr.strip() or done.stdout.strip())[:200] or f"exit {done.returncode}"
        raise SealError(f"{command!r} gave no 256-bit OTP key ({why}); is this a Pi 4 or 5?")
    secret = bytes.fromhex(hexes[0])
    if secret == bytes(OTP_BYTES):
        raise SealError(
            "the board's OTP private key is not programmed (all zeros): see docs/security.md"
        )
    return secret


def _kek(secret: bytes) -> bytes:
    return HKDF(hashes.SHA256(), 32, salt=None, info=MAGIC).derive(secret)


def seal_blob(secret: bytes, name: str, plain: bytes) -> bytes:
    nonce = secrets.token_bytes(12)
    return MAGIC + nonce + AESGCM(_kek(secret)).encrypt(nonce, plain, MAGIC + name.encode())


def unseal_blob(secret: bytes, name: str, blob: bytes) -> bytes:
    if not blob.startswith(MAGIC) or len(blob) < len(MAGIC) + 28:
        raise SealError(f"{name}.sealed is not a sealed key (bad header or truncated)")
    nonce, body = blob[len(MAGIC) : len(MAGIC) + 12], blob[len(MAGIC) + 12 :]
    try:
        return AESGCM(_kek(secret)).decrypt(nonce, body, MAGIC + name.encode())
    except InvalidTag:
        raise SealError(
            f"{name}.sealed does not open with this board's OTP key (sealed on another "
            "board, or damaged)"
        ) from None


def _replaceable(cfg: Config) -> set[str]:
    """Keys that may be made anew while sealing, so that the key in use never lay on the
    card in the clear: the log key always, the outbox key while it protects no record."""
    stored = cfg.store_path.is_dir() and any(cfg.store_path.glob("seg-*.tdb"))
    return {LOG_KEY} if stored else {LOG_KEY, OUTBOX_KEY}


def seal_keys(cfg: Config, secret: bytes) -> list[str]:
    """Seal every plain key into ``cfg.sealed_dir`` and wipe the plain file; the names
    sealed now (keys already sealed are left as they are). The log key, and the outbox
    key while the outbox is empty, are replaced by fresh ones that only exist sealed."""
    cfg.sealed_dir.mkdir(mode=0o700, exist_ok=True)
    owner = cfg.data_dir.stat()
    os.chown(cfg.sealed_dir, owner.st_uid, owner.st_gid)
    done = []
    fresh = _replaceable(cfg)
    for spec in key_files(cfg):
        target = cfg.sealed_dir / f"{spec.name}.sealed"
        if target.exists() or not spec.plain.exists():
            continue
        plain = spec.plain.read_bytes()
        if spec.name in fresh:
            plain = secrets.token_bytes(len(plain))
        atomic_write(target, seal_blob(secret, spec.name, plain))
        os.chown(target, owner.st_uid, owner.st_gid)
        if unseal_blob(secret, spec.name, target.read_bytes()) != plain:  # pragma: no cover
            raise SealError(f"{spec.name}: the sealed copy does not read back")
        wipe(spec.plain)
        done.append(spec.name)
        log.info("sealed %s (plain copy wiped)", spec.name)
    return done


def unseal_keys(cfg: Config, secret: bytes) -> list[str]:
    """Write the plain keys to ``station.unsealed_dir`` (0700, files 0600, owned like
    the sealed ones: the station user); the names unsealed."""
    sealed = sorted(cfg.sealed_dir.glob("*.sealed")) if cfg.sealed_dir.is_dir() else []
    if not sealed:
        return []
    out = Path(cfg.station.unsealed_dir)
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    owner = cfg.sealed_dir.stat()
    os.chown(out, owner.st_uid, owner.st_gid)
    out.chmod(0o700)
    names = []
    for path in sealed:
        name = path.name.removesuffix(".sealed")
        target = out / name
        atomic_write(target, unseal_blob(secret, name, path.read_bytes()))
        os.chown(target, owner.st_uid, owner.st_gid)
        names.append(name)
    return names


def wipe(path: Path) -> None:
    """Overwrite a file with zeros, fsync, unlink (on flash, wear levelling may keep an
    old copy of the blocks: seal keys before they ever protect data, see the docs)."""
    size = path.stat().st_size
    with path.open("r+b") as f:
        f.write(bytes(size))
        f.flush()
        os.fsync(f.fileno())
    path.unlink()
    fsync_dir(path.parent)


__all__ = [
    "SealError",
    "key_files",
    "otp_secret",
    "seal_blob",
    "seal_keys",
    "unseal_blob",
    "unseal_keys",
    "wipe",
]
