"""ICAO CSCA master lists (ICAO 9303-12 section 9): CMS SignedData over a CscaMasterList.

``parse_master_list`` checks the list's own CMS signature, reports its signer and whether
the signer chains to a CSCA (one in the list itself or in the trust store), and collects
every certificate, keeping going past the ones it cannot use (saying which and why).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from asn1crypto import cms, x509

from station.icao import keys
from station.verify import sod
from station.verify.asn1 import OID_CSCA_MASTER_LIST, CscaMasterList
from station.verify.trust import TrustStore, TrustStoreError, fingerprint, verify_issued_by

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MasterList:
    certificates: tuple[bytes, ...]  # usable CSCA certificates, DER
    signer_subject: str
    signer_serial: int | None
    signature_problem: str | None  # None: the list's CMS signature verifies
    signer_chain: str  # how (whether) the list signer chains to a CSCA
    problems: tuple[str, ...]  # certificates skipped, each with the reason

    @property
    def signature_valid(self) -> bool:
        return self.signature_problem is None


def is_master_list(der: bytes) -> bool:
    try:
        info = cms.ContentInfo.load(der)
        if info["content_type"].native != "signed_data":
            return False
        return bool(
            info["content"]["encap_content_info"]["content_type"].dotted == OID_CSCA_MASTER_LIST
        )
    except (ValueError, TypeError, KeyError):
        return False


def parse_master_list(der: bytes, store: TrustStore | None = None) -> MasterList:
    try:
        signed = cms.ContentInfo.load(der)["content"]
        content = signed["encap_content_info"]["content"].native
        cert_list = CscaMasterList.load(content)["cert_list"]
        entries = [item.dump() for item in cert_list]
        cms_certs = tuple(
            c.chosen
            for c in (signed["certificates"] or [])
            if isinstance(c.chosen, x509.Certificate)
        )
        signer_info = signed["signer_infos"][0]
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise TrustStoreError(f"malformed master list: {exc}") from exc
    signer = sod.find_signer(signer_info["sid"], cms_certs)
    attrs, content_type, digest = sod.signed_attributes(signer_info)
    problem = sod.verify_signed_content(
        content=content,
        expected_type=OID_CSCA_MASTER_LIST,
        signed_attrs=attrs,
        content_type_attr=content_type,
        message_digest=digest,
        digest_alg=signer_info["digest_algorithm"]["algorithm"].native,
        signature_algorithm=signer_info["signature_algorithm"],
        signature=bytes(signer_info["signature"].native),
        cert=signer,
    )
    usable, problems, parsed = _collect(entries)
    chain = _signer_chain(signer, parsed, store) if signer is not None else "no signer certificate"
    return MasterList(
        certificates=tuple(usable),
        signer_subject=str(signer.subject.human_friendly) if signer else "",
        signer_serial=int(signer.serial_number) if signer else None,
        signature_problem=problem,
        signer_chain=chain,
        problems=tuple(problems),
    )


def _collect(entries: list[bytes]) -> tuple[list[bytes], list[str], list[x509.Certificate]]:
    usable: list[bytes] = []
    problems: list[str] = []
    parsed: list[x509.Certificate] = []
    for index, der in enumerate(entries):
        try:
            cert = x509.Certificate.load(der)
            cert.native  # noqa: B018 - full parse
            keys.load_spki(cert.public_key.dump())
        except keys.KeyLoadError as exc:
            problems.append(f"certificate {index} ({_name(cert)}): {exc}")
            continue
        except (ValueError, TypeError) as exc:
            problems.append(
                f"certificate {index} (sha256 {fingerprint(der)[:16]}): malformed: {exc}"
            )
            continue
        usable.append(der)
        parsed.append(cert)
    return usable, problems, parsed


def _name(cert: x509.Certificate) -> str:
    try:
        return str(cert.subject.human_friendly)
    except (ValueError, TypeError):
        return "unreadable subject"


def _signer_chain(
    signer: x509.Certificate, in_list: list[x509.Certificate], store: TrustStore | None
) -> str:
    places: list[tuple[str, x509.Certificate]] = [("in the list", c) for c in in_list]
    if store is not None:
        places += [("in the trust store", a.cert) for a in store.anchors]
    for where, cert in places:
        if cert.subject != signer.issuer:
            continue
        try:
            key = keys.load_spki(cert.public_key.dump())
        except keys.KeyLoadError:
            continue
        if verify_issued_by(signer, key):
            return f"signer chains to {_name(cert)} ({where})"
    return "signer's CSCA is not present: the list's origin is unverified"
