"""Keys and signatures: explicit curves, the integer ECDSA fallback, ISO 9796-2, DG14/DG15."""

from __future__ import annotations

import hashlib
import secrets

import pytest
from asn1crypto import core
from asn1crypto import keys as akeys
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from station.icao import ec as icao_ec
from station.icao import keys, lds
from station.icao.curves import CURVES, by_name
from station.sim.emulator import keys as chip_keys
from station.sim.emulator.auth import sign_iso9796_2
from station.verify import signature
from station.verify.active import check_response, verify_iso9796_2


def _explicit_spki(curve_name: str, point: tuple[int, int]) -> bytes:
    spec = by_name(curve_name)
    size = spec.size
    params = akeys.SpecifiedECDomain(
        {
            "version": "ecdpVer1",
            "field_id": {"field_type": "prime_field", "parameters": spec.p},
            "curve": {"a": spec.a.to_bytes(size, "big"), "b": spec.b.to_bytes(size, "big")},
            "base": b"\x04" + spec.gx.to_bytes(size, "big") + spec.gy.to_bytes(size, "big"),
            "order": spec.n,
            "cofactor": 1,
        }
    )
    encoded = b"\x04" + point[0].to_bytes(size, "big") + point[1].to_bytes(size, "big")
    info = akeys.PublicKeyInfo(
        {
            "algorithm": {
                "algorithm": "ec",
                "parameters": akeys.ECDomainParameters({"specified": params}),
            },
            "public_key": encoded,
        }
    )
    return bytes(info.dump())


def _integer_sign(curve_name: str, d: int, digest: bytes) -> tuple[int, int]:
    spec = by_name(curve_name)
    e = int.from_bytes(digest, "big") >> max(0, len(digest) * 8 - spec.n.bit_length())
    while True:
        k = 1 + secrets.randbelow(spec.n - 1)
        point = icao_ec.scalar_mult(spec, k, spec.generator)
        r = point[0] % spec.n
        s = pow(k, -1, spec.n) * (e + r * d) % spec.n
        if r and s:
            return r, s


def test_curve_table_points_are_on_their_curves() -> None:
    assert len(CURVES) == 13
    for spec in CURVES:
        assert spec.contains(spec.generator), spec.name
        with pytest.raises(icao_ec.EcError, match="infinity"):
            icao_ec.scalar_mult(spec, spec.n, spec.generator)


@pytest.mark.parametrize("curve", ["brainpoolP224r1", "brainpoolP320r1", "secp224r1"])
def test_explicit_curve_fallback_verifies(curve: str) -> None:
    spec = by_name(curve)
    d = 1 + secrets.randbelow(spec.n - 1)
    public = icao_ec.scalar_mult(spec, d, spec.generator)
    key = keys.load_spki(_explicit_spki(curve, public))
    digest = hashlib.sha256(b"tbs").digest()
    r, s = _integer_sign(curve, d, digest)
    der = signature.algos.DSASignature({"r": r, "s": s}).dump()
    spec_sha256 = signature.SignatureSpec("ecdsa", "sha256")
    if isinstance(key, keys.ExplicitEcKey):
        assert signature.verify_signature(key, spec_sha256, b"tbs", der)
        assert not signature.verify_signature(key, spec_sha256, b"tbx", der)
        assert icao_ec.ecdsa_verify(spec, public, hashlib.sha256(b"tbs").digest(), r, s)
        assert not icao_ec.ecdsa_verify(spec, public, hashlib.sha256(b"tbs").digest(), r, 0)
    else:  # secp224r1 maps to cryptography's named curve
        assert keys.key_description(key) == "EC secp224r1"
        assert signature.verify_signature(key, spec_sha256, b"tbs", der)


def test_explicit_brainpool_p256_maps_to_named_curve() -> None:
    private = ec.generate_private_key(ec.BrainpoolP256R1())
    numbers = private.public_key().public_numbers()
    key = keys.load_spki(_explicit_spki("brainpoolP256r1", (numbers.x, numbers.y)))
    assert isinstance(key, ec.EllipticCurvePublicKey)
    signed = private.sign(b"data", ec.ECDSA(hashes.SHA384()))
    spec = signature.SignatureSpec("ecdsa", "sha384")
    assert signature.verify_signature(key, spec, b"data", signed)


def test_unknown_explicit_curve_is_refused_with_reason() -> None:
    spec = by_name("secp256r1")
    bogus = _explicit_spki("secp256r1", (spec.gx, spec.gy)).replace(
        spec.b.to_bytes(32, "big"), (spec.b + 1).to_bytes(32, "big")
    )
    with pytest.raises(keys.KeyLoadError, match="match no known curve"):
        keys.load_spki(bogus)


@pytest.mark.parametrize(
    ("bits", "hash_name"), [(1024, "sha1"), (2048, "sha256"), (2048, "sha512")]
)
def test_iso9796_2_round_trip(bits: int, hash_name: str) -> None:
    key = chip_keys.make_aa_key(f"rsa{bits}")
    assert isinstance(key, keys.rsa.RSAPrivateKey)
    challenge = secrets.token_bytes(8)
    signed = sign_iso9796_2(key, challenge, hash_name)
    ok, detail = verify_iso9796_2(key.public_key(), challenge, signed)
    assert ok and hash_name in detail
    assert not verify_iso9796_2(key.public_key(), bytes(8), signed)[0]
    n = key.public_key().public_numbers().n  # the signer may send n - s instead
    alt = (n - int.from_bytes(signed, "big")).to_bytes(bits // 8, "big")
    assert verify_iso9796_2(key.public_key(), challenge, alt)[0]


def test_ec_aa_needs_dg14_hash() -> None:
    key = chip_keys.make_aa_key("brainpoolP256r1")
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    infos = lds.parse_dg14(chip_keys.encode_dg14(None, aa_hash="sha384"))
    assert infos.aa_hash == "sha384" and infos.ca_options() == []
    der = key.sign(b"12345678", ec.ECDSA(hashes.SHA384()))
    r, s = _rs(der)
    plain = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    assert check_response(key.public_key(), b"12345678", plain, "sha384")[0]
    assert not check_response(key.public_key(), b"12345679", plain, "sha384")[0]
    assert not check_response(key.public_key(), b"12345678", plain, None)[0]


def _rs(der: bytes) -> tuple[int, int]:
    seq = signature.algos.DSASignature.load(der)
    return int(seq["r"].native), int(seq["s"].native)


def test_dg14_with_key_id_and_dh() -> None:
    ca = chip_keys.make_ca_key("dh1024")
    options = lds.parse_dg14(chip_keys.encode_dg14(ca.public_key(), key_id=7)).ca_options()
    assert [(o.agreement, o.cipher, o.key_id) for o in options] == [("dh", "AES-128", 7)]
    assert core.Integer(7).native == options[0].key_id
    chip = keys.load_dh_spki(options[0].public_key)
    group = chip.group
    assert (group.p, group.g, group.q, chip.y) == (
        ca.group.p,
        ca.group.g,
        ca.group.q,
        ca.public_key().y,
    )
