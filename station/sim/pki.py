"""A synthetic document PKI for tests and the card emulator: CSCA -> document signer -> EF.SOD.

``make_test_pki(kind)`` makes a country signing CA and a document signer (DSC) whose
validity and revocation are controllable; ``build_sod(dg_hashes, pki)`` makes a real
EF.SOD (tag 77, CMS SignedData over an LDS security object, signed attributes
contentType + messageDigest, DSC embedded). The chip's own keys (AA, CA) and DG14/DG15 are
`station.sim.emulator.keys`.

Everything here is generated: no real key or certificate is involved.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from asn1crypto import algos, cms, core
from asn1crypto import x509 as a_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from station.icao.tlv import tlv
from station.verify.asn1 import (
    OID_CSCA_MASTER_LIST,
    OID_LDS_SECURITY_OBJECT,
    CscaMasterList,
    DataGroupHash,
    LdsSecurityObject,
)

PkiKind = Literal["rsa", "rsa-pss", "p256", "brainpoolP256r1", "brainpoolP384r1"]
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

CURVES: dict[str, ec.EllipticCurve] = {
    "p256": ec.SECP256R1(),
    "p384": ec.SECP384R1(),
    "p521": ec.SECP521R1(),
    "brainpoolP256r1": ec.BrainpoolP256R1(),
    "brainpoolP384r1": ec.BrainpoolP384R1(),
    "brainpoolP512r1": ec.BrainpoolP512R1(),
}
_HASHES: dict[str, hashes.HashAlgorithm] = {
    "sha1": hashes.SHA1(),
    "sha224": hashes.SHA224(),
    "sha256": hashes.SHA256(),
    "sha384": hashes.SHA384(),
    "sha512": hashes.SHA512(),
}


@dataclass(frozen=True)
class TestPki:
    """A country signing CA, its document signer and its CRL."""

    __test__ = False  # not a pytest test class

    kind: str
    csca_cert: x509.Certificate
    csca_key: PrivateKey
    dsc_cert: x509.Certificate
    dsc_key: PrivateKey
    crl: x509.CertificateRevocationList

    @property
    def csca_der(self) -> bytes:
        return self.csca_cert.public_bytes(serialization.Encoding.DER)

    @property
    def dsc_der(self) -> bytes:
        return self.dsc_cert.public_bytes(serialization.Encoding.DER)

    @property
    def crl_der(self) -> bytes:
        return self.crl.public_bytes(serialization.Encoding.DER)


def _new_key(kind: str, rsa_bits: int) -> PrivateKey:
    if kind in ("rsa", "rsa-pss"):
        return rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)
    if kind in CURVES:
        return ec.generate_private_key(CURVES[kind])
    raise ValueError(f"unknown PKI kind {kind!r}")


def _cert_hash(key: PrivateKey) -> hashes.SHA256 | hashes.SHA384:
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.key_size > 256:
        return hashes.SHA384()
    return hashes.SHA256()


def _cert_padding(kind: str) -> padding.PSS | None:
    if kind == "rsa-pss":
        return padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    return None


def _name(country: str, common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, country),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Synthetic Test Authority"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def make_test_pki(
    kind: PkiKind | str = "rsa",
    *,
    now: datetime | None = None,
    expired: bool = False,
    not_yet_valid: bool = False,
    revoked: bool = False,
    country: str = "VN",
    name: str = "Test",
    rsa_bits: int = 2048,
    signer_from: datetime | None = None,
    key_usage_end: datetime | None = None,
    crl_next_update: datetime | None = None,
) -> TestPki:
    """Generate CSCA + DSC (+ CRL) of one algorithm family.

    ``expired`` puts the DSC's validity entirely before ``now``; ``not_yet_valid`` after it;
    ``revoked`` lists the DSC in the CSCA's CRL (the CRL is always made, empty otherwise).
    ``signer_from`` moves the DSC's start; ``key_usage_end`` gives the DSC a private key
    usage period ending then (ICAO: the signer signs for a few months, its certificate
    stays valid for years);
    ``crl_next_update`` sets the CRL's next update (default: in 90 days).
    """
    now = now or datetime.now(UTC)
    csca_key = _new_key(kind, rsa_bits)
    dsc_key = _new_key(kind, rsa_bits)
    pad = _cert_padding(kind)
    csca_name = _name(country, f"CSCA {name} {kind}")
    ski = x509.SubjectKeyIdentifier.from_public_key(csca_key.public_key())
    csca_cert = (
        x509.CertificateBuilder()
        .subject_name(csca_name)
        .issuer_name(csca_name)
        .public_key(csca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=5 * 365))
        .not_valid_after(now + timedelta(days=10 * 365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .add_extension(ski, critical=False)
        .sign(csca_key, _cert_hash(csca_key), rsa_padding=pad)
    )
    if expired:
        start, end = now - timedelta(days=3 * 365), now - timedelta(days=1)
    elif not_yet_valid:
        start, end = now + timedelta(days=1), now + timedelta(days=3 * 365)
    else:
        start, end = now - timedelta(days=30), now + timedelta(days=3 * 365)
    start = signer_from or start
    dsc_builder = (
        x509.CertificateBuilder()
        .subject_name(_name(country, f"DS {name} {kind}"))
        .issuer_name(csca_name)
        .public_key(dsc_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(_key_usage(ca=False), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
    )
    if key_usage_end is not None:
        period = x509.PrivateKeyUsagePeriod(not_before=start, not_after=key_usage_end)
        dsc_builder = dsc_builder.add_extension(period, critical=False)
    dsc_cert = dsc_builder.sign(csca_key, _cert_hash(csca_key), rsa_padding=pad)
    crl_builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(csca_name)
        .last_update(now - timedelta(days=1))
        .next_update(crl_next_update or now + timedelta(days=90))
    )
    if revoked:
        crl_builder = crl_builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(dsc_cert.serial_number)
            .revocation_date(now - timedelta(hours=1))
            .build()
        )
    crl = crl_builder.sign(csca_key, _cert_hash(csca_key), rsa_padding=pad)
    return TestPki(str(kind), csca_cert, csca_key, dsc_cert, dsc_key, crl)


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not ca,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def lds_security_object(dg_hashes: dict[int, bytes], hash_alg: str = "sha256") -> bytes:
    """DER of an LDSSecurityObject (version 0) listing the given data group hashes."""
    entries = [
        DataGroupHash({"data_group_number": n, "data_group_hash_value": h})
        for n, h in sorted(dg_hashes.items())
    ]
    lso = LdsSecurityObject(
        {
            "version": 0,
            "hash_algorithm": {"algorithm": hash_alg},
            "data_group_hash_values": entries,
        }
    )
    return bytes(lso.dump())


def _sign(key: PrivateKey, kind: str, data: bytes, hash_alg: str) -> bytes:
    algo = _HASHES[hash_alg]
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(algo))
    if kind == "rsa-pss":
        pss = padding.PSS(mgf=padding.MGF1(algo), salt_length=algo.digest_size)
        return key.sign(data, pss, algo)
    return key.sign(data, padding.PKCS1v15(), algo)


def _signature_algorithm(key: PrivateKey, kind: str, hash_alg: str) -> algos.SignedDigestAlgorithm:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return algos.SignedDigestAlgorithm({"algorithm": f"{hash_alg}_ecdsa"})
    if kind == "rsa-pss":
        params = algos.RSASSAPSSParams(
            {
                "hash_algorithm": {"algorithm": hash_alg},
                "mask_gen_algorithm": {
                    "algorithm": "mgf1",
                    "parameters": {"algorithm": hash_alg},
                },
                "salt_length": _HASHES[hash_alg].digest_size,
            }
        )
        return algos.SignedDigestAlgorithm({"algorithm": "rsassa_pss", "parameters": params})
    return algos.SignedDigestAlgorithm({"algorithm": f"{hash_alg}_rsa"})


def build_sod(
    dg_hashes: dict[int, bytes],
    pki: TestPki,
    hash_alg: str = "sha256",
    *,
    signing_key: PrivateKey | None = None,
) -> bytes:
    """A complete EF.SOD (tag 77) over ``dg_hashes`` signed by ``pki``'s document signer.

    ``signing_key`` signs with another key than the DSC's (a forged SOD: bad signature).
    """
    content = lds_security_object(dg_hashes, hash_alg)
    info = signed_data(content, OID_LDS_SECURITY_OBJECT, pki, hash_alg, signing_key=signing_key)
    return tlv(0x77, info)


def build_master_list(certificates: list[bytes], pki: TestPki, hash_alg: str = "sha256") -> bytes:
    """An ICAO CSCA master list (ContentInfo DER) holding ``certificates``, signed by
    ``pki``'s document signer acting as the master list signer."""
    content = CscaMasterList({"version": 0, "cert_list": [core.Any.load(c) for c in certificates]})
    return signed_data(bytes(content.dump()), OID_CSCA_MASTER_LIST, pki, hash_alg)


