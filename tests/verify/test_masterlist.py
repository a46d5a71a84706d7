"""Master lists generated here: the list signer's chain, unusable entries, tampering."""

from __future__ import annotations

from pathlib import Path

import pytest
from asn1crypto import x509

from station.sim import pki
from station.verify.masterlist import is_master_list, parse_master_list
from station.verify.store import import_file
from station.verify.trust import TrustStore, TrustStoreError


def _unloadable(csca_der: bytes) -> bytes:
    """A copy of an EC certificate whose explicit curve matches no known curve."""
    cert = x509.Certificate.load(csca_der)
    spki = cert["tbs_certificate"]["subject_public_key_info"]
    assert spki["algorithm"]["algorithm"].native == "ec"
    spec = {
        "version": "ecdpVer1",
        "field_id": {"field_type": "prime_field", "parameters": 2**127 - 1},
        "curve": {"a": b"\x01", "b": b"\x02"},
        "base": b"\x04" + b"\x01" * 32,
        "order": 7,
    }
    tbs = cert["tbs_certificate"].copy()
    tbs["subject_public_key_info"] = {
        "algorithm": {"algorithm": "ec", "parameters": {"specified": spec}},
        "public_key": spki["public_key"].native,
    }
    return bytes(x509.Certificate({"tbs_certificate": tbs,
                                   "signature_algorithm": cert["signature_algorithm"],
                                   "signature_value": cert["signature_value"]}).dump())  # fmt: skip


def test_list_signer_chain_and_unusable_entry(pkis: dict[str, pki.TestPki], tmp_path: Path) -> None:
    signer = pkis["rsa"]  # its DSC signs the list; its CSCA is in the list
    entries = [pkis["p256"].csca_der, _unloadable(pkis["p256"].csca_der), signer.csca_der]
    data = pki.build_master_list(entries, signer)
    assert is_master_list(data)
    ml = parse_master_list(data)
    assert ml.signature_valid and "in the list" in ml.signer_chain
    assert len(ml.certificates) == 2
    assert len(ml.problems) == 1 and ml.problems[0].startswith("certificate 1 (")
    assert "match no known curve" in ml.problems[0]
    path = tmp_path / "list.ml"
    path.write_bytes(data)
    report = import_file(tmp_path / "store", path)
    assert len(report.added_certs) == 2 and report.problems == ml.problems
    assert len(TrustStore.load(tmp_path / "store").anchors) == 2


def test_list_signer_chain_via_trust_store(pkis: dict[str, pki.TestPki], tmp_path: Path) -> None:
    signer = pkis["brainpoolP256r1"]
    data = pki.build_master_list([pkis["p256"].csca_der], signer)
    assert "not present" in parse_master_list(data).signer_chain
    store = TrustStore.from_der([signer.csca_der])
    assert "in the trust store" in parse_master_list(data, store).signer_chain


def test_forged_list_is_refused_unless_allowed(
    pkis: dict[str, pki.TestPki], tmp_path: Path
) -> None:
    signer = pkis["p256"]
    data = bytearray(pki.build_master_list([pkis["rsa"].csca_der], signer))
    anchor = pkis["rsa"].csca_der[-40:]
    where = bytes(data).index(anchor)
    data[where] ^= 0x01  # inside the listed certificate's signature: the list's digest breaks
    path = tmp_path / "forged.ml"
    path.write_bytes(bytes(data))
    assert not parse_master_list(bytes(data)).signature_valid
    with pytest.raises(TrustStoreError, match="signature invalid"):
        import_file(tmp_path / "store", path)
    report = import_file(tmp_path / "store", path, allow_unverified_list=True)
    assert report.master_list is not None and not report.master_list.signature_valid
    assert len(report.added_certs) == 1
