"""Passive Authentication on chains generated here: every verdict, every algorithm."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from station.sim import pki
from station.verify.passive import CrlState, Passive, passive_authenticate
from station.verify.sod import SodError, check_signature, parse_sod
from station.verify.trust import TrustStore
from tests.verify.support import KINDS, store_for

NOW = datetime.now(UTC)
DGS = {1: b"\x61\x05" + b"DG1!!", 13: b"\x6d\x03abc", 14: b"\x6e\x02\x31\x00"}


def _sod(chain: pki.TestPki, hash_alg: str = "sha256", **kwargs: object) -> bytes:
    return pki.build_sod(pki.dg_hashes_of(DGS, hash_alg), chain, hash_alg, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", KINDS)
def test_ok_and_signer(kind: str, pkis: dict[str, pki.TestPki]) -> None:
    chain = pkis[kind]
    result = passive_authenticate(DGS, _sod(chain), store_for(chain), NOW)
    assert result.status is Passive.OK, result.findings
    assert result.signer is not None
    assert result.signer.serial == format(chain.dsc_cert.serial_number, "x")
    assert result.anchor == hashlib.sha256(chain.csca_der).hexdigest()
    assert all(result.covers(n) for n in DGS)


@pytest.mark.parametrize("hash_alg", ["sha1", "sha224", "sha256", "sha384", "sha512"])
@pytest.mark.parametrize("kind", ["rsa", "rsa-pss", "brainpoolP384r1"])
def test_hash_algorithms(kind: str, hash_alg: str, pkis: dict[str, pki.TestPki]) -> None:
    sod_bytes = _sod(pkis[kind], hash_alg)
    sod = parse_sod(sod_bytes)
    assert sod.hash_alg == hash_alg and sod.digest_alg == hash_alg
    assert check_signature(sod) is None
    assert passive_authenticate(DGS, sod_bytes, store_for(pkis[kind]), NOW).status is Passive.OK


@pytest.mark.parametrize("kind", KINDS)
def test_hash_mismatch(kind: str, pkis: dict[str, pki.TestPki]) -> None:
    altered = dict(DGS)
    altered[13] = b"\x6d\x03abd"
    result = passive_authenticate(altered, _sod(pkis[kind]), store_for(pkis[kind]), NOW)
    assert result.status is Passive.HASH_MISMATCH
    assert result.dg_status[13] == "mismatch" and not result.covers(13) and result.covers(1)


@pytest.mark.parametrize("kind", KINDS)
def test_bad_signature(kind: str, pkis: dict[str, pki.TestPki]) -> None:
    chain = pkis[kind]
    forger = pki.make_test_pki(kind, rsa_bits=1024)
    sod_bytes = _sod(chain, signing_key=forger.dsc_key)
    result = passive_authenticate(DGS, sod_bytes, store_for(chain), NOW)
    assert result.status is Passive.BAD_SIGNATURE
    assert not result.covers(1)


@pytest.mark.parametrize("kind", KINDS)
def test_untrusted_signer(kind: str, pkis: dict[str, pki.TestPki]) -> None:
    other = pkis["p256" if kind != "p256" else "rsa"]
    result = passive_authenticate(DGS, _sod(pkis[kind]), store_for(other), NOW)
    assert result.status is Passive.UNTRUSTED_SIGNER
    empty = passive_authenticate(DGS, _sod(pkis[kind]), TrustStore(), NOW)
    assert empty.status is Passive.UNTRUSTED_SIGNER


def test_same_name_other_key_is_untrusted() -> None:
    real = pki.make_test_pki("p256", name="Same")
    impostor = pki.make_test_pki("p256", name="Same")  # same subject names, other keys
    result = passive_authenticate(DGS, _sod(impostor), store_for(real), NOW)
    assert result.status is Passive.UNTRUSTED_SIGNER
    assert result.anchor is None


@pytest.mark.parametrize("kind", KINDS)
def test_forged_signer_naming_the_installed_anchor_is_a_bad_signature(
    kind: str, pkis: dict[str, pki.TestPki]
) -> None:
    chain = pkis[kind]
    forged, key = pki.forge_signer(chain.dsc_der)
    sod_bytes = pki.resign_sod(_sod(chain), forged, key)
    assert check_signature(parse_sod(sod_bytes)) is None  # the SOD itself is consistent
    result = passive_authenticate(DGS, sod_bytes, store_for(chain), NOW)
    assert result.status is Passive.BAD_SIGNATURE and result.anchor is None
    assert "forged document signer" in result.findings[0]
    assert not result.covers(1)
    # the same forgery where that anchor is not installed: nothing to contradict it
    other = passive_authenticate(
        DGS, sod_bytes, store_for(pkis["p256" if kind != "p256" else "rsa"]), NOW
    )
    assert other.status is Passive.UNTRUSTED_SIGNER


@pytest.mark.parametrize("kind", ["rsa", "p256", "brainpoolP256r1"])
@pytest.mark.parametrize("when", ["expired", "not_yet_valid"])
def test_signer_outside_validity(kind: str, when: str) -> None:
    chain = pki.make_test_pki(kind, rsa_bits=1024, **{when: True})  # type: ignore[arg-type]
    result = passive_authenticate(DGS, _sod(chain), store_for(chain), NOW)
    assert result.status is Passive.SIGNER_EXPIRED  # no issue date: judged at the read date


def test_signer_validity_is_judged_at_the_issue_date() -> None:
    chain = pki.make_test_pki(
        "p256", signer_from=NOW - timedelta(days=800), key_usage_end=NOW - timedelta(days=700),
        expired=False,
    )  # fmt: skip
    store, sod_bytes = store_for(chain), _sod(chain)

    def status(issued: timedelta) -> Passive:
        day = (NOW - issued).date()
        return passive_authenticate(DGS, sod_bytes, store, NOW, issued=day).status

    assert status(timedelta(days=750)) is Passive.OK  # signed while the key was in use
    assert status(timedelta(days=650)) is Passive.SIGNER_EXPIRED  # issued after it ended
    # expired certificate, card issued while it was valid: normal (CCCDs outlive signers)
    expired = pki.make_test_pki("p256", expired=True)
    issued = (NOW - timedelta(days=400)).date()
    assert (
        passive_authenticate(DGS, _sod(expired), store_for(expired), NOW, issued=issued).status
        is Passive.OK
    )
    early = pki.make_test_pki("p256", not_yet_valid=True)  # never fine before its start
    assert (
        passive_authenticate(DGS, _sod(early), store_for(early), NOW, issued=issued).status
        is Passive.SIGNER_EXPIRED
    )


def test_crl_state() -> None:
    chain = pki.make_test_pki("p256", name="CrlState")
    stale = pki.make_test_pki("p256", name="Stale", crl_next_update=NOW - timedelta(hours=1))
    assert passive_authenticate(DGS, _sod(chain), store_for(chain), NOW).crl is CrlState.CURRENT
    missing = passive_authenticate(DGS, _sod(chain), store_for(chain, crls=False), NOW)
    assert missing.crl is CrlState.MISSING and missing.status is Passive.OK
    assert any("no current CRL" in f for f in missing.findings)
    assert passive_authenticate(DGS, _sod(stale), store_for(stale), NOW).crl is CrlState.EXPIRED
    assert passive_authenticate(DGS, _sod(chain), store_for(stale), NOW).crl is None


@pytest.mark.parametrize("kind", ["rsa-pss", "p256", "brainpoolP384r1"])
def test_signer_revoked(kind: str) -> None:
    chain = pki.make_test_pki(kind, rsa_bits=1024, revoked=True)
    result = passive_authenticate(DGS, _sod(chain), store_for(chain), NOW)
    assert result.status is Passive.SIGNER_REVOKED
    before = passive_authenticate(DGS, _sod(chain), store_for(chain), NOW - timedelta(days=2))
    assert before.status is Passive.OK  # revoked one hour ago: fine two days back
    without_crl = passive_authenticate(DGS, _sod(chain), store_for(chain, crls=False), NOW)
    assert without_crl.status is Passive.OK


def test_crl_from_another_issuer_is_ignored() -> None:
    chain = pki.make_test_pki("p256", name="Crl")
    impostor = pki.make_test_pki("p256", name="Crl", revoked=True)
    store = TrustStore.from_der([chain.csca_der], [impostor.crl_der])
    assert passive_authenticate(DGS, _sod(chain), store, NOW).status is Passive.OK


def test_dg_not_in_sod_is_a_mismatch(pkis: dict[str, pki.TestPki]) -> None:
    extra = {**DGS, 15: b"\x6f\x02\x30\x00"}
    result = passive_authenticate(extra, _sod(pkis["p256"]), store_for(pkis["p256"]), NOW)
    assert result.dg_status[15] == "not-in-sod" and not result.covers(15)
    assert result.status is Passive.HASH_MISMATCH


GARBAGE = [b"", b"\x77\x03\x30\x01\x00", b"\x77\x82\xff\xff", b"\x00" * 40]


@pytest.mark.parametrize("garbage", GARBAGE)
def test_malformed_sod_never_crashes(garbage: bytes, pkis: dict[str, pki.TestPki]) -> None:
    result = passive_authenticate(DGS, garbage, store_for(pkis["p256"]), NOW)
    assert result.status in (Passive.BAD_SIGNATURE, Passive.NOT_CHECKED)
    if garbage:
        with pytest.raises(SodError):
            parse_sod(garbage)


def test_truncated_real_sods_never_crash(pkis: dict[str, pki.TestPki]) -> None:
    good = _sod(pkis["rsa"])
    for cut in range(0, len(good), 37):
        result = passive_authenticate(DGS, good[:cut], store_for(pkis["rsa"]), NOW)
        assert result.status is not Passive.OK


@pytest.fixture(scope="module")
def fuzz_sod(pkis: dict[str, pki.TestPki]) -> bytes:
    return _sod(pkis["p256"])


FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@FUZZ
@given(data=st.data())
def test_fuzzed_sods_never_crash(
    data: st.DataObject, fuzz_sod: bytes, pkis: dict[str, pki.TestPki]
) -> None:
    good = bytearray(fuzz_sod)
    for _ in range(data.draw(st.integers(1, 4))):
        index = data.draw(st.integers(0, len(good) - 1))
        good[index] = data.draw(st.integers(0, 255))
    result = passive_authenticate(DGS, bytes(good), store_for(pkis["p256"]), NOW)
    if result.status is Passive.OK:  # only changes outside what was signed may pass
        original = parse_sod(fuzz_sod)
        assert result.sod is not None
        assert (result.sod.content, result.sod.signed_attrs, result.sod.signature) == (
            original.content,
            original.signed_attrs,
            original.signature,
        )
