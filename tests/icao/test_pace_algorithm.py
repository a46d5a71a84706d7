"""The pure PACE pieces both sides share: passwords, Generic Mapping run by hand for DH and
ECDH (both sides must reach the same generator, secret and keys), bad peer keys."""

from __future__ import annotations

import os

import pytest

from station.icao import crypto, ec, pace
from station.icao.securityinfos import pace_protocol


def test_passwords() -> None:
    can = pace.PacePassword.can("123456")
    assert (can.kind, can.reference, can.secret) == ("CAN", 2, b"123456")
    assert "123456" not in repr(can)
    for bad in ("12345", "12345a", "12345678901"):
        with pytest.raises(ValueError):
            pace.PacePassword.can(bad)
    no_expiry = pace.PacePassword.from_mrz("099012345", "990315", "<<<<<<")
    assert no_expiry.reference == 1 and len(no_expiry.secret) == 20
    assert no_expiry != pace.PacePassword.from_mrz("099012345", "990315", "391231")


def _run_both_sides(parameter_id: int, cipher: crypto.CipherName) -> None:
    group = pace.standard_group(parameter_id)
    password = pace.PacePassword.can("654321")
    nonce = os.urandom(8 if cipher == "3DES" else 16)
    z = pace.encrypt_nonce(cipher, pace.password_key(password, cipher), nonce)
    assert pace.decrypt_nonce(cipher, pace.password_key(password, cipher), z) == nonce
    terminal_map, card_map = ec.random_private(group.order), ec.random_private(group.order)
    terminal_group = group.mapped(nonce, terminal_map, group.public_key(card_map))
    card_group = group.mapped(nonce, card_map, group.public_key(terminal_map))
    assert terminal_group == card_group and terminal_group != group
    terminal_eph, card_eph = ec.random_private(group.order), ec.random_private(group.order)
    terminal_pub, card_pub = (
        terminal_group.public_key(terminal_eph),
        card_group.public_key(card_eph),
    )
    secret = terminal_group.shared_secret(terminal_eph, card_pub)
    assert secret == card_group.shared_secret(card_eph, terminal_pub)
    assert len(secret) == (
        group.group.size if isinstance(group, pace.DhGroup) else group.curve.size
    )
    ks_enc, ks_mac = pace.session_keys(cipher, secret)
    assert len(ks_enc) == {"3DES": 16, "AES-128": 16, "AES-192": 24, "AES-256": 32}[cipher]
    protocol = pace_protocol("DH" if isinstance(group, pace.DhGroup) else "ECDH", cipher)
    t_ifd = pace.auth_token(cipher, ks_mac, protocol, terminal_group, card_pub)
    t_ic = pace.auth_token(cipher, ks_mac, protocol, card_group, terminal_pub)
    assert len(t_ifd) == len(t_ic) == 8 and t_ifd != t_ic


@pytest.mark.parametrize("parameter_id", [0, 1, 2])
@pytest.mark.parametrize("cipher", ["3DES", "AES-128", "AES-256"])
def test_dh_generic_mapping_is_self_consistent(
    parameter_id: int, cipher: crypto.CipherName
) -> None:
    _run_both_sides(parameter_id, cipher)


def test_ecdh_generic_mapping_is_self_consistent() -> None:
    _run_both_sides(14, "AES-192")  # a curve OpenSSL lacks: all on the ladder


def test_dh_public_key_data_object_uses_tag_84() -> None:
    group = pace.standard_group(0)
    public = group.public_key(5)
    data = pace.public_key_data(pace_protocol("DH", "3DES"), group, public)
    assert data.startswith(b"\x7f\x49") and b"\x84\x81\x80" + public in data


@pytest.mark.parametrize("parameter_id", [2, 13])
def test_bad_peer_keys_are_rejected(parameter_id: int) -> None:
    group = pace.standard_group(parameter_id)
    size = group.group.size if isinstance(group, pace.DhGroup) else 1 + 2 * group.curve.size
    for bad in (b"\x01" * size, bytes(size), b"\x04"):
        with pytest.raises(ec.EcError):
            group.check(bad)
        with pytest.raises(ec.EcError):
            group.mapped(b"\x01" * 16, 7, bad)
    if isinstance(group, pace.DhGroup):
        with pytest.raises(ec.EcError):  # p-1 has order 2, not q
            group.check((group.group.p - 1).to_bytes(size, "big"))


def test_nonce_length_is_checked() -> None:
    with pytest.raises(ValueError, match="encrypted nonce"):
        pace.decrypt_nonce("AES-128", bytes(16), bytes(15))
