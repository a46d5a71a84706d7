"""The ward's trust bundle on the station: signature, versions, hostile payloads, the
atomic install, and a pinned document signer as a trust path."""

from __future__ import annotations

import base64
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from station.audit import AuditLog
from station.sim import pki
from station.verify import bundle
from station.verify.bundle import BundleError, install_bundle, load_installed, seal_bundle
from station.verify.passive import Passive, passive_authenticate
from station.verify.store import listing
from station.verify.trust import TrustStore
from tests.verify.support import store_for

NOW = datetime.now(UTC)
DGS = {1: b"\x61\x05" + b"DG1!!", 13: b"\x6d\x03abc"}
WARD = Ed25519PrivateKey.generate()
OTHER = Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def chain() -> pki.TestPki:
    return pki.make_test_pki("p256", name="Bundle")


def _sod(chain: pki.TestPki) -> bytes:
    return pki.build_sod(pki.dg_hashes_of(DGS), chain)


def _audit_lines(path: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_pinned_ds_is_trusted_as_itself(chain: pki.TestPki) -> None:
    sod = _sod(chain)
    untrusted = passive_authenticate(DGS, sod, TrustStore(), NOW)
    assert untrusted.status is Passive.UNTRUSTED_SIGNER and untrusted.trust_path is None
    payload = seal_bundle(1, pinned_ds=[chain.dsc_der], key=WARD)
    store = bundle.with_bundle(TrustStore(), bundle.open_bundle(payload, WARD.public_key()))
    pinned = passive_authenticate(DGS, sod, store, NOW)
    assert pinned.status is Passive.OK, pinned.findings
    assert pinned.trust_path == "pinned-ds"
    assert passive_authenticate(DGS, sod, store_for(chain), NOW).trust_path == "csca"
    # a pinned DS vouches for nothing else: another signer stays untrusted
    other = pki.make_test_pki("p256", name="Other")
    assert passive_authenticate(DGS, _sod(other), store, NOW).trust_path is None


def test_record_carries_the_signer_certificate(chain: pki.TestPki) -> None:
    result = passive_authenticate(DGS, _sod(chain), TrustStore(), NOW)
    assert result.signer is not None
    doc = result.signer.to_json()
    assert base64.b64decode(doc["certificate"]) == chain.dsc_der


def test_install_versions_and_audit(tmp_path: Path, chain: pki.TestPki) -> None:
    audit = AuditLog(tmp_path / "audit.log")
    v1 = seal_bundle(1, cscas=[chain.csca_der], crls=[chain.crl_der], key=WARD)
    v2 = seal_bundle(2, pinned_ds=[chain.dsc_der], key=WARD)
    assert install_bundle(tmp_path, v1, WARD.public_key(), audit=audit).changed
    assert not install_bundle(tmp_path, v1, WARD.public_key(), audit=audit).changed
    assert install_bundle(tmp_path, v2, WARD.public_key(), audit=audit).bundle.version == 2
    with pytest.raises(BundleError, match="not newer"):
        install_bundle(tmp_path, v1, WARD.public_key(), audit=audit)
    other_v2 = seal_bundle(2, cscas=[chain.csca_der], key=WARD)
    with pytest.raises(BundleError, match="not newer"):
        install_bundle(tmp_path, other_v2, WARD.public_key(), audit=audit)
    installed = load_installed(tmp_path, WARD.public_key())
    assert installed is not None and installed.version == 2
    events = [(e["event"], e["outcome"]) for e in _audit_lines(tmp_path / "audit.log")]
    assert events[0] == ("trust-bundle", "installed v1: 1 CSCA, 0 pinned DS, 1 CRL")
    assert [e for e, _ in events] == [
        "trust-bundle", "trust-bundle", "trust-bundle-refused", "trust-bundle-refused",
    ]  # fmt: skip
    rows = listing(bundle.with_bundle(TrustStore(), installed))
    assert [(r["kind"], r["origin"]) for r in rows] == [("pinned-ds", "ward bundle v2")]


def _resigned(doc: dict[str, object], key: Ed25519PrivateKey) -> bytes:
    from station.record import canonical_bytes

    body = {k: v for k, v in doc.items() if k != "sig"}
    sig = base64.b64encode(key.sign(canonical_bytes(body))).decode()
    return json.dumps({**body, "sig": sig}).encode()


def test_bad_bundles_are_refused_and_the_old_trust_stays(
    tmp_path: Path, chain: pki.TestPki
) -> None:
    good = seal_bundle(1, cscas=[chain.csca_der], key=WARD)
    install_bundle(tmp_path, good, WARD.public_key())
    other = pki.make_test_pki("p256", name="Stranger")
    doc = json.loads(seal_bundle(5, cscas=[chain.csca_der], key=WARD))
    bad = {
        "another key": seal_bundle(5, cscas=[chain.csca_der], key=OTHER),
        "truncated": seal_bundle(5, cscas=[chain.csca_der], key=WARD)[:-40],
        "altered": json.dumps({**doc, "version": 6}).encode(),
        "unsigned": json.dumps({k: v for k, v in doc.items() if k != "sig"}).encode(),
        "CRL of no CSCA in it": seal_bundle(5, cscas=[chain.csca_der], crls=[other.crl_der],
                                            key=WARD),
        "CRL that is junk": seal_bundle(5, cscas=[chain.csca_der], crls=[b"\x30\x03junk"],
                                        key=WARD),
        "certificate that is junk": seal_bundle(5, pinned_ds=[b"\x30\x00"], key=WARD),
        "not base64": _resigned({**doc, "crls": ["%%%"]}, WARD),
        "version not a number": _resigned({**doc, "version": "7"}, WARD),
        "not a bundle": _resigned({**doc, "schema": "other"}, WARD),
        "oversized": b" " * (bundle.MAX_BYTES + 1),
        "not JSON": b"\xff\xfe",
        "a list": b"[]",
    }  # fmt: skip
    for name, payload in bad.items():
        with pytest.raises(BundleError):
            install_bundle(tmp_path, payload, WARD.public_key())
        installed = load_installed(tmp_path, WARD.public_key())
        assert installed is not None and installed.payload == good, name
    assert sorted(os.listdir(tmp_path)) == [bundle.FILE_NAME]  # no temp file left


def test_a_tampered_file_on_disk_is_not_trusted(tmp_path: Path, chain: pki.TestPki) -> None:
    install_bundle(tmp_path, seal_bundle(1, pinned_ds=[chain.dsc_der], key=WARD),
                   WARD.public_key())  # fmt: skip
    path = tmp_path / bundle.FILE_NAME
    path.write_bytes(path.read_bytes().replace(b'"version":1', b'"version":9'))
    assert load_installed(tmp_path, WARD.public_key()) is None
    assert load_installed(tmp_path, None) is None  # no ward key pinned: no bundle
