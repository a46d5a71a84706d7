"""verify_chip end to end: an emulated card read for real (BAC, SM), then PA + AA + CA."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import serialization

from station.icao.securityinfos import ID_CA_DH_3DES, ID_CA_ECDH_3DES
from station.sim import pki
from station.sim.citizens import generate
from station.sim.emulator import auth
from station.sim.emulator.files import DG_FIDS, FID_SOD, CardProfile
from station.sim.emulator.keys import encode_dg14, load_dh_pkcs8
from station.verify.chip import verify_chip
from station.verify.verdict import Auth, Level
from tests.verify.support import KINDS, ReadCard, qr_of, store_for

CARD_KEYS = [
    ("p256", "p256"),
    ("rsa1024", "brainpoolP256r1"),
    ("rsa2048", "dh1024"),
    ("brainpoolP384r1", "brainpoolP384r1"),
]


@pytest.mark.parametrize("kind", KINDS)
def test_verified_on_every_chain(kind, pkis, citizen, read_card: ReadCard) -> None:
    live = read_card(citizen, pkis[kind])
    v = verify_chip(live.read, qr_of(citizen), store_for(pkis[kind]))
    assert v.level is Level.VERIFIED, v.findings
    assert v.to_json()["signer"]["subject"].endswith(",C=VN")
    assert v.reason_vi == "Thẻ thật, dữ liệu khớp"


@pytest.mark.parametrize(("aa_kind", "ca_kind"), CARD_KEYS)
def test_verified_with_every_key_type(aa_kind, ca_kind, pkis, citizen, read_card) -> None:
    live = read_card(citizen, pkis["p256"], aa_kind=aa_kind, ca_kind=ca_kind)
    v = verify_chip(live.read, qr_of(citizen), store_for(pkis["p256"]))
    # CA passed: AA is not needed (ICAO 9303-11), DG15 is not read, and the verdict says so
    assert (v.active, v.chip_auth, v.level) == (Auth.SKIPPED, Auth.OK, Level.VERIFIED)
    assert v.to_json()["active_skipped"] == "chip-auth" and "DG15" not in live.read.files
    assert any("CA supersedes AA" in f for f in v.findings)
    # DG15 asked for by name (the CLI's --files): AA runs too, under CA's session
    both = read_card(citizen, pkis["p256"], aa_kind=aa_kind, ca_kind=ca_kind, dg15_if_needed=False)
    v = verify_chip(both.read, qr_of(citizen), store_for(pkis["p256"]))
    assert (v.active, v.chip_auth, v.level) == (Auth.OK, Auth.OK, Level.VERIFIED), v.findings
    assert "active_skipped" not in v.to_json()


def _ca_public(profile: CardProfile) -> object:
    der = profile.keys["ca"]
    try:
        return load_dh_pkcs8(der).public_key()
    except ValueError:
        return serialization.load_der_private_key(der, None).public_key()  # type: ignore[union-attr]


def _resigned(chain: pki.TestPki, protocol: str):
    def hook(profile: CardProfile) -> CardProfile:
        files = dict(profile.files)
        public = _ca_public(profile)
        files[DG_FIDS[14]] = encode_dg14(public, ca_protocol=protocol, aa_hash="sha256")  # type: ignore[arg-type]
        groups = {n: files[fid] for n, fid in DG_FIDS.items() if fid in files}
        files[FID_SOD] = pki.build_sod(pki.dg_hashes_of(groups), chain)
        return replace(profile, files=files)

    return hook


@pytest.mark.parametrize(
    ("ca_kind", "protocol"), [("p256", ID_CA_ECDH_3DES), ("dh1024", ID_CA_DH_3DES)]
)
def test_chip_authentication_3des(ca_kind, protocol, pkis, citizen, read_card) -> None:
    chain = pkis["rsa"]
    live = read_card(citizen, chain, ca_kind=ca_kind, profile_hook=_resigned(chain, protocol))
    v = verify_chip(live.read, qr_of(citizen), store_for(chain))
    assert v.chip_auth is Auth.OK and v.level is Level.VERIFIED, v.findings
    assert any("3DES" in f for f in v.findings)


@pytest.mark.parametrize("kind", ["rsa", "p256", "brainpoolP256r1"])
def test_flipped_byte_fails(kind, pkis, citizen, read_card) -> None:
    live = read_card(citizen, pkis[kind], profile_hook=lambda p: auth.tamper(p, flip_dg=2))
    v = verify_chip(live.read, qr_of(citizen), store_for(pkis[kind]))
    assert (v.passive.value, v.level) == ("hash-mismatch", Level.FAILED)
    assert v.reason_vi == "Dữ liệu chip bị sửa"


def _issued(citizen, when: date):
    return replace(citizen, issue_date=when)


def test_signer_expired_after_the_card_was_issued_is_normal(citizen, read_card) -> None:
    # The DSC's certificate ended yesterday; the card was issued while it was valid.
    chain = pki.make_test_pki("brainpoolP256r1", expired=True)
    card = _issued(citizen, chain.dsc_cert.not_valid_before_utc.date() + timedelta(days=30))
    v = verify_chip(read_card(card, chain).read, qr_of(card), store_for(chain))
    assert (v.passive.value, v.level) == ("ok", Level.VERIFIED), v.findings


def test_card_issued_after_its_signers_key_period_needs_attention(citizen, read_card) -> None:
    now = datetime.now(UTC)
    chain = pki.make_test_pki(
        "p256", signer_from=now - timedelta(days=600), key_usage_end=now - timedelta(days=400)
    )
    inside = _issued(citizen, (now - timedelta(days=500)).date())
    after = _issued(citizen, (now - timedelta(days=20)).date())
    ok = verify_chip(read_card(inside, chain).read, qr_of(inside), store_for(chain))
    assert ok.level is Level.VERIFIED, ok.findings
    late = verify_chip(read_card(after, chain).read, qr_of(after), store_for(chain))
    assert (late.passive.value, late.level) == ("signer-expired", Level.SIGNED_UNTRUSTED)
    assert late.reason_vi == "Chứng thư ký hết hạn"
    assert any("after its signer's key period ended" in f for f in late.findings)


@pytest.mark.parametrize(
    ("variant", "passive", "level"),
    [
        ({"not_yet_valid": True}, "signer-expired", Level.SIGNED_UNTRUSTED),
        ({"revoked": True}, "signer-revoked", Level.FAILED),
    ],
)
def test_signer_problems(variant, passive, level, citizen, read_card) -> None:
    chain = pki.make_test_pki("brainpoolP256r1", **variant)
    live = read_card(citizen, chain)
    v = verify_chip(live.read, qr_of(citizen), store_for(chain))
    assert (v.passive.value, v.level) == (passive, level)
    assert v.chip_auth is Auth.OK and v.active_skipped == "chip-auth"


@pytest.mark.parametrize("kind", ["rsa", "p256", "brainpoolP384r1"])
def test_forged_signer_is_a_bad_signature(kind, pkis, citizen, read_card) -> None:
    hook = lambda p: auth.tamper(p, forged_signer=True)  # noqa: E731
    live = read_card(citizen, pkis[kind], profile_hook=hook)
    v = verify_chip(live.read, qr_of(citizen), store_for(pkis[kind]))
    assert (v.passive.value, v.level) == ("bad-signature", Level.FAILED), v.findings
    assert v.reason_vi == "Chữ ký số sai"
    assert any("forged document signer" in f for f in v.findings)
    # the forged signer copies the genuine one's names: the record shows what it claims
    assert v.signer is not None and v.signer.issuer == pkis[kind].csca_cert.subject.rfc4514_string()


def test_clone_without_dg14_dg15_is_suspected(pkis, citizen, read_card) -> None:
    live = read_card(citizen, pkis["p256"], profile_hook=lambda p: auth.tamper(p, clone=True))
    assert "DG14" not in live.read.files and "DG15" not in live.read.files
    v = verify_chip(live.read, qr_of(citizen), store_for(pkis["p256"]))
    assert v.passive.value == "ok"  # every file it gives is genuine and signed
    assert (v.active, v.chip_auth) == (Auth.NOT_SUPPORTED, Auth.NOT_SUPPORTED)
    assert v.missing == (14, 15) and v.reason_code == "clone-suspected"
    assert v.level is Level.FAILED and v.reason_vi == "Nghi chip bị sao chép"
    assert v.to_json()["missing"] == ["DG14", "DG15"]


def test_a_listed_data_group_the_chip_refuses_is_a_finding(pkis, citizen, read_card) -> None:
    def refuse_dg2(card_profile: CardProfile) -> CardProfile:
        files = {k: v for k, v in card_profile.files.items() if k != DG_FIDS[2]}
        return replace(card_profile, files=files)  # EF.COM still lists it: 6A82

    live = read_card(citizen, pkis["p256"], profile_hook=refuse_dg2)
    v = verify_chip(live.read, qr_of(citizen), store_for(pkis["p256"]))
    assert v.missing == (2,) and v.passive.value == "ok"
    assert (v.reason_code, v.level) == ("dg-missing", Level.SIGNED_UNTRUSTED)
    assert any("DG2 is listed in EF.SOD but the chip did not give it (6A82)" in f
               for f in v.findings)  # fmt: skip


def test_crl_state_is_in_the_record(pkis, citizen, read_card) -> None:
    chain = pkis["p256"]
    live = read_card(citizen, chain)
    with_crl = verify_chip(live.read, qr_of(citizen), store_for(chain))
    assert with_crl.to_json()["crl"] == "current"
    without = verify_chip(live.read, qr_of(citizen), store_for(chain, crls=False))
    assert without.to_json()["crl"] == "missing" and without.level is Level.VERIFIED
    assert any("no current CRL" in f for f in without.findings)
    stale = pki.make_test_pki("p256", crl_next_update=datetime.now(UTC) - timedelta(hours=1))
    old = verify_chip(read_card(citizen, stale).read, qr_of(citizen), store_for(stale))
    assert old.to_json()["crl"] == "expired"
    untrusted = verify_chip(live.read, qr_of(citizen), store_for(pkis["rsa"]))
    assert untrusted.to_json()["crl"] is None


def test_untrusted_signer(pkis, citizen, read_card) -> None:
    live = read_card(citizen, pkis["rsa-pss"])
    v = verify_chip(live.read, qr_of(citizen), store_for(pkis["p256"]))
    assert (v.passive.value, v.level) == ("untrusted-signer", Level.SIGNED_UNTRUSTED)
    assert v.reason_vi == "Chưa có chứng thư gốc"


@pytest.mark.parametrize(("aa_kind", "ca_kind"), CARD_KEYS)
def test_wrong_aa_key_fails(aa_kind, ca_kind, pkis, citizen, read_card) -> None:
    hook = lambda p: auth.tamper(p, wrong_aa_key=True)  # noqa: E731
    args = {"aa_kind": aa_kind, "ca_kind": ca_kind, "profile_hook": hook}
    live = read_card(citizen, pkis["p256"], dg15_if_needed=False, **args)
    v = verify_chip(live.read, qr_of(citizen), store_for(pkis["p256"]))
    assert (v.active, v.level) == (Auth.FAILED, Level.FAILED)
    assert v.chip_auth is Auth.OK
    # by default AA is not run once CA passed: the chip proved the key DG14 names
    live = read_card(citizen, pkis["p256"], **args)
    v = verify_chip(live.read, qr_of(citizen), store_for(pkis["p256"]))
    assert (v.active, v.chip_auth, v.level) == (Auth.SKIPPED, Auth.OK, Level.VERIFIED)


@pytest.mark.parametrize(("aa_kind", "ca_kind"), CARD_KEYS)
def test_ca_failing_brings_active_authentication_back(
    aa_kind, ca_kind, pkis, citizen, read_card
) -> None:
    """CA fails (the chip lacks DG14's private key): the access session is opened again,
    the read goes on, DG15 is read after all and AA runs (and fails here too: a clone)."""
    hook = lambda p: auth.tamper(p, wrong_aa_key=True, wrong_ca_key=True)  # noqa: E731
    live = read_card(citizen, pkis["p256"], aa_kind=aa_kind, ca_kind=ca_kind, profile_hook=hook)
    assert {"DG1", "DG13", "DG14", "DG15"} <= set(live.read.files)
    assert live.read.chip_auth is not None and not live.read.chip_auth.ok
    v = verify_chip(live.read, qr_of(citizen), store_for(pkis["p256"]))
    assert (v.active, v.chip_auth, v.level) == (Auth.FAILED, Auth.FAILED, Level.FAILED)
    assert "active_skipped" not in v.to_json()


@pytest.mark.parametrize(("aa_kind", "ca_kind"), CARD_KEYS)
def test_wrong_ca_key_fails(aa_kind, ca_kind, pkis, citizen, read_card) -> None:
    hook = lambda p: auth.tamper(p, wrong_ca_key=True)  # noqa: E731
    live = read_card(citizen, pkis["p256"], aa_kind=aa_kind, ca_kind=ca_kind, profile_hook=hook)
    v = verify_chip(live.read, qr_of(citizen), store_for(pkis["p256"]))
    assert (v.chip_auth, v.level) == (Auth.FAILED, Level.FAILED)
    assert v.active is Auth.OK


def test_chip_disagreeing_with_qr(pkis, citizen, read_card) -> None:
    other = generate(random.Random(777), today=date(2026, 1, 10))
    twin = replace(other, id_number=citizen.id_number, date_of_birth=citizen.date_of_birth,
                   expiry_date=citizen.expiry_date, issue_date=citizen.issue_date)  # fmt: skip
    live = read_card(twin, pkis["p256"], qr_citizen=citizen)
    v = verify_chip(live.read, qr_of(citizen), store_for(pkis["p256"]))
    assert v.passive.value == "ok" and v.chip_auth is Auth.OK
    assert v.qr_chip_match is False and v.level is Level.FAILED
    assert "full_name" in v.mismatches and "id_number" not in v.mismatches
    assert v.reason_vi == "QR và chip không khớp"


def test_never_verified_when_a_check_was_skipped(pkis, citizen, read_card) -> None:
    live = read_card(citizen, pkis["p256"], dg15_if_needed=False)  # DG15 in the dump too
    store = store_for(pkis["p256"])
    dump = replace(live.read, session=None, chip_auth=None)  # a saved dump: no card, no CA run
    offline = verify_chip(dump, qr_of(citizen), store)
    assert (offline.active, offline.chip_auth) == (Auth.NOT_CHECKED, Auth.NOT_CHECKED)
    assert offline.level is not Level.VERIFIED
    no_qr = verify_chip(live.read, None, store)
    assert no_qr.qr_chip_match is None and no_qr.level is not Level.VERIFIED
    files = {k: v for k, v in live.read.files.items() if k != "EF.SOD"}
    no_sod = verify_chip(replace(live.read, files=files, session=None), qr_of(citizen), store)
    assert no_sod.passive.value == "not-checked" and no_sod.level is Level.QR_ONLY


def test_after_pace_with_both_card_modules_installed(pkis, citizen) -> None:
    from station.drivers.card_sim import EmulatorTransport
    from station.icao.access import AccessKeys
    from station.icao.reader import ChipReader
    from station.sim.emulator import pace as card_pace
    from station.sim.emulator.card import EmulatedCard
    from station.sim.emulator.files import build_profile

    card = EmulatedCard(build_profile(citizen, pki=pkis["brainpoolP256r1"], pace=True))
    card_pace.install(card)
    auth.install(card)
    reader = ChipReader(EmulatorTransport(card), order="pace")
    read = reader.read(AccessKeys.from_qr(qr_of(citizen)))
    assert read.access.upper().startswith("PACE")
    v = verify_chip(read, qr_of(citizen), store_for(pkis["brainpoolP256r1"]))
    assert v.level is Level.VERIFIED, v.findings


@pytest.mark.parametrize("image", ["png", "bomb-jpeg"])
def test_a_hostile_face_image_costs_the_face_not_the_read(image, pkis, citizen, read_card):
    from station.display.face import face_thumbnail
    from station.sim.emulator.face import bomb_png, sized_jpeg

    data = bomb_png() if image == "png" else sized_jpeg(20000, 20000)
    live = read_card(citizen, pkis["p256"], face_image=data)
    assert live.read.face is None and "DG2" in live.read.files
    assert face_thumbnail(live.read.files["DG2"]) is None
    v = verify_chip(live.read, qr_of(citizen), store_for(pkis["p256"]))
    assert v.level is Level.VERIFIED, v.findings  # DG2 is still hashed against the SOD
