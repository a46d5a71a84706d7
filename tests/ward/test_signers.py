"""Fleet trust at the ward, in the database (SQLite and PostgreSQL) and in the admin's
console page "Chứng thư" over real HTTP: signers counted from the stations' records
(their certificates shape-checked as hostile input), alerts, approvals, installs,
removals, each audited, and the signed bundles made of the approved set."""

from __future__ import annotations

import base64
import copy
import hashlib
import threading
import time
from dataclasses import replace
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding

from station.sim import pki
from station.sim.citizens import generate_many
from station.sync.limits import MAX_MESSAGE_BYTES
from station.verify.bundle import MAX_BYTES, PART_BYTES, open_bundle, open_head
from station.ward.db import WardDB
from station.ward.db.signers import CLONE_WAVE
from station.ward.trust import BundleSender, TrustError, bundle_bytes, make_bundle, parse_upload
from tests.sync.support import STATION
from tests.verify.support import REFERENCE
from tests.ward.support import ADMIN, OFFICER, Served, chip_record, opened

OTHER_STATION = "station-2"


@pytest.fixture(scope="module")
def chain() -> pki.TestPki:
    return pki.make_test_pki("p256", name="Ward")


def signed_record(
    chain: pki.TestPki, seed: int, station: str = STATION, **checks: str
) -> dict[str, Any]:
    """A chip record naming ``chain``'s document signer, with its certificate."""
    (citizen,) = generate_many(seed, 1)
    rec = chip_record(citizen, station, level="signed-untrusted")
    from station.verify.passive import Signer
    from station.verify.trust import parse_certificate

    signer = Signer.of(parse_certificate(chain.dsc_der).cert)
    rec["verification"].update(signer=signer.to_json(), trust_path=None, **checks)
    return rec


def test_signers_counted_with_outcomes_and_alerts(db_target: str, chain: pki.TestPki) -> None:
    records = [signed_record(chain, n, STATION if n % 2 else OTHER_STATION) for n in range(4)]
    again = copy.deepcopy(records[0])
    again["record_id"] = "another-read-of-the-same-card"
    with WardDB(db_target) as db:
        db.store_many([opened(r) for r in [*records, again]])
        (row,) = db.signers()
        assert row.sha256 == records[0]["verification"]["signer"]["sha256"]
        assert (row.cards, row.stations, row.reads) == (4, 2, 5)
        assert row.subject.startswith("CN=DS Ward p256") and row.key_type == "EC secp256r1"
        assert row.outcomes["passive"] == {"untrusted-signer": 5} and row.trust == ""
        assert db.signer_der(row.sha256) == chain.dsc_der
        (alert,) = db.alerts()  # one per signer, at first sight
        assert alert.kind == "signer-unapproved" and row.sha256[:16] in alert.detail
        clones = [signed_record(chain, 10 + n, active="failed") for n in range(CLONE_WAVE)]
        db.store_many([opened(r) for r in clones[:-1]])
        assert len(db.alerts()) == 1  # not a wave yet
        db.store_many([opened(clones[-1])])
        assert [a.kind for a in db.alerts()] == ["signer-clones", "signer-unapproved"]
        db.store_many([opened(signed_record(chain, 20, chip_auth="failed"))])
        assert len(db.alerts()) == 2  # one open alert per wave
        assert db.signers()[0].outcomes["active"] == {"ok": 6, "failed": CLONE_WAVE}


def test_hostile_signer_fields(db_target: str, chain: pki.TestPki) -> None:
    """The ward names a signer by the certificate it holds, never by what the record
    claims; junk certificates count under the claimed fingerprint, without details."""
    liar = signed_record(chain, 1)
    liar["verification"]["signer"]["sha256"] = "ab" * 32
    junk = signed_record(chain, 2)
    junk["verification"]["signer"].update(certificate="%%%", sha256="cd" * 32, subject="x" * 9999)
    not_der = signed_record(chain, 3)
    not_der["verification"]["signer"].update(
        certificate=base64.b64encode(b"\x30\x03abc").decode(), sha256="not hex"
    )
    huge = signed_record(chain, 4)
    huge["verification"]["signer"]["certificate"] = "A" * 100_000
    odd = signed_record(chain, 5)
    odd["verification"].update(active=["failed"], passive={"x": 1})
    with WardDB(db_target) as db:
        db.store_many([opened(r) for r in (liar, junk, not_der, huge, odd)])
        rows = {r.sha256: r for r in db.signers()}
    real = signed_record(chain, 9)["verification"]["signer"]["sha256"]
    assert set(rows) == {real, "cd" * 32}  # the one without a usable name is not counted
    assert rows[real].reads == 3 and rows[real].outcomes["active"] == {"ok": 2, "other": 1}
    assert not rows["cd" * 32].has_certificate and len(rows["cd" * 32].subject) == 300


