"""The station's trust: its own trust store (``trust.dir``, ``station trust import``) plus
the ward's signed bundle (``<data_dir>/trust-bundle/bundle.json``).

The bundle comes over MQTT as a signed head and its parts
(:class:`station.sync.publisher.Publisher`'s ``on_trust``): :func:`bundle_installer`
gives the :class:`BundleFeed` that collects them (:class:`station.verify.bundle.Collector`),
checks them against the ward key pinned at enrolment (``mqtt.ward_key``) and installs the
bundle atomically once whole, with a line in the station's audit log either way. Without
a pinned ward key no bundle is installed or trusted. The chip worker asks
:class:`TrustCache` for the store before each verification: it is read again only when a
file of the store or the bundle changed.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from station.config import Config

if TYPE_CHECKING:  # imported when used: the station starts without them
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from station.audit import AuditLog
    from station.verify.bundle import Collector
    from station.verify.trust import TrustStore

log = logging.getLogger(__name__)


def bundle_dir(cfg: Config) -> Path:
    return cfg.data_dir / "trust-bundle"


def ward_key(cfg: Config) -> Ed25519PublicKey | None:
    """The ward key pinned at enrolment (``mqtt.ward_key``); None when not set or unusable."""
    from station.sync.errors import SyncError
    from station.sync.publisher import ward_key_of

    try:
        return ward_key_of(cfg)
    except SyncError as exc:
        log.error("%s: no trust bundle is accepted", exc)
        return None


def station_trust(cfg: Config, trust_dir: Path | None = None) -> TrustStore:
    """The local trust store plus the installed ward bundle (if its signature checks)."""
    from station.verify.bundle import load_installed, with_bundle
    from station.verify.trust import TrustStore

    local = TrustStore.load(trust_dir or cfg.trust_dir)
    return with_bundle(local, load_installed(bundle_dir(cfg), ward_key(cfg)))


def _stamp(cfg: Config) -> tuple[float, ...]:
    from station.verify.bundle import FILE_NAME

    root = cfg.trust_dir
    paths = (root, root / "certs", root / "crls", bundle_dir(cfg) / FILE_NAME)
    return tuple(p.stat().st_mtime if p.exists() else 0.0 for p in paths)


class TrustCache:
    """The station's trust store, reloaded when the folder or the bundle changed."""

    def __init__(self, cfg: Config) -> None:
        self._cfg = cfg
        self._cached: tuple[tuple[float, ...], TrustStore] | None = None

    def store(self) -> TrustStore:
        stamp = _stamp(self._cfg)
        if self._cached is None or self._cached[0] != stamp:
            self._cached = (stamp, station_trust(self._cfg))
        return self._cached[1]


class BundleFeed:
    """What the publisher hands every message of the bundle's topics: ``feed(suffix,
    payload)`` with ``suffix`` "" for the head (``<prefix>/trust/bundle``) and "V/N" for
    part N of version V; returns the version whose parts the station wants now (the
    publisher subscribes to ``<prefix>/trust/bundle/V/+``), None when it wants none."""

    def __init__(self, collector: Collector) -> None:
        self.collector = collector

    def __call__(self, suffix: str, payload: bytes) -> int | None:
        try:
            if suffix == "":
                self.collector.head(payload)
            else:
                version, _, index = suffix.partition("/")
                if version.isdigit() and index.isdigit() and len(version + index) < 30:
                    self.collector.part(int(version), int(index), payload)
        except OSError as exc:
            log.error("trust bundle not installed: %s (%s)", exc.strerror,
                      self.collector.directory)  # fmt: skip
        return self.collector.wanted


def bundle_installer(cfg: Config, audit: AuditLog | None) -> BundleFeed | None:
    """What the publisher feeds with the bundle's messages; None without a ward key."""
    from station.verify.bundle import Collector

    key = ward_key(cfg)
    if key is None:
        return None
    return BundleFeed(Collector(bundle_dir(cfg), key, audit=audit))


__all__ = [
    "BundleFeed",
    "TrustCache",
    "bundle_dir",
    "bundle_installer",
    "station_trust",
    "ward_key",
]
