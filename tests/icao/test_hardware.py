"""A real reader and a real card (Pi / bench only): `pytest -m hardware` with
STATION_HW_QR set to the test card's QR text (and STATION_HW_READER to pick a reader)."""

from __future__ import annotations

import os

import pytest

from station.icao.access import AccessKeys
from station.icao.reader import ChipReader
from station.qr.payload import parse_payload

pytestmark = [pytest.mark.hardware, pytest.mark.timeout(60)]


@pytest.mark.skipif(not os.environ.get("STATION_HW_QR"), reason="STATION_HW_QR not set")
def test_real_card_reads_and_matches_its_qr() -> None:
    from station.drivers.card_pcsc import PcscTransport

    qr = parse_payload(os.environ["STATION_HW_QR"])
    assert qr.identity is not None
    transport = PcscTransport(os.environ.get("STATION_HW_READER", ""))
    try:
        assert transport.wait_for_card(20), "no card on the reader"
        result = ChipReader(transport, timeout_s=30).read(AccessKeys.from_qr(qr.identity))
    finally:
        transport.close()
    assert result.citizen["id_number"] == qr.identity.id_number
    assert result.mrz is not None and result.mrz.valid