def test_trust_changes_make_signed_bundles(db_target: str, chain: pki.TestPki) -> None:
    key = Ed25519PrivateKey.generate()
    sender = BundleSender(key)
    with WardDB(db_target) as db:
        assert sender.current(db) is None  # nothing approved yet
        assert db.latest_bundle_version() == 0 and db.latest_bundle() is None
        assert sender.due(db, now=100.0) == []  # nor published (past the marker's wait)
        db.store_many([opened(signed_record(chain, 1))])
        from station.ward.trust import pinned_item

        assert db.add_trust([pinned_item(db, chain_sha(chain), "quantri")])
        latest = sender.current(db)
        assert latest is not None and latest[0] == 1
        sent = sender.due(db, now=100.0)
        assert [t for t, _ in sent] == ["cccd/trust/bundle/1/0", "cccd/trust/bundle"]
        head = open_head(sent[1][1], key.public_key())
        assert (head.version, head.sha256) == (1, hashlib.sha256(latest[1]).hexdigest())
        assert sender.due(db, now=100.5) == []  # published already
        bundle = open_bundle(latest[1], key.public_key())
        assert [p.der for p in bundle.pinned] == [chain.dsc_der]
        assert (db.signers()[0].trust, db.trust_revision()) == ("pinned-ds", 1)
        assert db.remove_trust(chain_sha(chain)) is not None
        latest = sender.current(db)
        assert latest is not None and latest[0] == 2
        assert open_bundle(latest[1], key.public_key()).pinned == ()
        assert BundleSender(key).current(db) == latest  # another receiver: the same bytes
        assert db.latest_bundle_version() == 2 == latest[0]
        assert [t for t, _ in sender.due(db, now=101.0)][-1] == "cccd/trust/bundle"  # v2 cut
        assert sender.current(db) == latest  # now from the cut bundle, the same bytes
        assert BundleSender(key).due(db, 100.0) == BundleSender(key).due(db, 100.0)
        # a new database with the same key, told of the retained v2: continues at v3
        assert db.continue_bundles_above(2) == 1
        latest = sender.current(db)
        assert latest is not None and latest[0] == 3
        assert db.bundle_version_offset() == 1


def chain_sha(chain: pki.TestPki) -> str:
    import hashlib

    return hashlib.sha256(chain.dsc_der).hexdigest()


