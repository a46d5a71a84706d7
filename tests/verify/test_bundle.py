"""The ward's trust bundle on the station: signature, versions, hostile payloads, the
atomic install, a pinned document signer as a trust path, and the transport (a signed
head and its parts: missing, corrupted, another version's, hostile heads)."""

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


# -- the transport: a signed head and its parts ------------------------------------------
def _head_doc(payload: bytes) -> dict[str, object]:
    return dict(json.loads(payload))


def test_a_head_and_its_parts_install_once_whole(tmp_path: Path, chain: pki.TestPki) -> None:
    audit = AuditLog(tmp_path / "audit.log")
    store = tmp_path / "store"
    install_bundle(store, seal_bundle(1, pinned_ds=[chain.dsc_der], key=WARD), WARD.public_key())
    big = seal_bundle(2, cscas=[chain.csca_der] * 40, crls=[chain.crl_der], key=WARD)
    head, parts = bundle.split_bundle(big, WARD, part_bytes=4096)
    assert len(parts) > 3 and b"".join(parts) == big
    checked = bundle.open_head(head, WARD.public_key())
    assert (checked.version, checked.size, len(checked.parts)) == (2, len(big), len(parts))
    collector = bundle.Collector(store, WARD.public_key(), audit=audit)
    collector.head(head)
    assert collector.wanted == 2
    _, other_parts = bundle.split_bundle(
        seal_bundle(3, cscas=[chain.csca_der], key=WARD), WARD, part_bytes=4096
    )
    assert collector.part(3, 0, other_parts[0]) is None  # another version's: dropped unread
    assert collector.part(2, 1, other_parts[0][: len(parts[1])]) is None  # not the listed one
    assert collector.part(2, len(parts), parts[0]) is None  # not listed at all
    for n, part in reversed(list(enumerate(parts))[1:]):  # any order; all but part 0
        assert collector.part(2, n, part) is None
        assert collector.part(2, n, part) is None  # the same part again: nothing new
    assert collector.progress == (2, len(parts) - 1, len(parts))
    installed = load_installed(store, WARD.public_key())
    assert installed is not None and installed.version == 1  # missing one: the old trust
    done = collector.part(2, 0, parts[0])
    assert done is not None and done.changed and done.bundle.version == 2
    assert collector.wanted is None and collector.installed == done.bundle
    installed = load_installed(store, WARD.public_key())
    assert installed is not None and installed.payload == big
    collector.head(head)  # the same head again (a reconnect): installed already
    assert collector.wanted is None
    events = [(e["event"], e["outcome"]) for e in _audit_lines(tmp_path / "audit.log")]
    assert events == [
        ("trust-bundle-refused", "part 1 of bundle v2 is not the one its head lists"),
        ("trust-bundle", "installed v2: 40 CSCA, 0 pinned DS, 1 CRL"),
    ]
    assert sorted(os.listdir(store)) == [bundle.FILE_NAME]


def test_newest_head_wins_and_a_replayed_one_is_refused(tmp_path: Path, chain: pki.TestPki) -> None:
    collector = bundle.Collector(tmp_path, WARD.public_key())
    v2_head, v2_parts = bundle.split_bundle(seal_bundle(2, cscas=[chain.csca_der], key=WARD), WARD)
    v3_head, v3_parts = bundle.split_bundle(
        seal_bundle(3, pinned_ds=[chain.dsc_der], key=WARD), WARD
    )
    collector.head(v2_head)
    collector.head(v3_head)  # a newer head drops what was collected for v2
    assert collector.wanted == 3
    collector.head(v2_head)  # an older head does not interrupt the newer one
    assert collector.wanted == 3
    assert collector.part(2, 0, v2_parts[0]) is None
    done = collector.part(3, 0, v3_parts[0])
    assert done is not None and done.bundle.version == 3
    collector.head(v2_head)  # a replayed older bundle: refused, nothing wanted
    assert collector.wanted is None
    installed = load_installed(tmp_path, WARD.public_key())
    assert installed is not None and installed.version == 3


def test_hostile_heads_are_refused_before_anything_is_collected(
    tmp_path: Path, chain: pki.TestPki
) -> None:
    payload = seal_bundle(2, cscas=[chain.csca_der], key=WARD)
    head, _ = bundle.split_bundle(payload, WARD)
    doc = _head_doc(head)
    part = {"size": 1000, "sha256": "ab" * 32}
    bad = {
        "another key": bundle.split_bundle(payload, OTHER)[0],
        "a million parts (too large)": _resigned(
            {**doc, "parts": [part] * 1_000_000, "size": 1000 * 1_000_000}, WARD
        ),
        "too many parts": _resigned(
            {**doc, "parts": [part] * (bundle.MAX_PARTS + 1),
             "size": 1000 * (bundle.MAX_PARTS + 1)}, WARD
        ),
        "too large in all": _resigned(
            {**doc, "parts": [{**part, "size": bundle.MAX_PART_BYTES}] * 17,
             "size": bundle.MAX_PART_BYTES * 17}, WARD
        ),
        "a part over one message": _resigned(
            {**doc, "parts": [{**part, "size": bundle.MAX_PART_BYTES + 1}],
             "size": bundle.MAX_PART_BYTES + 1}, WARD
        ),
        "sizes that do not add up": _resigned({**doc, "size": 5}, WARD),
        "no parts": _resigned({**doc, "parts": [], "size": 0}, WARD),
        "a part without its hash": _resigned({**doc, "parts": [{"size": 3}], "size": 3}, WARD),
        "a hash that is not hex": _resigned({**doc, "sha256": "zz" * 32}, WARD),
        "version zero": _resigned({**doc, "version": 0}, WARD),
        "version true": _resigned({**doc, "version": True}, WARD),
        "a bundle, not a head": payload,
        "truncated": head[:-10],
        "not JSON": b"\xff",
    }  # fmt: skip
    collector = bundle.Collector(tmp_path, WARD.public_key())
    for name, hostile in bad.items():
        with pytest.raises(BundleError):
            bundle.open_head(hostile, WARD.public_key())
        collector.head(hostile)
        assert collector.wanted is None, name
    assert len(bad["a million parts (too large)"]) > bundle.MAX_HEAD_BYTES  # refused unread
    collector.head(b"")  # a cleared topic: nothing
    assert collector.wanted is None


def test_a_head_whose_parts_make_another_bundle_is_refused(
    tmp_path: Path, chain: pki.TestPki
) -> None:
    """The parts match the head, but the document they make is not the head's version
    (or not a bundle): nothing is installed."""
    install_bundle(tmp_path, seal_bundle(1, cscas=[chain.csca_der], key=WARD), WARD.public_key())
    for inner, version in (
        (seal_bundle(7, pinned_ds=[chain.dsc_der], key=WARD), 8),
        (seal_bundle(8, pinned_ds=[chain.dsc_der], key=OTHER), 8),
        (seal_bundle(8, pinned_ds=[chain.dsc_der], key=WARD)[:-5], 8),
    ):
        head, parts = bundle.split_bundle(inner, WARD, version=version)
        collector = bundle.Collector(tmp_path, WARD.public_key())
        collector.head(head)
        assert collector.wanted == 8
        assert collector.part(8, 0, parts[0]) is None
        assert collector.wanted is None
        installed = load_installed(tmp_path, WARD.public_key())
        assert installed is not None and installed.version == 1
