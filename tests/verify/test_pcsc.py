"""The same verification through a real PC/SC stack (pyscard -> pcscd -> vpcd -> emulator)."""

from __future__ import annotations

from typing import Any

import pytest

from station.icao.access import AccessKeys
from station.icao.reader import ChipReader
from station.sim import pki
from station.sim.citizens import SyntheticCitizen
from station.sim.emulator import auth
from station.sim.emulator.card import EmulatedCard
from station.sim.emulator.files import build_profile
from station.verify.chip import verify_chip
from station.verify.verdict import Auth, Level
from tests.verify.support import qr_of, store_for

pytestmark = pytest.mark.pcsc


def _read(rig: Any, citizen: SyntheticCitizen, chain: pki.TestPki, **tamper: bool) -> Any:
    profile = build_profile(citizen, pki=chain, pace=False, aa_kind="rsa2048")
    card = EmulatedCard(auth.tamper(profile, **tamper) if tamper else profile)
    auth.install(card)
    rig.insert(card)
    transport = rig.transport()
    assert transport.wait_for_card(10)
    reader = ChipReader(transport, order="bac")
    return reader, reader.read(AccessKeys.from_qr(qr_of(citizen))), transport


@pytest.mark.parametrize(
    ("kind", "tamper", "expected"),
    [
        # CA passed: AA not needed (DG15 not read)
        ("brainpoolP256r1", {}, (Level.VERIFIED, Auth.SKIPPED, Auth.OK)),
        ("rsa-pss", {"wrong_aa_key": True}, (Level.VERIFIED, Auth.SKIPPED, Auth.OK)),
        # CA failed: the session opened again, DG15 read, AA run
        ("p256", {"wrong_ca_key": True}, (Level.FAILED, Auth.OK, Auth.FAILED)),
        (
            "rsa-pss",
            {"wrong_aa_key": True, "wrong_ca_key": True},
            (Level.FAILED,) + (Auth.FAILED,) * 2,
        ),
        # a clone: every signed file copied, DG14/DG15 (the keys) left out
        ("p256", {"clone": True}, (Level.FAILED, Auth.NOT_SUPPORTED, Auth.NOT_SUPPORTED)),
        # a document signer naming the installed CSCA, which never signed it
        (
            "brainpoolP256r1",
            {"forged_signer": True},
            (Level.FAILED, Auth.NOT_CHECKED, Auth.NOT_CHECKED),
        ),
    ],
)
def test_verify_over_pcsc(pcsc_rig, pkis, citizen, kind, tamper, expected) -> None:
    _, read, transport = _read(pcsc_rig, citizen, pkis[kind], **tamper)
    try:
        v = verify_chip(read, qr_of(citizen), store_for(pkis[kind]))
    finally:
        transport.close()
    assert (v.level, v.active, v.chip_auth) == expected, v.findings


def test_clone_and_forged_signer_reasons_over_pcsc(pcsc_rig, pkis, citizen) -> None:
    chain = pkis["p256"]
    verdicts = []
    for tamper in ({"clone": True}, {"forged_signer": True}):
        _, read, transport = _read(pcsc_rig, citizen, chain, **tamper)
        try:
            verdicts.append(verify_chip(read, qr_of(citizen), store_for(chain)))
        finally:
            transport.close()
    clone, forged = verdicts
    assert (clone.reason_code, clone.missing, clone.passive.value) == (
        "clone-suspected", (14, 15), "ok",
    )  # fmt: skip
    assert forged.reason_code == "bad-signature"
