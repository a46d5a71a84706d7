"""Fleet trust end to end: a real mosquitto, the ward receiver, the console in a real
Chromium, and two simulated stations (outbox, publisher and trust bundle installer as
``station run`` wires them; cards read through the emulator and verified with the
station's trust store).

A document signer seen by both stations shows up with its counts; the admin approves it
after the method-4 check; both stations' next reads of its cards are "verified" with
trust_path "pinned-ds" (the one that was off during the push gets the retained bundle
when it reconnects); bundles signed by another key, older, truncated or with a bad CRL
are refused and the old trust stays; revoking the pinned DS turns the next read amber.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from station import config
from station.audit import AuditLog
from station.drivers.card_sim import EmulatorTransport
from station.icao.access import AccessKeys
from station.icao.reader import ChipReader
from station.qr.payload import parse_payload
from station.record import build_record
from station.runtime.trust import TrustCache, bundle_dir, bundle_installer
from station.sim import pki
from station.sim.citizens import generate_many
from station.sim.emulator import auth
from station.sim.emulator.card import EmulatedCard
from station.sim.emulator.files import build_profile
from station.sim.loopback import LoopbackWard
from station.sync.outbox import Outbox
from station.sync.publisher import Publisher
from station.verify.bundle import load_installed, seal_bundle
from station.verify.chip import verify_chip
from tests.support import wait_for
from tests.sync.support import STATION
from tests.ward.support import ADMIN, Served, bundle_messages, publish_retained, serve_console
from tests.ward.test_console_browser import DOCS, UPDATE, Page

pytestmark = [pytest.mark.browser, pytest.mark.mqtt]

SECOND = "station-2"


@dataclass
class SimStation:
    """A station's sync side and its verification, as ``station run`` wires them."""

    cfg: config.Config
    outbox: Outbox
    audit: AuditLog
    publisher: Publisher | None = None

    def connect(self) -> None:
        on_trust = bundle_installer(self.cfg, self.audit)
        assert on_trust is not None  # the ward key is pinned
        self.publisher = Publisher.from_config(self.cfg, self.outbox, on_trust=on_trust).start()

    def disconnect(self) -> None:
        if self.publisher is not None:
            self.publisher.stop()
            self.publisher = None

    def bundle_version(self) -> int:
        from station.runtime.trust import ward_key

        installed = load_installed(bundle_dir(self.cfg), ward_key(self.cfg))
        return 0 if installed is None else installed.version

    def read(self, chain: pki.TestPki, seed: int) -> dict[str, Any]:
        """Read a card signed by ``chain`` and store its record (as the chip worker)."""
        (citizen,) = generate_many(seed, 1)
        card = EmulatedCard(build_profile(citizen, pki=chain, pace=False))
        auth.install(card)
        qr = parse_payload(citizen.qr_payload())
        assert qr.identity is not None
        read = ChipReader(EmulatorTransport(card), order="bac").read(
            AccessKeys.from_qr(qr.identity)
        )
        verification = verify_chip(read, qr.identity, TrustCache(self.cfg).store())
        record = build_record(qr, station_id=self.cfg.station.id, chip=read,
                              verification=verification)  # fmt: skip
        self.outbox.append(record)
        return record

    def audit_events(self) -> list[tuple[str, str]]:
        return [(e["event"], e["outcome"]) for e in self.audit.read() if "trust" in e["event"]]


@pytest.fixture
def fleet(
    tmp_path: Path, station_cfg: config.Config
) -> Iterator[tuple[LoopbackWard, Served, list[SimStation]]]:
    with LoopbackWard(tmp_path / "ward") as ward:
        console = serve_console(str(ward.db_path))
        stations = []
        for name in (STATION, SECOND):
            cfg = config.replace(station_cfg, "station", id=name,
                                 data_dir=str(tmp_path / name))  # fmt: skip
            cfg = ward.attach(cfg)
            audit = AuditLog(cfg.audit_path)
            stations.append(SimStation(cfg, Outbox.from_config(cfg, audit=audit), audit))
        for s in stations:
            s.connect()
        try:
            yield ward, console, stations
        finally:
            for s in stations:
                s.disconnect()
                s.outbox.close()
            console.stop()


def _publish_as_ward(ward: LoopbackWard, payload: bytes, version: int = 9) -> None:
    """Someone holding the ward's broker account publishes a bundle (retained: its parts,
    then its head)."""
    messages = bundle_messages(payload, _ward_private_key(ward), version=version)
    publish_retained(ward.broker.link_settings("ward", client_id="ward-tester"), messages)


