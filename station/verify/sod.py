"""EF.SOD: the CMS SignedData over the LDS security object (ICAO 9303-10 section 4.6.2).

``parse_sod`` reads everything Passive Authentication needs and fails with ``SodError``
(saying what was wrong) on anything malformed; ``check_signature`` checks the signed
attributes (content type, message digest) and the document signer's signature.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from asn1crypto import cms, x509

from station.fingerprint import Pseudonym
from station.icao import keys
from station.icao.tlv import parse_one
from station.verify.asn1 import (
    HASH_NAMES,
    OID_LDS_SECURITY_OBJECT,
    LdsSecurityObject,
    same_name,
)
from station.verify.signature import signature_spec, verify_signature

log = logging.getLogger(__name__)


class SodError(ValueError):
    """A malformed or unusable EF.SOD."""


@dataclass(frozen=True)
class Sod:
    """What EF.SOD says: DG hashes, the signed content and its signature."""

    hash_alg: str
    dg_hashes: Mapping[int, bytes]
    lds_version: str | None
    content: bytes
    digest_alg: str
    signed_attrs: bytes | None  # DER, re-tagged as SET (what the signature covers)
    content_type_attr: str | None
    message_digest: bytes | None
    signature_algorithm: x509.SignedDigestAlgorithm
    signature: bytes
    signer_cert: x509.Certificate | None
    certificates: tuple[x509.Certificate, ...]

    @property
    def pseudonym(self) -> Pseudonym:
        """How logs name this SOD (a keyed hash: the SOD is a card's own data)."""
        return Pseudonym(self.content)


def parse_sod(data: bytes) -> Sod:
    """Parse a complete EF.SOD (outer tag 77) or a bare ContentInfo."""
    try:
        body = parse_one(data).value if data[:1] == b"\x77" else data
        info = cms.ContentInfo.load(body)
        if info["content_type"].native != "signed_data":
            raise SodError(f"EF.SOD content type is {info['content_type'].dotted}, not signedData")
        signed = info["content"]
        encap = signed["encap_content_info"]
        if encap["content_type"].dotted != OID_LDS_SECURITY_OBJECT:
            raise SodError(f"EF.SOD eContentType is {encap['content_type'].dotted}")
        content = encap["content"].native
        if not isinstance(content, bytes):
            raise SodError("EF.SOD has no encapsulated LDS security object")
        return _build(signed, content)
    except SodError:
        raise
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise SodError(f"EF.SOD is malformed: {exc}") from exc


def _build(signed: cms.SignedData, content: bytes) -> Sod:
    lso = LdsSecurityObject.load(content)
    hash_alg = lso["hash_algorithm"]["algorithm"].native
    if hash_alg not in HASH_NAMES:
        raise SodError(f"LDS security object uses unsupported hash {hash_alg}")
    dg_hashes = {
        int(item["data_group_number"].native): bytes(item["data_group_hash_value"].native)
        for item in lso["data_group_hash_values"]
    }
    version_info = lso["lds_version_info"]
    lds_version = None if version_info.native is None else version_info["lds_version"].native
    infos = signed["signer_infos"]
    if len(infos) != 1:
        raise SodError(f"EF.SOD has {len(infos)} signer infos, expected 1")
    signer = infos[0]
    certs = tuple(
        c.chosen for c in (signed["certificates"] or []) if isinstance(c.chosen, x509.Certificate)
    )
    signed_attrs, content_type, digest = signed_attributes(signer)
    return Sod(
        hash_alg=hash_alg,
        dg_hashes=dg_hashes,
        lds_version=lds_version,
        content=content,
        digest_alg=signer["digest_algorithm"]["algorithm"].native,
        signed_attrs=signed_attrs,
        content_type_attr=content_type,
        message_digest=digest,
        signature_algorithm=signer["signature_algorithm"],
        signature=bytes(signer["signature"].native),
        signer_cert=find_signer(signer["sid"], certs),
        certificates=certs,
    )


def check_signature(sod: Sod, signer_cert: x509.Certificate | None = None) -> str | None:
    """None when the signed attributes and the signature are valid, else the reason."""
    return verify_signed_content(
        content=sod.content,
        expected_type=OID_LDS_SECURITY_OBJECT,
        signed_attrs=sod.signed_attrs,
        content_type_attr=sod.content_type_attr,
        message_digest=sod.message_digest,
        digest_alg=sod.digest_alg,
        signature_algorithm=sod.signature_algorithm,
        signature=sod.signature,
        cert=signer_cert or sod.signer_cert,
    )


def signed_attributes(signer: cms.SignerInfo) -> tuple[bytes | None, str | None, bytes | None]:
    """(DER of the signed attributes as a SET, contentType OID, messageDigest) of a signer."""
    attrs = signer["signed_attrs"]
    if attrs.native is None:
        return None, None, None
    content_type = digest = None
    for attr in attrs:
        kind = attr["type"].native
        if kind == "content_type":
            content_type = attr["values"][0].dotted
        elif kind == "message_digest":
            digest = bytes(attr["values"][0].native)
    return b"\x31" + bytes(attrs.dump())[1:], content_type, digest


def verify_signed_content(
    *,
    content: bytes,
    expected_type: str,
    signed_attrs: bytes | None,
    content_type_attr: str | None,
    message_digest: bytes | None,
    digest_alg: str,
    signature_algorithm: x509.SignedDigestAlgorithm,
    signature: bytes,
    cert: x509.Certificate | None,
) -> str | None:
    """Check one CMS signer over ``content``: None when valid, else the reason."""
    if cert is None:
        return "no signer certificate in the CMS structure"
    if digest_alg not in HASH_NAMES:
        return f"unsupported digest algorithm {digest_alg}"
    signed = content
    if signed_attrs is not None:
        if content_type_attr != expected_type:
            return f"signed contentType attribute is {content_type_attr}, expected {expected_type}"
        if message_digest != hashlib.new(digest_alg, content).digest():
            return "messageDigest attribute does not match the signed content"
        signed = signed_attrs
    try:
        key = keys.load_spki(cert.public_key.dump())
        spec = signature_spec(signature_algorithm, digest_alg)
    except keys.KeyLoadError as exc:
        return f"signer key unusable: {exc}"
    if not verify_signature(key, spec, signed, signature):
        return f"signature ({spec.scheme}/{spec.hash}) does not verify"
    return None


def find_signer(
    sid: cms.SignerIdentifier, certs: tuple[x509.Certificate, ...]
) -> x509.Certificate | None:
    """The certificate a SignerIdentifier names (or the only one present)."""
    if sid.name == "issuer_and_serial_number":
        wanted = sid.chosen
        serial, issuer = wanted["serial_number"].native, wanted["issuer"]
        for cert in certs:
            if cert.serial_number == serial and same_name(cert.issuer, issuer):
                return cert
    else:
        for cert in certs:
            if cert.key_identifier == sid.chosen.native:
                return cert
    return certs[0] if len(certs) == 1 else None
