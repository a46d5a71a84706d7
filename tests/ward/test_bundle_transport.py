"""The trust bundle's transport against a real mosquitto (the suite's test broker with its
ACL), the ward receiver and a station's sync side as ``station run`` wires it (outbox,
publisher, the bundle feed installing into ``<data_dir>/trust-bundle``).

- the German master list (588 CSCAs, ~1.2 MB as a bundle: more than one MQTT message)
  installed at the ward reaches the station in parts, and ``station trust list`` shows
  its anchors;
- a part missing, corrupted or of another version leaves the old trust; the right part
  completes the bundle; parts of a replaced version are cleared by the ward;
- a garbage retained head (and part) is replaced by the ward, once, and a stray part of
  another version cleared;
- a new ward database with the same ward key publishes a version above the one the
  stations hold (never one they would refuse), and a replayed older bundle is refused.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from station import config
from station.audit import AuditLog
from station.cli import main
from station.runtime.trust import BundleFeed, bundle_dir, bundle_installer, ward_key
from station.sim import pki
from station.sim.loopback import LoopbackWard
from station.sync.outbox import Outbox
from station.sync.publisher import Publisher
from station.sync.signing import WARD_KEY_NAME, load_ward_key
from station.verify.bundle import PART_BYTES, load_installed, seal_bundle, split_bundle
from station.ward.db import TrustItem
from station.ward.trust import parse_upload
from tests.support import wait_for
from tests.sync.support import RawClient
from tests.verify.support import REFERENCE
from tests.ward.support import bundle_messages, publish_retained

pytestmark = pytest.mark.mqtt

BASE = "cccd/trust/bundle"


@dataclass
class Box:
    """A station's sync side and its trust, as ``station run`` wires them."""

    cfg: config.Config
    outbox: Outbox
    audit: AuditLog
    feed: BundleFeed
    publisher: Publisher | None = None

    def start(self) -> None:
        self.publisher = Publisher.from_config(self.cfg, self.outbox, on_trust=self.feed).start()

    def stop(self) -> None:
        if self.publisher is not None:
            self.publisher.stop()
            self.publisher = None

    def version(self) -> int:
        installed = load_installed(bundle_dir(self.cfg), ward_key(self.cfg))
        return 0 if installed is None else installed.version

    def events(self) -> list[tuple[str, str]]:
        return [(e["event"], e["outcome"]) for e in self.audit.read() if "trust" in e["event"]]


@pytest.fixture
def chain() -> pki.TestPki:
    return pki.make_test_pki("p256", name="Transport")


@pytest.fixture
def ward_and_box(tmp_path: Path, station_cfg: config.Config) -> Iterator[tuple[LoopbackWard, Box]]:
    with LoopbackWard(tmp_path / "ward") as ward:
        cfg = ward.attach(station_cfg)
        audit = AuditLog(cfg.audit_path)
        feed = bundle_installer(cfg, audit)
        assert feed is not None  # the ward key is pinned
        box = Box(cfg, Outbox.from_config(cfg, audit=audit), audit, feed)
        box.start()
        try:
            yield ward, box
        finally:
            box.stop()
            box.outbox.close()


def _ward_key(ward: LoopbackWard) -> Ed25519PrivateKey:
    return load_ward_key(ward.db_path.with_name(WARD_KEY_NAME))


def _approve(ward: LoopbackWard, *items: TrustItem) -> None:
    with ward.db() as db:
        assert db.add_trust(list(items))


def _pinned(chain: pki.TestPki, n: int = 0) -> TrustItem:
    return TrustItem(f"{n:064x}", "pinned-ds", chain.dsc_der, "DS", "quantri", 0.0, "test")


def _as_ward(ward: LoopbackWard, client_id: str) -> RawClient:
    return RawClient(ward.broker.link_settings("ward", client_id=client_id))


