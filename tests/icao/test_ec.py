"""Curve and group constants, point arithmetic, encodings."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from station.icao import ec

CURVE_IDS = [i for i in ec.standard_ids() if isinstance(ec.standard_domain(i), ec.Curve)]
GROUP_IDS = [i for i in ec.standard_ids() if isinstance(ec.standard_domain(i), ec.ModpGroup)]


def _curve(pid: int) -> ec.Curve:
    domain = ec.standard_domain(pid)
    assert isinstance(domain, ec.Curve)
    return domain


def test_parameter_table_matches_icao() -> None:
    expected = {
        8: "secp192r1",
        9: "brainpoolP192r1",
        10: "secp224r1",
        11: "brainpoolP224r1",
        12: "secp256r1",
        13: "brainpoolP256r1",
        14: "brainpoolP320r1",
        15: "secp384r1",
        16: "brainpoolP384r1",
        17: "brainpoolP512r1",
        18: "secp521r1",
    }
    assert {pid: _curve(pid).name for pid in CURVE_IDS} == expected
    assert [(g.p.bit_length(), g.q.bit_length()) for g in map(ec.standard_domain, GROUP_IDS)] == [
        (1024, 160),
        (2048, 224),
        (2048, 256),
    ]
    with pytest.raises(ec.EcError, match="unknown"):
        ec.standard_domain(3)


@pytest.mark.parametrize("pid", CURVE_IDS)
def test_curve_constants(pid: int) -> None:
    curve = _curve(pid)
    assert curve.contains(curve.generator)
    assert 4 * curve.a**3 + 27 * curve.b**2 != 0
    assert pow(2, curve.p - 1, curve.p) == 1  # p passes a Fermat test
    with pytest.raises(ec.EcError, match="infinity"):
        ec.scalar_mult(curve, curve.n, curve.generator)
    minus_g = ec.scalar_mult(curve, curve.n - 1, curve.generator)
    assert minus_g == (curve.gx, (-curve.gy) % curve.p)


@pytest.mark.parametrize("pid", GROUP_IDS)
def test_modp_constants(pid: int) -> None:
    group = ec.standard_domain(pid)
    assert isinstance(group, ec.ModpGroup)
    assert group.contains(group.g)
    assert (group.p - 1) % group.q == 0
    assert not group.contains(1) and not group.contains(group.p - 1)


@pytest.mark.parametrize("pid", CURVE_IDS)
def test_openssl_and_ladder_agree(pid: int) -> None:
    curve = _curve(pid)
    k = ec.random_private(curve.n)
    point = ec.scalar_mult(curve, k, curve.generator)
    assert ec.multiply_generator(curve, k) == point
    for j in (ec.random_private(curve.n), 2, curve.n - 2, 1, curve.n - 1, curve.n + 5):
        assert ec.multiply(curve, j, point) == ec.scalar_mult(curve, j, point)
    j = ec.random_private(curve.n)
    assert ec.shared_x(curve, j, point) == ec.scalar_mult(curve, j * k, curve.generator)[
        0
    ].to_bytes(curve.size, "big")


@pytest.mark.parametrize("pid", CURVE_IDS)
def test_held_keys_agree_with_the_ladder(pid: int) -> None:
    """An EcKey (OpenSSL generated, or from a given scalar) multiplies like the ladder,
    the edge points included: G itself (the other root is -k*G) and -G (P + G = infinity)."""
    curve = _curve(pid)
    g = curve.generator
    minus_g = (g[0], curve.p - g[1])
    point = ec.scalar_mult(curve, ec.random_private(curve.n), g)
    for key in (ec.new_key(curve), ec.new_key(curve, 3), ec.new_key(curve, curve.n - 1)):
        assert key.public == ec.scalar_mult(curve, key.k, g)
        for p in (point, g, minus_g):
            assert ec.key_multiply(key, p) == ec.scalar_mult(curve, key.k, p)
            assert ec.key_shared_x(key, p) == ec.scalar_mult(curve, key.k, p)[0].to_bytes(
                curve.size, "big"
            )
    with pytest.raises(ec.EcError):
        ec.new_key(curve, curve.n)
    with pytest.raises(ec.EcError):
        ec.key_multiply(ec.new_key(curve), (point[0], point[1] ^ 1))


@settings(max_examples=30, deadline=None)
@given(a=st.integers(min_value=1), b=st.integers(min_value=1))
def test_addition_is_scalar_addition(a: int, b: int) -> None:
    curve = _curve(13)
    a %= curve.n
    b %= curve.n
    if 0 in (a, b, (a + b) % curve.n):
        return
    pa = ec.scalar_mult(curve, a, curve.generator)
    pb = ec.scalar_mult(curve, b, curve.generator)
    assert ec.point_add(curve, pa, pb) == ec.scalar_mult(curve, a + b, curve.generator)
    assert ec.point_add(curve, pa, pa) == ec.scalar_mult(curve, 2 * a, curve.generator)


def test_point_plus_its_negative_is_infinity() -> None:
    curve = _curve(12)
    g = curve.generator
    with pytest.raises(ec.EcError, match="infinity"):
        ec.point_add(curve, g, (g[0], curve.p - g[1]))


def test_encoding_round_trip_and_rejections() -> None:
    curve = _curve(13)
    point = ec.scalar_mult(curve, 12345, curve.generator)
    data = ec.encode_point(curve, point)
    assert len(data) == 65 and ec.decode_point(curve, data) == point
    with pytest.raises(ec.EcError, match="uncompressed"):
        ec.decode_point(curve, b"\x02" + data[1:33])
    with pytest.raises(ec.EcError, match="uncompressed"):
        ec.decode_point(curve, data[:-1])
    off_curve = data[:-1] + bytes([data[-1] ^ 1])
    with pytest.raises(ec.EcError, match="not on the curve"):
        ec.decode_point(curve, off_curve)
    with pytest.raises(ec.EcError, match="not on the curve"):
        ec.scalar_mult(curve, 5, (point[0], point[1] ^ 1))
    too_big = b"\x04" + curve.p.to_bytes(32, "big") + data[33:]
    with pytest.raises(ec.EcError):
        ec.decode_point(curve, too_big)


@pytest.mark.parametrize("pid", [13, 14])  # OpenSSL's brainpoolP256r1, the ladder's P320r1
def test_ephemeral_ecdh_agrees_with_the_static_side(pid: int) -> None:
    curve = _curve(pid)
    d = ec.random_private(curve.n)
    static = ec.multiply_generator(curve, d)
    public, shared = ec.ecdh_ephemeral(curve, static)
    assert shared == ec.shared_x(curve, d, ec.decode_point(curve, public))
    with pytest.raises(ec.EcError):
        ec.ecdh_ephemeral(curve, (static[0], static[1] ^ 1))