def test_a_signer_approved_once_trusted_by_every_station(
    browser: Any, fleet: tuple[LoopbackWard, Served, list[SimStation]], tmp_path: Path
) -> None:
    ward, console, (first, second) = fleet
    chain = pki.make_test_pki("p256", name="Fleet")
    # -- both stations read cards of one signer the ward has never seen -------------------
    for n, station in enumerate((first, second)):
        record = station.read(chain, seed=100 + n)
        assert record["verification"]["level"] == "signed-untrusted"
        assert record["verification"]["trust_path"] is None
    ward.wait_for(2, timeout=15)
    with ward.db() as db:
        (signer,) = db.signers()
        assert (signer.cards, signer.stations) == (2, 2)
        assert [a.kind for a in db.alerts()] == ["signer-unapproved"]
    second.disconnect()  # off while the admin approves
    # -- the admin approves it in the console (real Chromium) ----------------------------
    shots = tmp_path / "shots"
    shots.mkdir()
    page = Page(browser, console.url, shots)
    page.login(ADMIN)
    page.go("/admin/trust")
    row = f"#signer-{signer.sha256[:16]}"
    page.wait(row, "Chưa tin cậy")
    page.find(f"{row} input[name=checked]").click()
    page.type(f"{row} input[name=note]", "HS-2026-0042")
    page.find(f"{row} form.approve button").click()
    page.wait(f"{row} .trust-pinned", "DS được ghim")
    page.shot("trust")
    if UPDATE:
        (DOCS / "trust.png").write_bytes((shots / "trust.png").read_bytes())
    # -- the online station gets the bundle; its next read is verified -------------------
    wait_for(lambda: first.bundle_version() == 1, 15, "bundle v1 on the first station")
    again = first.read(chain, seed=102)
    assert again["verification"]["level"] == "verified", again["verification"]
    assert again["verification"]["trust_path"] == "pinned-ds"
    # -- the one that was off gets the retained bundle when it reconnects -----------------
    assert second.bundle_version() == 0
    second.connect()
    wait_for(lambda: second.bundle_version() == 1, 15, "bundle v1 on reconnect")
    assert second.read(chain, seed=103)["verification"]["trust_path"] == "pinned-ds"
    assert ("trust-bundle", "installed v1: 0 CSCA, 1 pinned DS, 0 CRL") in second.audit_events()
    # -- bad bundles are refused and the old trust stays -----------------------------------
    stranger = pki.make_test_pki("p256", name="Stranger")
    ward_key = _ward_private_key(ward)
    bad = [
        seal_bundle(9, pinned_ds=[stranger.dsc_der], key=Ed25519PrivateKey.generate()),
        seal_bundle(1, pinned_ds=[stranger.dsc_der], key=ward_key),  # not newer
        seal_bundle(9, pinned_ds=[stranger.dsc_der], key=ward_key)[:-30],
        seal_bundle(9, cscas=[chain.csca_der], crls=[stranger.crl_der], key=ward_key),
    ]
    ward.stop_receiver()  # else it would put its own bundle back at once (a repair)
    for payload, version in zip(bad, (9, 1, 9, 9), strict=True):
        before = len(first.audit_events())
        _publish_as_ward(ward, payload, version)
        wait_for(lambda b=before: len(first.audit_events()) > b, 15, "the refusal audited")  # type: ignore[misc]
        assert first.audit_events()[-1][0] == "trust-bundle-refused"
        assert first.bundle_version() == 1
    assert first.read(chain, seed=104)["verification"]["trust_path"] == "pinned-ds"
    # -- the ward back: the last one retained (v9) is signed with its key, so it
    # continues above it, with its own approved set ------------------------------------
    ward.start_receiver()
    wait_for(lambda: first.bundle_version() == 10, 15, "bundle v10 on the first station")
    assert first.read(chain, seed=106)["verification"]["trust_path"] == "pinned-ds"
    # -- revoking the pinned DS turns the next read amber ----------------------------------
    page.go("/admin/trust")
    page.find(f"#trust-{signer.sha256[:16]} button.danger").click()
    page.wait(row, "Chưa tin cậy")
    wait_for(lambda: first.bundle_version() == 11, 15, "bundle v11 on the first station")
    amber = first.read(chain, seed=105)["verification"]
    assert amber["level"] == "signed-untrusted" and amber["trust_path"] is None
    with ward.db() as db:
        actions = [a.action for a in db.audit_log()]
    assert "trust-pin-ds" in actions and "trust-remove" in actions


def _ward_private_key(ward: LoopbackWard) -> Ed25519PrivateKey:
    from station.sync.signing import WARD_KEY_NAME, load_ward_key

    return load_ward_key(ward.db_path.with_name(WARD_KEY_NAME))
