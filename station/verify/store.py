"""Trust store folder operations: import, list, remove (used by ``station trust``).

``import_file`` recognises PEM or DER certificates, CRLs and ICAO master lists. A master
list whose own CMS signature fails is refused unless ``allow_unverified_list``. A
certificate that is not a CA (no basicConstraints cA, or a keyUsage without keyCertSign:
a document signer, say) is installed with a warning: as an anchor it vouches for nothing
it did not sign itself.

Every change is written to the trust store's own audit log, ``<dir>/audit.log`` (and to
any other ``audit`` log given): event ``trust-added`` / ``trust-removed``, the object's
SHA-256 as fingerprint, its kind and subject as outcome. Files are written 0644 and
folders 0755 whatever the umask: the station's service user reads the store, only root
writes it (see docs/security.md).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from station.audit import AuditLog
from station.verify import masterlist
from station.verify.trust import (
    TrustStore,
    TrustStoreError,
    fingerprint,
    parse_certificate,
    parse_crl,
    pem_or_der_objects,
)

AUDIT_NAME = "audit.log"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImportReport:
    source: str
    added_certs: tuple[str, ...] = ()  # fingerprints
    added_crls: tuple[str, ...] = ()
    already_present: int = 0
    problems: tuple[str, ...] = ()
    master_list: masterlist.MasterList | None = None
    warnings: tuple[str, ...] = ()  # installed, but worth the admin's eye (non-CA anchors)

    def to_json(self) -> dict[str, object]:
        ml = self.master_list
        return {
            "source": self.source,
            "added_certificates": len(self.added_certs),
            "added_crls": len(self.added_crls),
            "already_present": self.already_present,
            "problems": list(self.problems),
            "warnings": list(self.warnings),
            "master_list": None
            if ml is None
            else {
                "signature_valid": ml.signature_valid,
                "signature_problem": ml.signature_problem,
                "signer": ml.signer_subject,
                "signer_serial": ml.signer_serial,
                "signer_chain": ml.signer_chain,
                "certificates": len(ml.certificates),
            },
        }


@dataclass
class _Pending:
    certs: list[bytes] = field(default_factory=list)
    crls: list[bytes] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def import_file(
    directory: Path | str,
    path: Path | str,
    *,
    allow_unverified_list: bool = False,
    audit: tuple[AuditLog, ...] = (),
) -> ImportReport:
    """Install every certificate / CRL that ``path`` holds into the trust store folder."""
    source = Path(path)
    try:
        data = source.read_bytes()
    except OSError as exc:
        raise TrustStoreError(f"cannot read {source}: {exc.strerror}") from exc
    pending = _Pending()
    master: masterlist.MasterList | None = None
    for kind, der in pem_or_der_objects(data):
        if masterlist.is_master_list(der):
            master = masterlist.parse_master_list(der, TrustStore.load(directory))
            if not master.signature_valid and not allow_unverified_list:
                raise TrustStoreError(
                    f"{source.name}: master list signature invalid ({master.signature_problem})"
                )
            pending.certs += master.certificates
            pending.problems += master.problems
        elif kind in ("X509 CRL",) or (kind == "DER" and _looks_like_crl(der)):
            pending.crls.append(parse_crl(der).der)
        elif kind in ("CERTIFICATE", "DER", "TRUSTED CERTIFICATE"):
            pending.certs.append(parse_certificate(der).der)
        else:
            pending.problems.append(f"PEM block {kind!r} ignored")
    return _write(Path(directory), source.name, pending, master, audit)


def _looks_like_crl(der: bytes) -> bool:
    try:
        parse_crl(der)
    except TrustStoreError:
        return False
    try:
        parse_certificate(der)
    except TrustStoreError:
        return True
    return False


def _write(
    root: Path,
    name: str,
    pending: _Pending,
    master: masterlist.MasterList | None,
    audit: tuple[AuditLog, ...],
) -> ImportReport:
    added: dict[str, list[str]] = {"certs": [], "crls": []}
    present = 0
    _folder(root)
    for folder, items in (("certs", pending.certs), ("crls", pending.crls)):
        _folder(root / folder)
        for der in items:
            target = root / folder / f"{fingerprint(der)}.der"
            if target.exists():
                present += 1
                continue
            tmp = target.with_suffix(".tmp")
            tmp.write_bytes(der)
            tmp.chmod(0o644)
            tmp.replace(target)
            added[folder].append(fingerprint(der))
    warnings = tuple(w for d in pending.certs if fingerprint(d) in added["certs"]
                     for w in _anchor_warnings(d))  # fmt: skip
    _audit(root, audit, "trust-added", [*_described(root, "certs", added["certs"]),
                                        *_described(root, "crls", added["crls"])])  # fmt: skip
    log.info(
        "trust import %s: %d certificates, %d CRLs added, %d present, %d problems",
        name,
        len(added["certs"]),
        len(added["crls"]),
        present,
        len(pending.problems),
    )
    return ImportReport(
        source=name,
        added_certs=tuple(added["certs"]),
        added_crls=tuple(added["crls"]),
        already_present=present,
        problems=tuple(pending.problems),
        master_list=master,
        warnings=warnings,
    )


def _folder(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o755)


def _anchor_warnings(der: bytes) -> list[str]:
    """Why a certificate is a poor trust anchor (it is installed all the same)."""
    cert = parse_certificate(der).cert
    name = cert.subject.human_friendly
    try:
        constraints = cert.basic_constraints_value
        usage = cert.key_usage_value
    except ValueError:
        return [f"{name}: its extensions do not parse; check it is a CSCA certificate"]
    if constraints is None or not constraints["ca"].native:
        return [
            f"{name} is not a CA certificate (no basicConstraints cA): a document signer "
            "or other end-entity certificate is no trust anchor; install its CSCA instead"
        ]
    if usage is not None and "key_cert_sign" not in usage.native:
        return [f"{name}: its keyUsage does not allow signing certificates (keyCertSign)"]
    return []


def _described(root: Path, folder: str, fingerprints: list[str]) -> list[tuple[str, str]]:
    """(fingerprint, "certificate <subject>" / "crl <issuer>") for the audit log."""
    out = []
    for fp in fingerprints:
        try:
            der = (root / folder / f"{fp}.der").read_bytes()
            if folder == "certs":
                what = f"certificate {parse_certificate(der).subject}"
            else:
                what = f"crl {parse_crl(der).issuer.human_friendly}"
        except (OSError, TrustStoreError):
            what = folder[:-1]
        out.append((fp, what))
    return out


def _audit(
    root: Path, extra: tuple[AuditLog, ...], event: str, items: list[tuple[str, str]]
) -> None:
    if not items:
        return
    entries = [(event, "", fp, what) for fp, what in items]
    for log_file in (AuditLog(root / AUDIT_NAME), *extra):
        log_file.write_many(entries)
    (root / AUDIT_NAME).chmod(0o644)


def remove(directory: Path | str, prefix: str, *, audit: tuple[AuditLog, ...] = ()) -> str:
    """Remove the one certificate or CRL whose fingerprint starts with ``prefix``."""
    prefix = prefix.lower().replace(":", "")
    if len(prefix) < 8:
        raise TrustStoreError("give at least 8 hex digits of the fingerprint")
    root = Path(directory)
    matches = [p for folder in ("certs", "crls") for p in (root / folder).glob(f"{prefix}*.der")]
    if not matches:
        raise TrustStoreError(f"no trust anchor or CRL with fingerprint {prefix}")
    if len(matches) > 1:
        raise TrustStoreError(f"fingerprint prefix {prefix} is ambiguous ({len(matches)} matches)")
    target = matches[0]
    (described,) = _described(root, target.parent.name, [target.stem])
    target.unlink()
    _audit(root, audit, "trust-removed", [described])
    return target.stem


def listing(store: TrustStore) -> list[dict[str, object]]:
    """One entry per anchor, pinned document signer and CRL: kind, subject/issuer,
    validity, fingerprint, origin (``local`` or ``ward bundle vN``)."""
    rows: list[dict[str, object]] = [
        {
            "kind": kind,
            "subject": a.subject,
            "not_before": a.not_before.isoformat(),
            "not_after": a.not_after.isoformat(),
            "key": a.key_description(),
            "sha256": a.fingerprint,
            "origin": a.origin,
        }
        for kind, group in (("certificate", store.anchors), ("pinned-ds", store.pinned))
        for a in group
    ]
    rows += [
        {
            "kind": "crl",
            "subject": str(c.issuer.human_friendly),
            "not_before": c.this_update.isoformat(),
            "not_after": c.next_update.isoformat() if c.next_update else None,
            "revoked": len(c.crl["tbs_cert_list"]["revoked_certificates"]),
            "sha256": c.fingerprint,
            "origin": c.origin,
        }
        for c in store.crls
    ]
    return rows
