"""Public keys and signature checks for certificates, CMS and Active Authentication.

ICAO certificates often give EC keys with EXPLICIT curve parameters, which
``cryptography`` cannot load. ``load_spki`` compares explicit parameters
(p, a, b, G, n) against the known named curves and builds the named-curve key;
curves ``cryptography`` lacks are verified here in plain integers
(``ExplicitEcKey``). ``verify_signature`` handles RSA PKCS#1 v1.5, RSASSA-PSS and
ECDSA (DER or plain r||s) with SHA-1/224/256/384/512.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Final, Literal

from asn1crypto import algos, core, keys
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from station.icao.curves import Curve as CurveSpec
from station.icao.curves import find_curve
from station.verify import ecmath

HASHES: Final[dict[str, type[hashes.HashAlgorithm]]] = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
_CRYPTOGRAPHY_CURVES: Final[dict[str, type[ec.EllipticCurve]]] = {
    "secp192r1": ec.SECP192R1,
    "secp224r1": ec.SECP224R1,
    "secp256r1": ec.SECP256R1,
    "secp384r1": ec.SECP384R1,
    "secp521r1": ec.SECP521R1,
    "secp256k1": ec.SECP256K1,
    "brainpoolP256r1": ec.BrainpoolP256R1,
    "brainpoolP384r1": ec.BrainpoolP384R1,
    "brainpoolP512r1": ec.BrainpoolP512R1,
}

_CURVES_LOWER: Final = {name.lower(): cls for name, cls in _CRYPTOGRAPHY_CURVES.items()}


class KeyLoadError(ValueError):
    """A public key that cannot be loaded or used (says why)."""


@dataclass(frozen=True)
class ExplicitEcKey:
    """An EC public key on a curve ``cryptography`` cannot handle: verified in plain integers."""

    curve: CurveSpec
    x: int
    y: int


PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ExplicitEcKey
Scheme = Literal["pkcs1", "pss", "ecdsa"]


@dataclass(frozen=True)
class SignatureSpec:
    scheme: Scheme
    hash: str
    mgf_hash: str = ""
    salt_length: int = 0


def key_description(key: PublicKey) -> str:
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA-{key.key_size}"
    if isinstance(key, ExplicitEcKey):
        return f"EC {key.curve.name} (explicit)"
    return f"EC {key.curve.name}"


def load_spki(der: bytes) -> PublicKey:
    """Load a SubjectPublicKeyInfo (RSA or EC, named or explicit curve)."""
    try:
        info = keys.PublicKeyInfo.load(der)
        algorithm = info["algorithm"]["algorithm"].native
    except (ValueError, TypeError) as exc:
        raise KeyLoadError(f"malformed SubjectPublicKeyInfo: {exc}") from exc
    if algorithm == "ec":
        return _load_ec(info)
    if algorithm in ("rsa", "rsassa_pss"):
        try:
            rsa_info = keys.PublicKeyInfo(
                {"algorithm": {"algorithm": "rsa"}, "public_key": info["public_key"].parsed}
            )
            key = serialization.load_der_public_key(rsa_info.dump())
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise KeyLoadError(f"RSA key cannot be loaded: {exc}") from exc
        assert isinstance(key, rsa.RSAPublicKey)
        return key
    raise KeyLoadError(f"unsupported public key algorithm {algorithm}")


def _load_ec(info: Any) -> PublicKey:
    params = info["algorithm"]["parameters"]
    point = bytes(info["public_key"].native)
    if params.name == "named":
        name = params.chosen.native
        curve_cls = _CURVES_LOWER.get(str(name).lower())
        if curve_cls is None:
            raise KeyLoadError(f"named curve {name} not supported")
        return _from_point(curve_cls(), point)
    if params.name != "specified":
        raise KeyLoadError("EC key with implicitlyCA parameters")
    spec = _explicit_spec(params.chosen)
    curve_cls = _CRYPTOGRAPHY_CURVES.get(spec.name)
    if curve_cls is not None:
        return _from_point(curve_cls(), point)
    x, y = ecmath.decode_point(spec, point)
    return ExplicitEcKey(spec, x, y)


def _explicit_spec(specified: Any) -> CurveSpec:
    field = specified["field_id"]
    if field["field_type"].native != "prime_field":
        raise KeyLoadError("EC key over a characteristic-2 field")
    p = int(field["parameters"].native)
    a = int.from_bytes(specified["curve"]["a"].native, "big")
    b = int.from_bytes(specified["curve"]["b"].native, "big")
    n = int(specified["order"].native)
    size = (p.bit_length() + 7) // 8
    base = bytes(specified["base"].native)
    if len(base) != 1 + 2 * size or base[0] != 4:
        raise KeyLoadError("explicit EC parameters with a compressed or malformed base point")
    gx, gy = int.from_bytes(base[1 : 1 + size], "big"), int.from_bytes(base[1 + size :], "big")
    spec = find_curve(p, a, b, gx, gy, n)
    if spec is None:
        raise KeyLoadError(
            f"explicit EC parameters match no known curve ({p.bit_length()}-bit field)"
        )
    return spec


def _from_point(curve: ec.EllipticCurve, point: bytes) -> ec.EllipticCurvePublicKey:
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(curve, point)
    except ValueError as exc:
        raise KeyLoadError(f"EC point not on {curve.name}: {exc}") from exc


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
            return ecmath.verify(key.curve, (key.x, key.y), digest, r, s)
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


def spki_of(value: core.Asn1Value) -> bytes:
    return bytes(value.dump())
