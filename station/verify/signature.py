"""Signature checks for certificates, CRLs, CMS (EF.SOD, master lists) and Active
Authentication.

``verify_signature`` handles RSA PKCS#1 v1.5, RSASSA-PSS and ECDSA (DER; ``plain_to_der``
converts BSI TR-03111 plain r||s) with SHA-1/224/256/384/512, on keys loaded by
`station.icao.keys.load_spki`; an ``ExplicitEcKey`` (a curve ``cryptography`` lacks) is
checked with `station.icao.ec.ecdsa_verify`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final, Literal

from asn1crypto import algos
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from station.icao import ec as icao_ec
from station.icao.keys import ExplicitEcKey, KeyLoadError, PublicKey

HASHES: Final[dict[str, type[hashes.HashAlgorithm]]] = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}

Scheme = Literal["pkcs1", "pss", "ecdsa"]


@dataclass(frozen=True)
class SignatureSpec:
    scheme: Scheme
    hash: str
    mgf_hash: str = ""
    salt_length: int = 0


def signature_spec(
    algorithm: algos.SignedDigestAlgorithm, digest: str | None = None
) -> SignatureSpec:
    """Scheme and hashes of an AlgorithmIdentifier; ``digest`` fills in a bare rsa/ecdsa OID."""
    algo = algorithm["algorithm"].native
    if algo == "rsassa_pss":
        params = algorithm["parameters"]
        hash_name = params["hash_algorithm"]["algorithm"].native
        mgf_hash = params["mask_gen_algorithm"]["parameters"]["algorithm"].native
        return SignatureSpec("pss", hash_name, mgf_hash, int(params["salt_length"].native))
    signature_algo = algorithm.signature_algo
    scheme: Scheme
    if signature_algo == "rsassa_pkcs1v15":
        scheme = "pkcs1"
    elif signature_algo == "ecdsa":
        scheme = "ecdsa"
    else:
        raise KeyLoadError(f"unsupported signature algorithm {algo}")
    try:
        hash_name = algorithm.hash_algo
    except ValueError:
        if digest is None:
            raise KeyLoadError(f"signature algorithm {algo} names no hash") from None
        hash_name = digest
    if hash_name not in HASHES:
        raise KeyLoadError(f"unsupported hash {hash_name}")
    return SignatureSpec(scheme, hash_name)


def verify_signature(key: PublicKey, spec: SignatureSpec, data: bytes, signature: bytes) -> bool:
    """True when ``signature`` over ``data`` is valid; False when not (or key/scheme mismatch)."""
    hash_algo = HASHES[spec.hash]()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            if spec.scheme == "pkcs1":
                key.verify(signature, data, padding.PKCS1v15(), hash_algo)
            elif spec.scheme == "pss":
                mgf = padding.MGF1(HASHES[spec.mgf_hash or spec.hash]())
                key.verify(signature, data, padding.PSS(mgf, spec.salt_length), hash_algo)
            else:
                return False
            return True
        if spec.scheme != "ecdsa":
            return False
        if isinstance(key, ExplicitEcKey):
            r, s = _der_rs(signature)
            digest = hashlib.new(spec.hash, data).digest()
            return icao_ec.ecdsa_verify(key.curve, key.point, digest, r, s)
        key.verify(signature, data, ec.ECDSA(hash_algo))
        return True
    except (InvalidSignature, ValueError):
        return False


def plain_to_der(signature: bytes) -> bytes:
    """ECDSA plain r||s (BSI TR-03111) to DER, as ``cryptography`` expects."""
    half = len(signature) // 2
    if half == 0 or len(signature) % 2:
        raise ValueError("plain ECDSA signature of odd or zero length")
    r = int.from_bytes(signature[:half], "big")
    s = int.from_bytes(signature[half:], "big")
    return encode_dss_signature(r, s)


def _der_rs(signature: bytes) -> tuple[int, int]:
    seq = algos.DSASignature.load(signature)
    return int(seq["r"].native), int(seq["s"].native)
