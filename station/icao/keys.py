"""Public keys as certificates and the chip give them: SubjectPublicKeyInfo -> a usable key.

ICAO certificates and DG14/DG15 keys often give EC keys with EXPLICIT curve parameters, which
``cryptography`` cannot load. ``load_spki`` compares explicit parameters (p, a, b, G, n) with
the curves of `station.icao.curves` and builds the named-curve key; a curve ``cryptography``
lacks (e.g. brainpoolP224r1) becomes an ``ExplicitEcKey``, used with `station.icao.ec`.
``load_dh_spki`` reads an X9.42 ``dhpublicnumber`` key (Chip Authentication with DH).
``explicit_curve`` and ``modp_group`` turn explicit domain parameters into the `Curve` /
`ModpGroup` of `station.icao.ec`; PACE's explicit domain parameters use them too.

Every failure is a ``KeyLoadError`` (a ``ValueError``) that says why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from asn1crypto import keys
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from station.icao.curves import Curve, ModpGroup, Point, find_curve
from station.icao.ec import OPENSSL_CURVES

_CURVES_LOWER: Final = {name.lower(): cls for name, cls in OPENSSL_CURVES.items()}
#: What asn1crypto raises on malformed DER (it parses lazily, so anywhere a field is read).
MALFORMED: Final = (ValueError, TypeError, KeyError, IndexError, OverflowError)
_T = TypeVar("_T")


class KeyLoadError(ValueError):
    """A public key that cannot be loaded or used (says why)."""


@dataclass(frozen=True)
class ExplicitEcKey:
    """An EC public key on a curve ``cryptography`` cannot handle: used in plain integers."""

    curve: Curve
    x: int
    y: int

    @property
    def point(self) -> Point:
        return (self.x, self.y)


@dataclass(frozen=True)
class DhPublicKey:
    """A finite-field DH public value y in ``group`` (X9.42 ``dhpublicnumber``)."""

    group: ModpGroup
    y: int


PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ExplicitEcKey


def key_description(key: PublicKey) -> str:
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA-{key.key_size}"
    if isinstance(key, ExplicitEcKey):
        return f"EC {key.curve.name} (explicit)"
    return f"EC {key.curve.name}"


def _parsed(what: str, parse: Callable[[], _T]) -> _T:
    """``parse()``, with asn1crypto's errors on malformed DER turned into KeyLoadError."""
    try:
        return parse()
    except KeyLoadError:
        raise
    except MALFORMED as exc:
        raise KeyLoadError(f"malformed {what}: {exc}") from exc


def load_spki(der: bytes) -> PublicKey:
    """Load a SubjectPublicKeyInfo (RSA or EC, named or explicit curve)."""
    info = _parsed("SubjectPublicKeyInfo", lambda: keys.PublicKeyInfo.load(der, strict=True))
    algorithm = _parsed("SubjectPublicKeyInfo", lambda: info["algorithm"]["algorithm"].native)
    if algorithm == "ec":
        return _parsed("EC public key", lambda: _load_ec(info))
    if algorithm in ("rsa", "rsassa_pss"):
        try:
            rsa_info = keys.PublicKeyInfo(
                {"algorithm": {"algorithm": "rsa"}, "public_key": info["public_key"].parsed}
            )
            key = serialization.load_der_public_key(rsa_info.dump())
        except (*MALFORMED, UnsupportedAlgorithm) as exc:
            raise KeyLoadError(f"RSA key cannot be loaded: {exc}") from exc
        if not isinstance(key, rsa.RSAPublicKey):
            raise KeyLoadError("RSA key cannot be loaded")
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
    curve = explicit_curve(params.chosen)
    if curve.name == "explicit":
        raise KeyLoadError(
            f"explicit EC parameters match no known curve ({curve.p.bit_length()}-bit field)"
        )
    curve_cls = OPENSSL_CURVES.get(curve.name)
    if curve_cls is not None:
        return _from_point(curve_cls(), point)
    size = curve.size
    if len(point) != 1 + 2 * size or point[0] != 4:
        raise KeyLoadError(f"EC point is not an uncompressed {curve.name} point")
    x, y = int.from_bytes(point[1 : 1 + size], "big"), int.from_bytes(point[1 + size :], "big")
    if not curve.contains((x, y)):
        raise KeyLoadError(f"EC point not on {curve.name}")
    return ExplicitEcKey(curve, x, y)


def explicit_curve(specified: keys.SpecifiedECDomain) -> Curve:
    """Explicit prime-field ECParameters -> the named curve of the table with exactly these
    values, else a ``Curve`` named "explicit" (not checked: the caller decides)."""
    field = specified["field_id"]
    if field["field_type"].native != "prime_field":
        raise KeyLoadError("EC parameters over a characteristic-2 field")
    p = int(field["parameters"].native)
    a = int.from_bytes(specified["curve"]["a"].native, "big")
    b = int.from_bytes(specified["curve"]["b"].native, "big")
    n = int(specified["order"].native)
    size = (p.bit_length() + 7) // 8
    base = bytes(specified["base"].native)
    if len(base) != 1 + 2 * size or base[0] != 4:
        raise KeyLoadError("explicit EC parameters with a compressed or malformed base point")
    gx, gy = int.from_bytes(base[1 : 1 + size], "big"), int.from_bytes(base[1 + size :], "big")
    return find_curve(p, a, b, gx, gy, n) or Curve("explicit", p, a, b, gx, gy, n)


def modp_group(params: keys.DomainParameters, name: str = "explicit") -> ModpGroup:
    """X9.42 DomainParameters (p, g, q) -> a ``ModpGroup``; that g generates a subgroup of
    order q is not checked here (an exponentiation: PACE checks it, Chip Authentication checks
    the chip's public value instead)."""
    group = ModpGroup(
        name, int(params["p"].native), int(params["g"].native), int(params["q"].native or 0)
    )
    if group.q < 2:
        raise KeyLoadError("DH domain parameters without a subgroup order q")
    return group


def load_dh_spki(der: bytes) -> DhPublicKey:
    """A DH public key from an X9.42 SubjectPublicKeyInfo; KeyLoadError when it is none."""
    info = _parsed("SubjectPublicKeyInfo", lambda: keys.PublicKeyInfo.load(der, strict=True))

    def load() -> DhPublicKey:
        if info["algorithm"]["algorithm"].native != "dh":
            raise KeyLoadError("not a DH public key")
        group = modp_group(info["algorithm"]["parameters"])
        return DhPublicKey(group, int(info["public_key"].parsed.native))

    return _parsed("DH public key", load)


def _from_point(curve: ec.EllipticCurve, point: bytes) -> ec.EllipticCurvePublicKey:
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(curve, point)
    except ValueError as exc:
        raise KeyLoadError(f"EC point not on {curve.name}: {exc}") from exc
