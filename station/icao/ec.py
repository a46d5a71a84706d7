"""The station's one elliptic-curve and finite-field Diffie-Hellman arithmetic: PACE Generic
Mapping, Chip Authentication (ECDH and DH) and ECDSA verification on curves `cryptography` lacks.

`cryptography` does ECDH on named curves but exposes no point addition, which Generic Mapping
needs (G~ = s*G + H). This module is the minimum for that: short Weierstrass curves over prime
fields, affine points at the API (``Point = (x, y)``; the point at infinity is never returned,
an operation that would produce it raises `EcError`), Jacobian coordinates inside.
`ecdsa_verify` checks an ECDSA signature on any curve of the table (certificates and DG14/DG15
keys given with explicit parameters of a curve OpenSSL lacks).

Scalar multiplication is a Montgomery ladder over a fixed number of bits (the scalar is first
replaced by k + n or k + 2n, whichever has exactly ``n.bit_length() + 1`` bits), so every scalar
of a curve costs the same sequence of one addition and one doubling per bit. Python integers
are not constant-time, so this is "constant-time where it matters" at the algorithm level only:
no branch or loop length depends on a secret bit. Where OpenSSL (via `cryptography`) knows the
curve, `multiply_generator`, `shared_x` and `multiply` use its constant-time ECDH instead and
the ladder only serves the curves it lacks (brainpoolP192r1/P224r1/P320r1): same results,
checked against each other in the tests. A protocol that uses one private scalar several
times (PACE: its public key, the mapping, the shared secret) holds it as an `EcKey`
(`new_key`: OpenSSL's key object with k*G, made once), and `key_multiply` / `key_shared_x`
cost one or two ECDH operations with it, no new key per operation.

Finite-field DH (`dh_public_key`, `dh_decode`, `dh_shared_secret`) works in the prime-order
subgroup of a `ModpGroup`: public values are |p| bytes big-endian and every peer value is
checked to lie in the subgroup of order q.

Domain parameters (`Curve`, `ModpGroup`, the PACE `standard_domain` table) live in
`station.icao.curves`; the names the protocols use are re-exported here.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Final, TypeAlias

from cryptography.hazmat.primitives.asymmetric import ec as _cec

from station.icao.curves import Curve, EcError, ModpGroup, Point, standard_domain, standard_ids

__all__ = [
    "OPENSSL_CURVES",
    "Curve",
    "EcError",
    "EcKey",
    "ModpGroup",
    "Point",
    "decode_point",
    "dh_decode",
    "dh_public_key",
    "dh_shared_secret",
    "ecdh_ephemeral",
    "ecdsa_verify",
    "encode_point",
    "key_multiply",
    "key_shared_x",
    "multiply",
    "multiply_generator",
    "new_key",
    "point_add",
    "random_private",
    "scalar_mult",
    "shared_x",
    "standard_domain",
    "standard_ids",
]

_Jacobian: TypeAlias = tuple[int, int, int]


# --- encoding ---------------------------------------------------------------------------------


def encode_point(curve: Curve, point: Point) -> bytes:
    """Uncompressed encoding 04 || X || Y, coordinates padded to the field size."""
    size = curve.size
    return b"\x04" + point[0].to_bytes(size, "big") + point[1].to_bytes(size, "big")


def decode_point(curve: Curve, data: bytes) -> Point:
    """Decode an uncompressed point and check it is on the curve (and so not infinity)."""
    size = curve.size
    if len(data) != 1 + 2 * size or data[0] != 0x04:
        raise EcError(f"{curve.name}: not an uncompressed point of {1 + 2 * size} bytes")
    point = (int.from_bytes(data[1 : 1 + size], "big"), int.from_bytes(data[1 + size :], "big"))
    if not curve.contains(point):
        raise EcError(f"{curve.name}: point is not on the curve")
    return point


# --- Jacobian arithmetic ----------------------------------------------------------------------


def _double(curve: Curve, pt: _Jacobian) -> _Jacobian:
    """dbl-2007-bl; a point with Y = 0 or Z = 0 doubles to Z = 0 (infinity)."""
    p = curve.p
    x1, y1, z1 = pt
    xx = x1 * x1 % p
    yy = y1 * y1 % p
    yyyy = yy * yy % p
    zz = z1 * z1 % p
    s = 2 * ((x1 + yy) ** 2 - xx - yyyy) % p
    m = (3 * xx + curve.a * zz * zz) % p
    t = (m * m - 2 * s) % p
    y3 = (m * (s - t) - 8 * yyyy) % p
    z3 = ((y1 + z1) ** 2 - yy - zz) % p
    return (t, y3, z3)


def _add(curve: Curve, p1: _Jacobian, p2: _Jacobian) -> _Jacobian:
    """add-2007-bl, with the exceptional cases (infinity, P == Q, P == -Q) handled."""
    p = curve.p
    x1, y1, z1 = p1
    x2, y2, z2 = p2
    if z1 == 0:
        return p2
    if z2 == 0:
        return p1
    z1z1 = z1 * z1 % p
    z2z2 = z2 * z2 % p
    u1 = x1 * z2z2 % p
    u2 = x2 * z1z1 % p
    s1 = y1 * z2 * z2z2 % p
    s2 = y2 * z1 * z1z1 % p
    h = (u2 - u1) % p
    r = 2 * (s2 - s1) % p
    if h == 0:
        return _double(curve, p1) if r == 0 else (1, 1, 0)
    i = 4 * h * h % p
    j = h * i % p
    v = u1 * i % p
    x3 = (r * r - j - 2 * v) % p
    y3 = (r * (v - x3) - 2 * s1 * j) % p
    z3 = ((z1 + z2) ** 2 - z1z1 - z2z2) * h % p
    return (x3, y3, z3)


def _to_affine(curve: Curve, pt: _Jacobian) -> Point:
    x, y, z = pt
    if z % curve.p == 0:
        raise EcError(f"{curve.name}: result is the point at infinity")
    p = curve.p
    zi = pow(z, -1, p)
    zi2 = zi * zi % p
    return (x * zi2 % p, y * zi2 * zi % p)


def point_add(curve: Curve, p1: Point, p2: Point) -> Point:
    """P + Q for points on the curve; EcError if the sum is infinity."""
    return _to_affine(curve, _add(curve, (p1[0], p1[1], 1), (p2[0], p2[1], 1)))


def scalar_mult(curve: Curve, k: int, point: Point) -> Point:
    """k * P by a fixed-length Montgomery ladder; EcError if the result is infinity."""
    return _to_affine(curve, _ladder(curve, k, point))


def _ladder(curve: Curve, k: int, point: Point) -> _Jacobian:
    """k * P in Jacobian coordinates (Z = 0 for infinity), P checked to be on the curve."""
    if not curve.contains(point):
        raise EcError(f"{curve.name}: point is not on the curve")
    n = curve.n
    bits = n.bit_length()
    k1 = k % n + n
    k1 += n * (1 - (k1 >> bits))  # k + n, or k + 2n when k + n is one bit short
    base: _Jacobian = (point[0], point[1], 1)
    pair = [base, _double(curve, base)]
    for i in range(bits - 1, -1, -1):
        bit = (k1 >> i) & 1
        r0, r1 = pair[bit], pair[1 - bit]
        r1 = _add(curve, r0, r1)
        r0 = _double(curve, r0)
        pair[bit], pair[1 - bit] = r0, r1
    return pair[0]


#: The curves OpenSSL (via `cryptography`) knows, by the table's names.
OPENSSL_CURVES: Final[dict[str, type[_cec.EllipticCurve]]] = {
    "secp192r1": _cec.SECP192R1,
    "secp224r1": _cec.SECP224R1,
    "secp256r1": _cec.SECP256R1,
    "secp384r1": _cec.SECP384R1,
    "secp521r1": _cec.SECP521R1,
    "secp256k1": _cec.SECP256K1,
    "brainpoolP256r1": _cec.BrainpoolP256R1,
    "brainpoolP384r1": _cec.BrainpoolP384R1,
    "brainpoolP512r1": _cec.BrainpoolP512R1,
}


def _named(curve: Curve) -> _cec.EllipticCurve | None:
    factory = OPENSSL_CURVES.get(curve.name)
    return factory() if factory is not None else None


def multiply_generator(curve: Curve, k: int) -> Point:
    """k * G for the curve's own generator: OpenSSL (via `cryptography`) when it knows the
    curve, else the ladder. Same result either way."""
    named = _named(curve)
    k %= curve.n
    if named is None or k == 0:
        return scalar_mult(curve, k, curve.generator)
    numbers = _cec.derive_private_key(k, named).public_key().public_numbers()
    return (numbers.x, numbers.y)


def shared_x(curve: Curve, k: int, point: Point) -> bytes:
    """The x coordinate of k * P (ECDH shared secret), field-size bytes; OpenSSL when it knows
    the curve (P is any point of the group, so a mapped generator does not matter here)."""
    named = _named(curve)
    k %= curve.n
    if named is None or k == 0:
        return scalar_mult(curve, k, point)[0].to_bytes(curve.size, "big")
    if not curve.contains(point):
        raise EcError(f"{curve.name}: point is not on the curve")
    private = _cec.derive_private_key(k, named)
    public = _cec.EllipticCurvePublicNumbers(point[0], point[1], named).public_key()
    return private.exchange(_cec.ECDH(), public)


def ecdh_ephemeral(curve: Curve, peer: Point) -> tuple[bytes, bytes]:
    """ECDH with a peer's static key: (a fresh key pair's public point 04||X||Y, the shared
    x(k * peer)). One key generation and one exchange in OpenSSL when it knows the curve,
    else the ladder."""
    if not curve.contains(peer):
        raise EcError(f"{curve.name}: point is not on the curve")
    named = _named(curve)
    if named is None:
        k = random_private(curve.n)
        return encode_point(curve, scalar_mult(curve, k, curve.generator)), shared_x(curve, k, peer)
    private = _cec.generate_private_key(named)
    public = _cec.EllipticCurvePublicNumbers(peer[0], peer[1], named).public_key()
    mine = private.public_key().public_numbers()
    return encode_point(curve, (mine.x, mine.y)), private.exchange(_cec.ECDH(), public)


def multiply(curve: Curve, k: int, point: Point) -> Point:
    """k * P for any point of the group (a mapped generator, a peer's key): `key_multiply`
    with k's key (OpenSSL when it knows the curve, else the ladder)."""
    k %= curve.n
    if k == 0:
        return scalar_mult(curve, k, point)  # raises: infinity
    return key_multiply(new_key(curve, k), point)


@dataclass(frozen=True, eq=False)
class EcKey:
    """A private scalar ``k`` with its public point k*G, and OpenSSL's key object for it when
    OpenSSL knows the curve (its ECDH multiplies any point of the group by k)."""

    curve: Curve
    k: int = field(repr=False)
    public: Point
    handle: _cec.EllipticCurvePrivateKey | None = field(default=None, repr=False)


def new_key(curve: Curve, k: int | None = None) -> EcKey:
    """The key for scalar ``k`` (1 <= k mod n), or a fresh random one (``k`` None: OpenSSL
    generates it where it knows the curve)."""
    named = _named(curve)
    if k is not None:
        k %= curve.n
        if k == 0:
            raise EcError(f"{curve.name}: private scalar 0")
    if named is None:
        k = random_private(curve.n) if k is None else k
        return EcKey(curve, k, scalar_mult(curve, k, curve.generator))
    handle = _cec.generate_private_key(named) if k is None else _cec.derive_private_key(k, named)
    numbers = handle.private_numbers()
    public = (numbers.public_numbers.x, numbers.public_numbers.y)
    return EcKey(curve, numbers.private_value, public, handle)


def _exchange(key: EcKey, point: Point) -> bytes:
    assert key.handle is not None
    named = key.handle.curve
    peer = _cec.EllipticCurvePublicNumbers(point[0], point[1], named).public_key()
    return key.handle.exchange(_cec.ECDH(), peer)


def key_shared_x(key: EcKey, point: Point) -> bytes:
    """x(k * P), field-size bytes (ECDH); P checked to be on the curve."""
    curve = key.curve
    if not curve.contains(point):
        raise EcError(f"{curve.name}: point is not on the curve")
    if key.handle is None:
        return scalar_mult(curve, key.k, point)[0].to_bytes(curve.size, "big")
    return _exchange(key, point)


def key_multiply(key: EcKey, point: Point) -> Point:
    """k * P, the whole point. With OpenSSL: x1 = x(k*P) and x2 = x(k*P + k*G) by two
    constant-time ECDH operations (with P and with P + G); y1 then follows from the chord
    through (x1, y1) and k*G = (xq, yq), whose slope squared is x1 + xq + x2:
    (yq - y1)^2 = (x1 + xq + x2)(xq - x1)^2, and y1^2 = x1^3 + a x1 + b, so
    y1 = (yq^2 + y1^2 - (x1 + xq + x2)(xq - x1)^2) / (2 yq): no square root, no sign to
    guess. Checked: the point is on the curve and (x1, y1) + k*G has x2. Else, and when
    P = +-G (x1 = xq): the ladder."""
    curve = key.curve
    if not curve.contains(point):
        raise EcError(f"{curve.name}: point is not on the curve")
    if key.handle is None:
        return scalar_mult(curve, key.k, point)
    try:
        shifted = point_add(curve, point, curve.generator)
    except EcError:  # P = -G
        return scalar_mult(curve, key.k, point)
    p = curve.p
    xq, yq = key.public
    x1 = int.from_bytes(_exchange(key, point), "big")
    if x1 == xq:  # k*P = +-k*G: P = +-G
        return scalar_mult(curve, key.k, point)
    x2 = int.from_bytes(_exchange(key, shifted), "big")
    y1_squared = (x1 * x1 * x1 + curve.a * x1 + curve.b) % p
    d = (xq - x1) % p
    y1 = (yq * yq + y1_squared - (x1 + xq + x2) * d * d) * pow(2 * yq, -1, p) % p
    result = (x1, y1)
    if not curve.contains(result) or point_add(curve, result, key.public)[0] != x2:
        raise EcError(f"{curve.name}: ECDH results disagree")
    return result


def ecdsa_verify(curve: Curve, public: Point, digest: bytes, r: int, s: int) -> bool:
    """ECDSA verification (SEC 1, 4.1.4) of (r, s) over a message digest, on the ladder."""
    n = curve.n
    if not (0 < r < n and 0 < s < n):
        return False
    e = int.from_bytes(digest, "big")
    excess = len(digest) * 8 - n.bit_length()
    if excess > 0:
        e >>= excess
    w = pow(s, -1, n)
    total = _add(
        curve, _ladder(curve, e * w % n, curve.generator), _ladder(curve, r * w % n, public)
    )
    try:
        return _to_affine(curve, total)[0] % n == r
    except EcError:  # the sum is the point at infinity
        return False


# --- finite-field Diffie-Hellman ----------------------------------------------------------------


def dh_public_key(group: ModpGroup, private: int, generator: int | None = None) -> bytes:
    """g^private mod p as |p| bytes; ``generator`` replaces g (a mapped generator)."""
    base = group.g if generator is None else generator
    return pow(base, private, group.p).to_bytes(group.size, "big")


def dh_decode(group: ModpGroup, public: bytes) -> int:
    """A peer's public value, checked: at most |p| bytes, 1 < y < p-1, of order q."""
    y = int.from_bytes(public, "big")
    if len(public) > group.size or not group.contains(y):
        raise EcError(f"{group.name}: public value not in the subgroup")
    return y


def dh_shared_secret(group: ModpGroup, private: int, peer: bytes | int) -> bytes:
    """peer^private mod p as |p| bytes (the DH shared secret). ``peer`` is the peer's public
    value as sent (checked by `dh_decode`) or as a number (checked to be in the subgroup);
    EcError for a bad one."""
    if isinstance(peer, bytes):
        y = dh_decode(group, peer)
    elif group.contains(peer):
        y = peer
    else:
        raise EcError(f"{group.name}: public value not in the subgroup")
    return pow(y, private, group.p).to_bytes(group.size, "big")


def random_private(order: int) -> int:
    """A private key uniformly in [1, order-1] (n of a curve, q of a DH group)."""
    return secrets.randbelow(order - 1) + 1
