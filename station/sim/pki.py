"""A synthetic document PKI for tests and the card emulator: CSCA -> document signer -> EF.SOD.

``make_test_pki(kind)`` makes a country signing CA and a document signer (DSC) whose
validity and revocation are controllable; ``build_sod(dg_hashes, pki)`` makes a real
EF.SOD (tag 77, CMS SignedData over an LDS security object, signed attributes
contentType + messageDigest, DSC embedded). Helpers make Active Authentication keys
(RSA, EC) and Chip Authentication keys (ECDH, DH) and encode DG14/DG15.

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

from station.verify import dh
from station.verify.asn1 import (
    ECDSA_PLAIN_OID,
    OID_AA,
    OID_CA_DH_AES128,
    OID_CA_ECDH_AES128,
    OID_CSCA_MASTER_LIST,
    OID_LDS_SECURITY_OBJECT,
    OID_PK_DH,
    OID_PK_ECDH,
    ActiveAuthenticationInfo,
    ChipAuthenticationInfo,
    ChipAuthenticationPublicKeyInfo,
    CscaMasterList,
    DataGroupHash,
    LdsSecurityObject,
    tlv,
)

PkiKind = Literal["rsa", "rsa-pss", "p256", "brainpoolP256r1", "brainpoolP384r1"]
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
CaPrivateKey = ec.EllipticCurvePrivateKey | dh.DhPrivateKey

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
# RFC 5114 section 2.1: 1024-bit MODP group with a 160-bit prime order subgroup
# (BSI TR-03110 standardized domain parameters, id 0).
RFC5114_1024_P = int(
    "b10b8f96a080e01dde92de5eae5d54ec52c99fbcfb06a3c69a6a9dca52d23b616073e28675a23d189838ef"
    "1e2ee652c013ecb4aea906112324975c3cd49b83bfaccbdd7d90c4bd7098488e9c219a73724effd6fae5644"
    "738faa31a4ff55bccc0a151af5f0dc8b4bd45bf37df365c1a65e68cfda76d4da708df1fb2bc2e4a4371",
    16,
)
RFC5114_1024_G = int(
    "a4d1cbd5c3fd34126765a442efb99905f8104dd258ac507fd6406cff14266d31266fea1e5c41564b777e69"
    "0f5504f213160217b4b01b886a5e91547f9e2749f4d7fbd7d3b9a92ee1909d0d2263f80a76a6a24c087a09"
    "1f531dbf0a0169b6a28ad662a4d18e73afa32d779d5918d08bc8858f4dcef97c2a24855e6eeb22b3b2e5",
    16,
)
RFC5114_1024_Q = int("f518aa8781a8df278aba4e7d64b7cb9d49462353", 16)


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
) -> TestPki:
    """Generate CSCA + DSC (+ CRL) of one algorithm family.

    ``expired`` puts the DSC's validity entirely before ``now``; ``not_yet_valid`` after it;
    ``revoked`` lists the DSC in the CSCA's CRL (the CRL is always made, empty otherwise).
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
    dsc_cert = (
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
        .sign(csca_key, _cert_hash(csca_key), rsa_padding=pad)
    )
    crl_builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(csca_name)
        .last_update(now - timedelta(days=1))
        .next_update(now + timedelta(days=90))
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
    digest = hashlib.new(hash_alg, content).digest()
    signed_attrs = cms.CMSAttributes(
        [
            {"type": "content_type", "values": [content_type]},
            {"type": "message_digest", "values": [digest]},
        ]
    )
    to_sign = b"\x31" + bytes(signed_attrs.dump())[1:]
    signature = _sign(signing_key or pki.dsc_key, pki.kind, to_sign, hash_alg)
    dsc = a_x509.Certificate.load(pki.dsc_der)
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
            "signature_algorithm": _signature_algorithm(pki.dsc_key, pki.kind, hash_alg),
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


# -- Active Authentication (DG15) -------------------------------------------------------


def make_aa_key(kind: str = "rsa1024") -> PrivateKey:
    """An AA key: "rsa1024", "rsa2048" or a curve name of ``CURVES``."""
    if kind.startswith("rsa"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(kind[3:]))
    if kind in CURVES:
        return ec.generate_private_key(CURVES[kind])
    raise ValueError(f"unknown AA key kind {kind!r}")


def spki_der(public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey | dh.DhPublicKey) -> bytes:
    if isinstance(public_key, dh.DhPublicKey):
        return public_key.spki()
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def encode_dg15(aa_public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey) -> bytes:
    """DG15: tag 6F wrapping the AA key's SubjectPublicKeyInfo."""
    return tlv(0x6F, spki_der(aa_public_key))


# -- Chip Authentication (DG14) -------------------------------------------------------------


def make_ca_key(kind: str = "p256") -> CaPrivateKey:
    """A static CA key pair: a curve name of ``CURVES`` or "dh1024" (RFC 5114 group)."""
    if kind in CURVES:
        return ec.generate_private_key(CURVES[kind])
    if kind == "dh1024":
        return dh.generate(dh.DhParams(RFC5114_1024_P, RFC5114_1024_G, RFC5114_1024_Q))
    raise ValueError(f"unknown CA key kind {kind!r}")


def encode_dg14(
    ca_public_key: ec.EllipticCurvePublicKey | dh.DhPublicKey | None,
    *,
    ca_protocol: str | None = None,
    key_id: int | None = None,
    aa_hash: str | None = None,
) -> bytes:
    """DG14 (tag 6E, SET OF SecurityInfo).

    With a CA key: ChipAuthenticationInfo (``ca_protocol``, default ECDH/DH with
    AES-128 per the key type) + ChipAuthenticationPublicKeyInfo. With ``aa_hash``:
    ActiveAuthenticationInfo naming ecdsa-plain-<hash> (for an EC AA key).
    """
    infos: list[bytes] = []
    if ca_public_key is not None:
        is_dh = isinstance(ca_public_key, dh.DhPublicKey)
        protocol = ca_protocol or (OID_CA_DH_AES128 if is_dh else OID_CA_ECDH_AES128)
        ca_info = {"protocol": protocol, "version": 1}
        pk_info: dict[str, object] = {
            "protocol": OID_PK_DH if is_dh else OID_PK_ECDH,
            "chip_authentication_public_key": _asn1_spki(spki_der(ca_public_key)),
        }
        if key_id is not None:
            ca_info["key_id"] = key_id
            pk_info["key_id"] = key_id
        infos.append(bytes(ChipAuthenticationInfo(ca_info).dump()))
        infos.append(bytes(ChipAuthenticationPublicKeyInfo(pk_info).dump()))
    if aa_hash is not None:
        aa_oid = ECDSA_PLAIN_OID[aa_hash]
        aa_info = {"protocol": OID_AA, "version": 1, "signature_algorithm": aa_oid}
        infos.append(bytes(ActiveAuthenticationInfo(aa_info).dump()))
    infos.sort()  # DER SET OF: sorted encodings
    return tlv(0x6E, tlv(0x31, b"".join(infos)))


def _asn1_spki(der: bytes) -> core.Asn1Value:
    from asn1crypto import keys

    return keys.PublicKeyInfo.load(der)