def test_uploads(chain: pki.TestPki) -> None:
    pem = chain.csca_cert.public_bytes(Encoding.PEM)
    items, what = parse_upload(pem, "csca.pem", "quantri", [])
    assert [i.kind for i in items] == ["csca"] and "1 CSCA" in what
    with pytest.raises(TrustError, match="CRL"):
        parse_upload(chain.crl_der, "ward.crl", "quantri", [])  # its CSCA is not installed
    items, _ = parse_upload(chain.crl_der, "ward.crl", "quantri", items)
    assert [i.kind for i in items] == ["crl"]
    listed = (REFERENCE / "nl-masterlist" / "NL_MASTERLIST_20211207.mls").read_bytes()
    items, what = parse_upload(listed, "NL.mls", "quantri", [])
    assert len(items) > 50 and "danh sách ICAO" in what
    assert bundle_bytes(items) >= len(make_bundle(1, items, Ed25519PrivateKey.generate()))
    german = (REFERENCE / "de-masterlist" / "DE_ML_2026-05-28-08-28-45.ml").read_bytes()
    items, what = parse_upload(german, "DE.ml", "quantri", [])  # travels in parts
    assert len(items) > 500 and "danh sách ICAO" in what
    assert bundle_bytes(items) > MAX_MESSAGE_BYTES  # more than one MQTT message holds
    vietnam = (REFERENCE / "de-masterlist" / "CSCA_ePassport_Vietnam.der").read_bytes()
    assert [i.kind for i in parse_upload(vietnam, "VN.der", "quantri", [])[0]] == ["csca"]
    assert PART_BYTES < MAX_MESSAGE_BYTES < MAX_BYTES  # each part passes the broker
    many = [replace(items[0], sha256=f"{n:064x}") for n in range(MAX_BYTES // len(items[0].der))]
    with pytest.raises(TrustError, match="16 MB"):  # the station's cap on a whole bundle
        parse_upload(vietnam, "VN.der", "quantri", many)
    tampered = bytearray(listed)
    tampered[len(tampered) // 2] ^= 0x01
    with pytest.raises(TrustError, match="signature"):
        parse_upload(bytes(tampered), "NL.mls", "quantri", [])
    for junk in (b"", b"not a certificate", b"\x30" * 5_000_000):
        with pytest.raises(TrustError):
            parse_upload(junk, "../../etc/passwd", "quantri", [])


def test_the_admin_page(console: Served, chain: pki.TestPki) -> None:
    with WardDB(console.db) as db:
        db.store_many([opened(signed_record(chain, n)) for n in range(3)])
    officer = console.login(OFFICER)
    assert officer.get("/admin/trust").status_code == 403
    admin = console.login(ADMIN)
    page = admin.get("/admin/trust").text
    sha = chain_sha(chain)
    assert f'id="signer-{sha[:16]}"' in page and "Chưa tin cậy" in page
    assert "PA Chưa có chứng thư gốc tin cậy: 3" in page  # outcomes in Vietnamese
    assert "tối đa 16 MB" in page and "tối đa 1 MB" not in page  # the bundle travels in parts
    token = console.csrf(admin, "/admin/trust")
    unchecked = admin.post(f"/admin/trust/{sha}/approve", data={"csrf_token": token, "note": "x"})
    assert unchecked.status_code == 422 and "cách 4" in unchecked.text
    an_id = admin.post(f"/admin/trust/{sha}/approve", data={
        "csrf_token": token, "checked": "method-4", "note": "CCCD 001099012345"})  # fmt: skip
    assert an_id.status_code == 422
    no_csrf = admin.post(f"/admin/trust/{sha}/approve", data={"checked": "method-4"})
    assert no_csrf.status_code == 403
    done = admin.post(f"/admin/trust/{sha}/approve", data={
        "csrf_token": token, "checked": "method-4", "note": "HS-2026-0042"})  # fmt: skip
    assert done.status_code == 303
    page = admin.get("/admin/trust").text
    assert "trust-pinned" in page and f'id="trust-{sha[:16]}"' in page
    # no receiver runs here: version 1 is the current set, not yet made and published
    assert "Bộ tin cậy hiện hành: phiên bản 1" in page and "đã phát tới" not in page
    assert "phiên bản 1 sẽ được bộ thu" in page
    with WardDB(console.db) as db:  # an earlier database's bundle v6 was on the broker
        db.continue_bundles_above(6)
    page = admin.get("/admin/trust").text
    assert "Bộ tin cậy hiện hành: phiên bản 7" in page  # the version, not the revision (1)
    pem = chain.csca_cert.public_bytes(Encoding.PEM)
    sent = admin.post("/admin/trust/install", data={"csrf_token": token},
                      files={"file": ("csca.pem", pem, "application/x-pem-file")})  # fmt: skip
    assert sent.status_code == 303
    junk = {"file": ("junk.der", b"junk", "application/octet-stream")}
    refused = admin.post("/admin/trust/install", data={"csrf_token": token}, files=junk)
    assert refused.status_code == 422 and "Không đọc được tệp" in refused.text
    assert admin.post(f"/admin/trust/{sha}/remove", data={"csrf_token": token}).status_code == 303
    with WardDB(console.db) as db:
        assert [t.kind for t in db.trust_items()] == ["csca"] and db.trust_revision() == 3
        actions = [(a.action, a.outcome) for a in db.audit_log() if a.action.startswith("trust")]
    assert [a for a, _ in actions] == [
        "trust-remove", "trust-install", "trust-install", "trust-pin-ds",
    ]  # fmt: skip
    assert "HS-2026-0042" in actions[-1][1] and "refused" in actions[1][1]
    assert all("001099012345" not in o for _, o in actions)


def test_the_record_page_says_how_the_signer_was_trusted(chain: pki.TestPki) -> None:
    from station.ward.console.present import checks_of

    record = signed_record(chain, 1)
    shown = {c.label: c.value for c in checks_of(record)}
    assert "Tin cậy qua" not in shown  # not trusted: no trust line
    for path, words in (("pinned-ds", "DS được ghim"), ("csca", "CSCA")):
        record["verification"]["trust_path"] = path
        assert words in {c.label: c.value for c in checks_of(record)}["Tin cậy qua"]


def test_the_record_page_says_active_authentication_was_not_needed(chain: pki.TestPki) -> None:
    """A chip that passed Chip Authentication is not asked for Active Authentication: the
    record page says "not needed", in a neutral tone, not "the card does not support it"."""
    from station.ward.console.present import checks_of

    record = signed_record(chain, 1)
    record["verification"] |= {"active": "skipped", "chip_auth": "ok"}
    shown = {c.label: (c.value, c.tone) for c in checks_of(record)}
    assert shown["Chip thật: xác thực chủ động (AA)"] == ("Không cần (CA đã đạt)", "info")
    assert shown["Chip thật: xác thực chip (CA)"] == ("Đạt", "ok")
    record["verification"]["active"] = "not-supported"
    shown = {c.label: (c.value, c.tone) for c in checks_of(record)}
    assert shown["Chip thật: xác thực chủ động (AA)"] == ("Thẻ không hỗ trợ", "warn")
    record["verification"]["active"] = "<b>made up</b>"  # an unknown word is shown as bad
    tones = {c.label: c.tone for c in checks_of(record)}
    assert tones["Chip thật: xác thực chủ động (AA)"] == "bad"


# -- the signers page's counts, kept as records arrive ------------------------------------
def _expected(records: list[dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    """What the page must say of each signer, counted from the records themselves."""
    from station.ward.signers import seen_signer

    out: dict[str, dict[str, Any]] = {}
    for rec in records:
        s = seen_signer(rec)
        assert s is not None
        outcomes: dict[str, dict[str, int]] = {"passive": {}, "active": {}, "chip_auth": {}}
        e = out.setdefault(
            s.sha256, {"cards": set(), "stations": set(), "reads": 0, "outcomes": outcomes}
        )
        e["cards"].add(rec["citizen"]["id_number"])
        e["stations"].add(rec["station_id"])
        e["reads"] += 1
        for column, word in (("passive", s.passive), ("active", s.active),
                             ("chip_auth", s.chip_auth)):  # fmt: skip
            e["outcomes"][column][word] = e["outcomes"][column].get(word, 0) + 1
    return {sha: (len(e["cards"]), len(e["stations"]), e["reads"], e["outcomes"])
            for sha, e in out.items()}  # fmt: skip


def _shown(db: WardDB) -> dict[str, tuple[Any, ...]]:
    return {r.sha256: (r.cards, r.stations, r.reads, r.outcomes) for r in db.signers()}


def _reads_of(chains: list[pki.TestPki]) -> list[dict[str, Any]]:
    """Cards of two signers at two stations; some cards read again (in the same batch and
    in later ones), some with AA failed, some chained to a CSCA."""
    out = []
    for n in range(12):
        chain = chains[n % 2]
        rec = signed_record(chain, n % 7, STATION if n % 3 else OTHER_STATION)
        rec["record_id"] = f"read-{n}"
        if n % 4 == 0:
            rec["verification"].update(active="failed")
        if n % 5 == 0:
            rec["verification"].update(passive="ok", trust_path="csca")
        out.append(rec)
    return out


def test_signer_counts_follow_every_batch_and_the_retention(
    db_target: str, chain: pki.TestPki
) -> None:
    """The page's counts (kept as records arrive, not counted when it opens) are what a
    count of the stored records gives, batch after batch, and after old records go."""
    chains = [chain, pki.make_test_pki("p256", name="Other")]
    reads = _reads_of(chains)
    with WardDB(db_target) as db:
        db.store_many([opened(r) for r in reads[:5]])
        assert _shown(db) == _expected(reads[:5])
        db.store_many([opened(r) for r in reads[5:]] + [opened(reads[0])])  # one replayed
        assert _shown(db) == _expected(reads)
        rows = {r.sha256: r for r in db.signers()}
        assert {r.trust for r in rows.values()} == {""}  # the latest reads chain to nothing
        # the first five were received two hours ago; retention takes them out of the counts
        db._conn.execute(
            "UPDATE records SET received_at = received_at - 7200 WHERE record_id IN "
            "(?, ?, ?, ?, ?)",
            [r["record_id"] for r in reads[:5]],
        )
        assert len(db.purge_older_than(time.time() - 3600)) == 5
        assert _shown(db) == _expected(reads[5:])
        assert all(r.last_seen >= r.first_seen for r in db.signers())
        # a card of the purged ones read again counts again
        back = copy.deepcopy(reads[0])
        back["record_id"] = "read-again"
        db.store_many([opened(back)])
        assert _shown(db) == _expected([*reads[5:], back])


def test_the_trust_shown_is_the_latest_read_s(db_target: str, chain: pki.TestPki) -> None:
    with WardDB(db_target) as db:
        first = signed_record(chain, 1)
        first["verification"].update(passive="ok", trust_path="csca")
        db.store_many([opened(first)])
        assert db.signers()[0].trust == "csca"
        db.store_many([opened(signed_record(chain, 2))])  # no longer chains (CSCA removed)
        assert db.signers()[0].trust == ""


def test_concurrent_writers_count_each_card_once(db_target: str, chain: pki.TestPki) -> None:
    """Four connections race to store reads of the same cards (each its own record ids):
    every read counted, every card once (PostgreSQL: the card rows' upserts serialise)."""
    cards = [signed_record(chain, n) for n in range(30)]
    with WardDB(db_target):
        pass
    errors: list[BaseException] = []

    def writer(k: int) -> None:
        mine = []
        for n, rec in enumerate(cards[::-1] if k % 2 else cards):
            again = copy.deepcopy(rec)
            again["record_id"] = f"w{k}-{n}"
            mine.append(opened(again))
        try:
            with WardDB(db_target) as db:
                for i in range(0, len(mine), 10):
                    db.store_many(mine[i : i + 10])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    with WardDB(db_target) as db:
        ((cards_shown, stations, reads, _),) = _shown(db).values()
        assert (cards_shown, stations, reads) == (30, 1, 120)


def test_a_version_3_database_gets_its_counts(db_target: str, chain: pki.TestPki) -> None:
    """Schema 3 kept only the read rows: opening it counts them into the page's tables."""
    from station.ward.db import schema
    from station.ward.db.backend import connect
    from station.ward.db.records import INSERT, _row_of
    from station.ward.signers import seen_signer

    reads = _reads_of([chain, pki.make_test_pki("p256", name="Old")])
    conn = connect(db_target)
    with conn.transaction():
        for version in (1, 2, 3):
            schema.STEPS[conn.dialect][version](conn)
        conn.execute("UPDATE schema_version SET version = 3")
        for n, rec in enumerate(reads):
            item = opened(rec)
            (seq,) = conn.execute(
                INSERT, _row_of(rec, item.canonical, "c2ln", 1000.0 + n, None)
            ).fetchone()
            s = seen_signer(rec)
            assert s is not None
            conn.execute(
                "INSERT INTO signers (sha256, der, subject, issuer, serial, not_before, "
                "not_after, key_type, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, "
                "?, ?) ON CONFLICT (sha256) DO UPDATE SET last_seen = excluded.last_seen",
                (s.sha256, None, s.subject, s.issuer, s.serial, "", "", "", 1000.0, 1000.0 + n),
            )
            conn.execute(
                "INSERT INTO signer_reads (seq, signer, station_id, at, passive, active, "
                "chip_auth, trust_path) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (seq, s.sha256, rec["station_id"], 1000.0 + n, s.passive, s.active,
                 s.chip_auth, s.trust_path),
            )  # fmt: skip
    conn.close()
    with WardDB(db_target) as db:
        assert schema.current_version(db._conn) == schema.LATEST
        assert _shown(db) == _expected(reads)
        latest = {seen.sha256: seen.trust_path for r in reads if (seen := seen_signer(r))}
        assert {r.sha256: r.trust for r in db.signers()} == latest
        more = copy.deepcopy(reads[1])
        more["record_id"] = "after-the-upgrade"
        db.store_many([opened(more)])
        assert _shown(db) == _expected([*reads, more])