def signed_data(
    content: bytes,
    content_type: str,
    pki: TestPki,
    hash_alg: str = "sha256",
    *,
    signing_key: PrivateKey | None = None,
) -> bytes:
    """CMS SignedData (ContentInfo DER) over ``content`` with contentType + messageDigest
    signed attributes, signed by ``pki``'s DSC (embedded)."""
    return _signed_data(
        content, content_type, pki.dsc_der, signing_key or pki.dsc_key, pki.kind, hash_alg
    )


def _signed_data(
    content: bytes,
    content_type: str,
    signer_der: bytes,
    key: PrivateKey,
    kind: str,
    hash_alg: str,
) -> bytes:
    digest = hashlib.new(hash_alg, content).digest()
    signed_attrs = cms.CMSAttributes(
        [
            {"type": "content_type", "values": [content_type]},
            {"type": "message_digest", "values": [digest]},
        ]
    )
    to_sign = b"\x31" + bytes(signed_attrs.dump())[1:]
    signature = _sign(key, kind, to_sign, hash_alg)
    dsc = a_x509.Certificate.load(signer_der)
    signer_info = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                {
                    "issuer_and_serial_number": {
                        "issuer": dsc.issuer,
                        "serial_number": dsc.serial_number,
                    }
                }
            ),
            "digest_algorithm": {"algorithm": hash_alg},
            "signed_attrs": signed_attrs,
            "signature_algorithm": _signature_algorithm(key, kind, hash_alg),
            "signature": signature,
        }
    )
    body = cms.SignedData(
        {
            "version": "v3",
            "digest_algorithms": [{"algorithm": hash_alg}],
            "encap_content_info": {
                "content_type": content_type,
                "content": core.ParsableOctetString(content),
            },
            "certificates": [dsc],
            "signer_infos": [signer_info],
        }
    )
    return bytes(cms.ContentInfo({"content_type": "signed_data", "content": body}).dump())


