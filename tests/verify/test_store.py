"""Trust store folder: PEM bundles, garbage, duplicates, removal rules."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from station.sim import pki
from station.verify.store import import_file, remove
from station.verify.trust import TrustStore, TrustStoreError


def test_pem_bundle_with_certificates_and_crl(pkis: dict[str, pki.TestPki], tmp_path: Path) -> None:
    pem = serialization.Encoding.PEM
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(
        pkis["p256"].csca_cert.public_bytes(pem)
        + pkis["rsa"].csca_cert.public_bytes(pem)
        + pkis["rsa"].crl.public_bytes(pem)
    )
    report = import_file(tmp_path / "store", bundle)
    assert (len(report.added_certs), len(report.added_crls)) == (2, 1)
    again = import_file(tmp_path / "store", bundle)
    assert again.added_certs == () and again.already_present == 3
    store = TrustStore.load(tmp_path / "store")
    assert len(store.anchors) == 2 and len(store.crls) == 1
    from asn1crypto import x509

    rsa_name = x509.Certificate.load(pkis["rsa"].csca_der).subject
    assert len(store.crls_for(rsa_name)) == 1


def test_der_crl_and_certificate_are_told_apart(
    pkis: dict[str, pki.TestPki], tmp_path: Path
) -> None:
    (tmp_path / "a.crl").write_bytes(pkis["p256"].crl_der)
    (tmp_path / "a.cer").write_bytes(pkis["p256"].csca_der)
    assert len(import_file(tmp_path / "s", tmp_path / "a.crl").added_crls) == 1
    assert len(import_file(tmp_path / "s", tmp_path / "a.cer").added_certs) == 1


def test_garbage_is_refused_and_skipped(tmp_path: Path, pkis: dict[str, pki.TestPki]) -> None:
    junk = tmp_path / "junk.der"
    junk.write_bytes(b"\x30\x03\x02\x01\x05")
    with pytest.raises(TrustStoreError):
        import_file(tmp_path / "store", junk)
    with pytest.raises(TrustStoreError, match="cannot read"):
        import_file(tmp_path / "store", tmp_path / "missing.der")
    (tmp_path / "store" / "certs").mkdir(parents=True)
    (tmp_path / "store" / "certs" / "broken.der").write_bytes(b"not a certificate")
    (tmp_path / "store" / "certs" / "good.der").write_bytes(pkis["p256"].csca_der)
    store = TrustStore.load(tmp_path / "store")
    assert len(store.anchors) == 1
    assert len(store.problems) == 1 and store.problems[0].startswith("broken.der")


def test_remove_needs_a_unique_prefix(pkis: dict[str, pki.TestPki], tmp_path: Path) -> None:
    (tmp_path / "a.cer").write_bytes(pkis["p256"].csca_der)
    added = import_file(tmp_path / "s", tmp_path / "a.cer").added_certs[0]
    with pytest.raises(TrustStoreError, match="at least 8"):
        remove(tmp_path / "s", added[:4])
    with pytest.raises(TrustStoreError, match="no trust anchor"):
        remove(tmp_path / "s", "ffffffffffff" if not added.startswith("ff") else "000000000000")
    assert remove(tmp_path / "s", added[:10].upper()) == added
    assert TrustStore.load(tmp_path / "s").anchors == ()


def test_missing_folder_is_an_empty_store(tmp_path: Path) -> None:
    store = TrustStore.load(tmp_path / "nothing")
    assert store.anchors == () and store.crls == () and store.problems == ()
