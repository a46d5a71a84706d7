"""ECDSA verification and point helpers for curves that ``cryptography`` does not provide
(e.g. brainpoolP224r1/P320r1 given with explicit parameters in a certificate or DG14/DG15).

The curves are those of `station.icao.curves` and the arithmetic is `station.icao.ec` (shared
with PACE: Jacobian coordinates, fixed-length Montgomery ladder). This module only adapts it to
the verification side's conventions: ``None`` stands for the point at infinity, and a bad point
encoding raises a plain ``ValueError`` worded as before.
"""

from __future__ import annotations

from station.icao import ec
from station.icao.curves import Curve

Point = tuple[int, int] | None  # None is the point at infinity


def decode_point(curve: Curve, data: bytes) -> tuple[int, int]:
    """An uncompressed point (04 || X || Y) checked to lie on ``curve``."""
    if len(data) != 1 + 2 * curve.size or data[0] != 4:
        raise ValueError(f"EC point is not an uncompressed {curve.name} point")
    try:
        return ec.decode_point(curve, data)
    except ec.EcError:
        raise ValueError(f"EC point not on {curve.name}") from None


def on_curve(curve: Curve, point: tuple[int, int]) -> bool:
    return curve.contains(point)


def add(curve: Curve, first: Point, second: Point) -> Point:
    """first + second, either of them or the sum possibly infinity (None)."""
    if first is None:
        return second
    if second is None:
        return first
    try:
        return ec.point_add(curve, first, second)
    except ec.EcError:
        return None


def multiply(curve: Curve, k: int, point: Point) -> Point:
    """k * point for k >= 0 and a point on ``curve`` (None when the result is infinity);
    ValueError for a point off the curve."""
    if point is None:
        return None
    if not curve.contains(point):
        raise ValueError(f"EC point not on {curve.name}")
    try:
        return ec.scalar_mult(curve, k, point)
    except ec.EcError:
        return None


def verify(curve: Curve, public: tuple[int, int], digest: bytes, r: int, s: int) -> bool:
    """ECDSA verification (SEC 1, 4.1.4) of (r, s) over a message digest."""
    n = curve.n
    if not (0 < r < n and 0 < s < n):
        return False
    e = int.from_bytes(digest, "big")
    excess = len(digest) * 8 - n.bit_length()
    if excess > 0:
        e >>= excess
    w = pow(s, -1, n)
    total = add(
        curve,
        multiply(curve, e * w % n, curve.generator),
        multiply(curve, r * w % n, public),
    )
    return total is not None and total[0] % n == r