def dg_hashes_of(files: dict[int, bytes], hash_alg: str = "sha256") -> dict[int, bytes]:
    """Hash each data group's full bytes (outer tag included), as the SOD lists them."""
    return {n: hashlib.new(hash_alg, data).digest() for n, data in files.items()}


def forge_signer(genuine_der: bytes) -> tuple[bytes, PrivateKey]:
    """A forged document signer: a certificate copying a genuine one's subject, issuer,
    serial, validity and extensions (the authority key identifier included), with a fresh
    key pair, signed by a key that is not its issuer's. Returns (DER, the forged key)."""
    genuine = x509.load_der_x509_certificate(genuine_der)
    public = genuine.public_key()
    key: PrivateKey
    forger: PrivateKey
    if isinstance(public, rsa.RSAPublicKey):
        key, forger = _new_key("rsa", public.key_size), _new_key("rsa", 2048)
    elif isinstance(public, ec.EllipticCurvePublicKey):
        key, forger = ec.generate_private_key(public.curve), ec.generate_private_key(public.curve)
    else:
        raise TypeError(f"cannot forge a signer with a {type(public).__name__}")
    builder = (
        x509.CertificateBuilder()
        .subject_name(genuine.subject)
        .issuer_name(genuine.issuer)
        .public_key(key.public_key())
        .serial_number(genuine.serial_number)
        .not_valid_before(genuine.not_valid_before_utc)
        .not_valid_after(genuine.not_valid_after_utc)
    )
    for extension in genuine.extensions:
        builder = builder.add_extension(extension.value, critical=extension.critical)
    cert = builder.sign(forger, _cert_hash(forger))
    return cert.public_bytes(serialization.Encoding.DER), key


def resign_sod(sod: bytes, signer_der: bytes, key: PrivateKey) -> bytes:
    """``sod``'s LDS security object (the same data group hashes) signed again by another
    document signer (its certificate embedded)."""
    from station.verify.sod import parse_sod

    parsed = parse_sod(sod)
    kind = "rsa" if isinstance(key, rsa.RSAPrivateKey) else "ecdsa"
    info = _signed_data(
        parsed.content, OID_LDS_SECURITY_OBJECT, signer_der, key, kind, parsed.digest_alg
    )
    return tlv(0x77, info)
