"""Verification of a chip read: Passive, Active and Chip Authentication, trust anchors,
QR/chip agreement, and the verdict the officer sees.

    from station.verify import TrustStore, verify_chip
    store = TrustStore.load(cfg.trust_dir)          # once at start-up (and after imports)
    v = verify_chip(read, qr_identity, store)   # PA, and AA + CA over read.session
    record["verification"] = v.to_json()
    screen: v.level ("verified" | "signed-untrusted" | "qr-only" | "failed"), v.reason_vi

Modules: ``sod`` (EF.SOD / CMS), ``signature`` (RSA / ECDSA checks on keys loaded by
``station.icao.keys``), ``trust`` / ``store`` / ``masterlist`` (trust store folder),
``passive``, ``active`` (the AA answer's check), ``agreement``, ``verdict``, ``chip``. The
Active and Chip Authentication protocols (their APDUs) are ``station.icao.active`` and
``station.icao.chipauth``: verification sends no APDU itself.
"""

from station.verify.chip import load_dump, verify_chip
from station.verify.trust import TrustStore
from station.verify.verdict import Auth, Level, Verification

__all__ = ["Auth", "Level", "TrustStore", "Verification", "load_dump", "verify_chip"]
