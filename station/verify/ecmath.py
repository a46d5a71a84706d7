"""Prime-field elliptic-curve arithmetic in plain integers: ECDSA verification on curves
that ``cryptography`` does not provide (e.g. brainpoolP224r1/P320r1 given explicitly).

Verification handles only public data, so constant time is not needed.
"""

from __future__ import annotations

from station.verify.curves import CurveSpec

Point = tuple[int, int] | None  # None is the point at infinity


def decode_point(curve: CurveSpec, data: bytes) -> tuple[int, int]:
    """An uncompressed point (04 || X || Y) checked to lie on ``curve``."""
    size = curve.size
    if len(data) != 1 + 2 * size or data[0] != 4:
        raise ValueError(f"EC point is not an uncompressed {curve.name} point")
    x = int.from_bytes(data[1 : 1 + size], "big")
    y = int.from_bytes(data[1 + size :], "big")
    if not on_curve(curve, (x, y)):
        raise ValueError(f"EC point not on {curve.name}")
    return x, y


def on_curve(curve: CurveSpec, point: tuple[int, int]) -> bool:
    x, y = point
    p = curve.p
    return 0 <= x < p and 0 <= y < p and (y * y - (x * x * x + curve.a * x + curve.b)) % p == 0


def add(curve: CurveSpec, first: Point, second: Point) -> Point:
    if first is None:
        return second
    if second is None:
        return first
    p = curve.p
    (x1, y1), (x2, y2) = first, second
    if x1 == x2:
        if (y1 + y2) % p == 0:
            return None
        slope = (3 * x1 * x1 + curve.a) * pow(2 * y1, -1, p) % p
    else:
        slope = (y2 - y1) * pow(x2 - x1, -1, p) % p
    x3 = (slope * slope - x1 - x2) % p
    return x3, (slope * (x1 - x3) - y1) % p


def multiply(curve: CurveSpec, k: int, point: Point) -> Point:
    result: Point = None
    addend = point
    while k:
        if k & 1:
            result = add(curve, result, addend)
        addend = add(curve, addend, addend)
        k >>= 1
    return result


def verify(curve: CurveSpec, public: tuple[int, int], digest: bytes, r: int, s: int) -> bool:
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
        multiply(curve, e * w % n, (curve.gx, curve.gy)),
        multiply(curve, r * w % n, public),
    )
    return total is not None and total[0] % n == r
