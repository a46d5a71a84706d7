"""Real-world data no one here wrote: BSI and ETSI test documents, NL and DE master lists."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

from asn1crypto import keys as asn1_keys

from station.icao import keys, lds
from station.icao.chipauth import ephemeral_agreement
from station.icao.result import ChipRead
from station.verify.chip import data_groups, load_dump
from station.verify.masterlist import parse_master_list
from station.verify.passive import Passive, passive_authenticate
from station.verify.sod import check_signature, parse_sod
from station.verify.store import import_file, listing
from station.verify.trust import TrustStore, parse_crl

NOW = datetime(2026, 11, 26, tzinfo=UTC)
VIETNAM_SHA256 = "6b5fa6fe45cc4e855a73760413e08b7a9ac50a27722c702f3909a90facc991bd"


def test_bsi_set_signed_hashes_match_untrusted_and_expired(reference: Path) -> None:
    folder = reference / "bsi-tr03105-5"
    sod = parse_sod((folder / "EF_SOD.bin").read_bytes())
    assert sod.hash_alg == "sha256"
    assert sorted(sod.dg_hashes) == [1, 2, 3, 4, 14]
    assert check_signature(sod) is None  # RSASSA-PSS, verifies
    files = load_dump(folder)
    dgs = {n: d for n, d in data_groups(files).items() if n != 15}
    result = passive_authenticate(dgs, files["EF.SOD"], TrustStore(), NOW)
    assert result.dg_status == {1: "ok", 14: "ok"}
    assert result.status is Passive.UNTRUSTED_SIGNER
    assert result.problems == {Passive.UNTRUSTED_SIGNER, Passive.SIGNER_EXPIRED}
    assert result.signer is not None and "HJP PB DS" in result.signer.subject
    assert result.signer.sha256 == hashlib.sha256((folder / "DSC.cer").read_bytes()).hexdigest()


def test_bsi_dg15_not_in_sod_is_never_covered(reference: Path) -> None:
    folder = reference / "bsi-tr03105-5"
    files = load_dump(folder)
    result = passive_authenticate(data_groups(files), files["EF.SOD"], TrustStore(), NOW)
    assert result.dg_status[15] == "not-in-sod"
    assert not result.covers(15)
    assert result.covers(1)
    assert result.status is not Passive.OK
    read = ChipRead.from_files(files, access="offline", key_source="dump")
    assert isinstance(read.aa_public_key, keys.rsa.RSAPublicKey)


def test_etsi_set_all_listed_hashes_match(reference: Path) -> None:
    folder = reference / "etsi-tr103200"
    files = load_dump(folder)
    result = passive_authenticate(data_groups(files), files["EF.SOD"], TrustStore(), NOW)
    assert result.dg_status == {1: "ok", 14: "ok", 15: "ok"}
    assert Passive.BAD_SIGNATURE not in result.problems
    assert result.problems == {Passive.UNTRUSTED_SIGNER, Passive.SIGNER_EXPIRED}
    assert result.covers(15)


def test_etsi_signer_within_validity_in_2012_but_still_untrusted(reference: Path) -> None:
    files = load_dump(reference / "etsi-tr103200")
    at = datetime(2012, 1, 1, tzinfo=UTC)
    result = passive_authenticate(data_groups(files), files["EF.SOD"], TrustStore(), at)
    assert result.problems == {Passive.UNTRUSTED_SIGNER}


def test_etsi_trusted_once_its_dsc_is_an_anchor(reference: Path) -> None:
    # The DSC itself installed as anchor does not make it its own issuer: still untrusted.
    folder = reference / "etsi-tr103200"
    files = load_dump(folder)
    store = TrustStore.from_der([(folder / "DSC.cer").read_bytes()])
    result = passive_authenticate(data_groups(files), files["EF.SOD"], store, NOW)
    assert result.status is Passive.UNTRUSTED_SIGNER


def test_reference_dg14_offers_ecdh_with_explicit_parameters(reference: Path) -> None:
    for name in ("bsi-tr03105-5", "etsi-tr103200"):
        options = lds.parse_dg14((reference / name / "EF_DG14.bin").read_bytes()).ca_options()
        assert options and options[0].agreement == "ecdh"
        spki = asn1_keys.PublicKeyInfo.load(options[0].public_key)
        assert spki["algorithm"]["parameters"].name == "specified"
        key = keys.load_spki(options[0].public_key)
        # brainpoolP224r1, which `cryptography` lacks: handled in plain integers
        assert keys.key_description(key) == "EC brainpoolP224r1 (explicit)"
        public, shared = ephemeral_agreement(options[0])
        assert public[0] == 4 and len(public) == 57 and len(shared) == 28


def test_nl_master_list(reference: Path) -> None:
    data = (reference / "nl-masterlist" / "NL_MASTERLIST_20211207.mls").read_bytes()
    ml = parse_master_list(data)
    assert ml.signature_valid
    assert "Masterlist Signer NL" in ml.signer_subject and ml.signer_serial is not None
    assert "CSCA NL" in ml.signer_chain
    assert len(ml.certificates) == 306 and ml.problems == ()
    explicit = 0
    for der in ml.certificates:
        from asn1crypto import x509

        spki = x509.Certificate.load(der).public_key
        if spki["algorithm"]["algorithm"].native == "ec":
            explicit += spki["algorithm"]["parameters"].name == "specified"
        keys.load_spki(spki.dump())  # every key loads
    assert explicit == 58


def test_de_master_list_with_vietnam(reference: Path, tmp_path: Path) -> None:
    folder = reference / "de-masterlist"
    report = import_file(tmp_path, folder / "DE_ML_2026-05-28-08-28-45.ml")
    assert report.master_list is not None and report.master_list.signature_valid
    assert len(report.master_list.certificates) == 588 and not report.problems
    store = TrustStore.load(tmp_path)
    assert store.problems == ()
    rows = {row["sha256"]: row for row in listing(store)}
    vietnam = rows[VIETNAM_SHA256]
    assert "CSCA ePassport Vietnam" in str(vietnam["subject"])
    assert vietnam["key"] == "EC brainpoolP512r1"
    again = import_file(tmp_path, folder / "CSCA_ePassport_Vietnam.der")
    assert again.added_certs == () and again.already_present == 1


def test_col_crl_loads_and_is_expired(reference: Path, tmp_path: Path) -> None:
    crl = parse_crl((reference / "nl-masterlist" / "COL.crl").read_bytes())
    assert "Colombia" in str(crl.issuer.human_friendly)
    assert crl.expired(NOW)
    assert crl.this_update.year == 2020
    report = import_file(tmp_path, reference / "nl-masterlist" / "COL.crl")
    assert len(report.added_crls) == 1