def _ward_publish(ward: LoopbackWard, messages: list[tuple[str, bytes]]) -> None:
    """Someone holding the ward's broker account publishes ``messages`` retained."""
    publish_retained(ward.broker.link_settings("ward", client_id="ward-tester"), messages)


def test_the_german_master_list_reaches_a_station_in_parts(
    ward_and_box: tuple[LoopbackWard, Box], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ward, box = ward_and_box
    german = (REFERENCE / "de-masterlist" / "DE_ML_2026-05-28-08-28-45.ml").read_bytes()
    with ward.db() as db:
        items, _ = parse_upload(german, "DE.ml", "quantri", db.trust_items())
        db.add_trust(items)
    wait_for(lambda: box.version() == 1, 60, "the German list installed on the station")
    installed = load_installed(bundle_dir(box.cfg), ward_key(box.cfg))
    assert installed is not None and len(installed.cscas) == len(items) > 500
    assert len(installed.payload) > 1024 * 1024  # more than one MQTT message holds
    assert ("trust-bundle", f"installed v1: {len(items)} CSCA, 0 pinned DS, 0 CRL") in (
        box.events()
    )
    watcher = _as_ward(ward, "watcher")
    try:
        watcher.client.subscribe([(BASE, 1), (f"{BASE}/1/+", 1)])
        wait_for(lambda: len(watcher.messages) >= 4, 10, "the retained head and parts")
        retained = dict(watcher.messages)
        head = json.loads(retained[BASE])
        assert len(head["parts"]) == len(retained) - 1 >= 3
        assert all(len(retained[f"{BASE}/1/{n}"]) <= PART_BYTES for n in range(3))
    finally:
        watcher.close()
    path = tmp_path / "station.toml"
    path.write_text(
        f'[station]\ndata_dir = "{box.cfg.data_dir}"\n'
        f'[trust]\ndir = "{tmp_path / "local-trust"}"\n'
        f'[mqtt]\nward_key = "{box.cfg.mqtt.ward_key}"\n',
        encoding="utf-8",
    )
    capsys.readouterr()
    assert main(["trust", "list", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"{len(items)} certificate(s), 0 CRL(s)" in out
    assert out.count("ward bundle v1") == len(items)
    assert "Country Signing Authority" in out


def test_missing_corrupted_or_foreign_parts_leave_the_old_trust(
    ward_and_box: tuple[LoopbackWard, Box], chain: pki.TestPki
) -> None:
    ward, box = ward_and_box
    _approve(ward, _pinned(chain))
    wait_for(lambda: box.version() == 1, 15, "bundle v1 on the station")
    ward.stop_receiver()  # else it would put its own bundle back at once (a repair)
    key = _ward_key(ward)
    v5 = seal_bundle(5, cscas=[chain.csca_der], crls=[chain.crl_der], key=key)
    head, parts = split_bundle(v5, key, part_bytes=400)
    assert len(parts) >= 3
    _, v6_parts = split_bundle(seal_bundle(6, cscas=[chain.csca_der], key=key), key, 400)
    # -- a part missing: the station waits, with its old trust --------------------------
    _ward_publish(ward, [(f"{BASE}/5/{n}", p) for n, p in enumerate(parts) if n != 1])
    _ward_publish(ward, [(BASE, head)])
    wait_for(lambda: box.feed.collector.progress == (5, len(parts) - 1, len(parts)), 15,
             "every part but one collected")  # fmt: skip
    assert box.version() == 1
    # -- that part corrupted, then one of another version in its place ------------------
    for n, wrong in enumerate((parts[1][:-1] + b"X", v6_parts[1][: len(parts[1])])):
        _ward_publish(ward, [(f"{BASE}/5/1", wrong)])
        wait_for(lambda n=n: len(box.events()) == 2 + n, 15, "the refusal audited")  # type: ignore[misc]
        assert box.events()[-1] == ("trust-bundle-refused", "part 1 of bundle v5 is not the "
                                    "one its head lists")  # fmt: skip
        assert box.version() == 1
    # -- a part under another version's topic is not even delivered; the right one is ---
    _ward_publish(ward, [(f"{BASE}/6/1", v6_parts[1]), (f"{BASE}/5/1", parts[1])])
    wait_for(lambda: box.version() == 5, 15, "bundle v5 installed once whole")
    assert box.events()[-1] == ("trust-bundle", "installed v5: 1 CSCA, 0 pinned DS, 1 CRL")
    assert box.feed.collector.progress is None
    # -- the ward back: v5 bears its key, so it continues above it with its own set, and
    # clears the parts of v5 and v6 ------------------------------------------------------
    watcher = _as_ward(ward, "watcher")
    try:
        watcher.client.subscribe([(f"{BASE}/5/+", 1), (f"{BASE}/6/+", 1)])
        wait_for(lambda: len(watcher.messages) == len(parts) + 1, 10, "the retained parts")
        ward.start_receiver()
        wait_for(lambda: box.version() == 6, 15, "the ward's own set as v6")
        wait_for(lambda: len({t for t, p in watcher.messages if p == b""}) == len(parts) + 1,
                 15, "parts of v5 cleared (and the stray v6/1)")  # fmt: skip
    finally:
        watcher.close()
    installed = load_installed(bundle_dir(box.cfg), ward_key(box.cfg))
    assert installed is not None and [a.der for a in installed.pinned] == [chain.dsc_der]


def test_a_garbage_retained_head_is_replaced_by_the_ward(
    ward_and_box: tuple[LoopbackWard, Box], chain: pki.TestPki
) -> None:
    ward, box = ward_and_box
    _approve(ward, _pinned(chain))
    wait_for(lambda: box.version() == 1, 15, "bundle v1 on the station")
    with ward.db() as db:
        latest = db.latest_bundle()
    assert latest is not None
    head, (part,) = split_bundle(latest[1], _ward_key(ward))
    receiver = ward.receiver
    assert receiver is not None and receiver._bundles.repairs == 0
    watcher = _as_ward(ward, "watcher")
    try:
        watcher.client.subscribe([(BASE, 1), (f"{BASE}/1/0", 1), (f"{BASE}/0/3", 1)])
        wait_for(lambda: len(watcher.messages) == 2, 10, "the retained head and part")
        _ward_publish(ward, [(BASE, b"garbage"), (f"{BASE}/1/0", b"junk"),
                             (f"{BASE}/0/3", b"a stray part")])  # fmt: skip

        def last() -> dict[str, bytes]:
            return dict(watcher.messages)

        wait_for(lambda: last() == {BASE: head, f"{BASE}/1/0": part, f"{BASE}/0/3": b""}, 20,
                 "the ward's head and part back, the stray part cleared")  # fmt: skip
        assert receiver._bundles.repairs == 3  # once each: its own publish is no reason
    finally:
        watcher.close()
    assert ("trust-bundle-refused", "bundle head is not JSON (truncated?)") in box.events()
    assert box.version() == 1


def test_a_new_ward_database_with_the_same_key_continues_above_the_stations(
    ward_and_box: tuple[LoopbackWard, Box], chain: pki.TestPki
) -> None:
    ward, box = ward_and_box
    watcher = _as_ward(ward, "watcher")  # sees every part published or cleared
    watcher.client.subscribe([(f"{BASE}/+/+", 1)])
    wait_for(lambda: watcher.subacks, 10, "the watcher subscribed")
    for n in range(3):
        _approve(ward, _pinned(chain, n))
        wait_for(lambda n=n: box.version() == n + 1, 15, f"bundle v{n + 1} on the station")  # type: ignore[misc]
    with ward.db() as db:
        old = db.latest_bundle()
    assert old is not None and old[0] == 3
    # -- the ward's database is lost; a new one (same ward key) gets one approval before
    # the receiver starts: it reads the retained v3 first and publishes v4, never v1 ----
    ward.stop_receiver()
    gone = ward.workdir / "lost"
    gone.mkdir()
    for path in ward.workdir.glob("ward.sqlite*"):
        shutil.move(path, gone / path.name)
    _approve(ward, _pinned(chain))
    ward.start_receiver()
    wait_for(lambda: box.version() == 4, 15, "bundle v4 from the new database")
    assert not any(e == "trust-bundle-refused" for e, _ in box.events())
    # each version's parts were cleared when the next replaced it (v3's by the new ward)
    old_parts = [f"{BASE}/{v}/0" for v in (1, 2, 3)]
    try:
        wait_for(lambda: all(dict(watcher.messages).get(t) == b"" for t in old_parts), 15,
                 "the parts of v1, v2 and v3 cleared")  # fmt: skip
        assert dict(watcher.messages)[f"{BASE}/4/0"] != b""
    finally:
        watcher.close()
    with ward.db() as db:
        assert (db.trust_revision(), db.bundle_version_offset()) == (1, 3)
    # -- a replayed older bundle is still refused (and the ward puts its own back) -----
    _ward_publish(ward, bundle_messages(old[1], _ward_key(ward)))
    wait_for(lambda: ("trust-bundle-refused", "bundle v3 is not newer than the installed v4")
             in box.events(), 15, "the replay refused")  # fmt: skip
    assert box.version() == 4


def test_the_ward_repairs_once_per_interval_and_never_on_its_own_echo(
    tmp_path: Path, chain: pki.TestPki
) -> None:
    """BundleSender's rules without a broker, on an explicit clock: nothing before the
    marker is back (or its wait is over), the bundle once, its own echo no reason to
    publish again, garbage repaired at most once per interval (doubling), strays cleared."""
    from station.ward.db import WardDB
    from station.ward.trust import BundleSender

    key = Ed25519PrivateKey.generate()
    sender = BundleSender(key)
    with WardDB(tmp_path / "ward.sqlite") as db:
        db.add_trust([_pinned(chain)])
        sender.reset(now=0.0)
        assert sender.due(db, 1.0) == []  # the marker has not come back yet
        sender.heard(f"{BASE}/0/7", b"an old part")  # retained before the marker
        sender.heard(*sender.marker())
        sender.heard(BASE + "/sync", b"another receiver's marker")  # not ours: ignored
        sent = sender.due(db, 1.0)
        assert [t for t, _ in sent] == [f"{BASE}/1/0", BASE, f"{BASE}/0/7"]
        assert sent[-1][1] == b""  # the old part cleared
        for name, payload in sent:
            sender.sent(name, 1.0)
            sender.heard(name, payload)  # the broker's echo
        assert sender.due(db, 10.0) == [] and sender.repairs == 0
        head = dict(sent)[BASE]
        sender.heard(BASE, b"garbage")
        assert sender.due(db, 2.0) == []  # within the grace after its own publish
        assert sender.due(db, 3.5) == [(BASE, head)]
        assert sender.due(db, 4.0) == []  # the echo has not come yet: not again so soon
        sender.heard(BASE, head)
        assert sender.due(db, 5.0) == []
        for now, expected in ((6.0, []), (8.6, [(BASE, head)]), (15.0, []), (18.7, [(BASE, head)])):
            sender.heard(BASE, b"garbage again")  # keeps coming back: 5 s, then 10 s
            assert sender.due(db, now) == expected, now
        assert sender.repairs == 3
    other = BundleSender(key)  # a receiver whose marker never comes back (an old ACL)
    with WardDB(tmp_path / "ward.sqlite") as db:
        other.reset(now=0.0)
        assert other.due(db, 9.0) == []
        assert [t for t, _ in other.due(db, 10.5)] == [f"{BASE}/1/0", BASE]
        other.heard(BASE, b"garbage")
        assert other.due(db, 100.0) == []  # it cannot see what is retained: no repair
