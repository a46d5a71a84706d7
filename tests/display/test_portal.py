"""The idle screen's QR code to the citizens' lookup: a phone (zxing) reads it off the panel."""

from __future__ import annotations

import numpy as np
import zxingcpp
from PIL import Image

from station.config import PORTAL_URL, Config
from station.display import portal
from station.display.layout import MatrixOp
from station.display.render import layout, render
from station.display.screens import Denied, IdleScreen, ResultScreen, Verdict
from station.flow import Settings, initial, screen_for


def _decoded(screen: IdleScreen) -> list[str]:
    frame = render(screen).convert("L").resize((512, 256), Image.Resampling.NEAREST)
    found = zxingcpp.read_barcodes(np.asarray(frame), formats=zxingcpp.BarcodeFormat.QRCode)
    return [r.text for r in found]


def test_the_default_lookup_address_scans_off_the_idle_screen() -> None:
    assert Config().ui.portal_url == PORTAL_URL
    assert _decoded(IdleScreen(portal=PORTAL_URL)) == [PORTAL_URL.upper()]  # host only
    assert portal.fits(PORTAL_URL) and portal.side(PORTAL_URL) <= 64


def test_a_path_keeps_its_case_and_a_long_url_is_not_shown() -> None:
    url = "https://example.org/Tra-Cuu?x=1"
    assert _decoded(IdleScreen(portal=url)) == [url]
    long = "https://example.org/" + "a" * 60
    assert not portal.fits(long)
    assert not any(isinstance(op, MatrixOp) for op in layout(IdleScreen(portal=long)).ops)
    assert _decoded(IdleScreen()) == []  # off


def test_an_alert_for_the_officer_wins_over_the_code() -> None:
    """Records refused, waiting past the alert age, or refused by the broker: the idle
    screen is the officer's then, the portal code is not drawn."""
    alerts = [
        IdleScreen(refused=3, portal=PORTAL_URL),
        IdleScreen(stale_min=26 * 60, portal=PORTAL_URL),
        IdleScreen(denied=Denied("station-02", "station-01"), portal=PORTAL_URL),
    ]
    for screen in alerts:
        assert not any(isinstance(op, MatrixOp) for op in layout(screen).ops), screen
        assert _decoded(screen) == []
        assert "IT" in " ".join(getattr(op, "text", "") for op in layout(screen).ops)


def test_only_the_idle_screen_carries_it() -> None:
    from station.config import from_mapping

    settings = Settings.from_config(from_mapping({}))
    state, _ = initial(settings)
    assert screen_for(state) == IdleScreen(portal=PORTAL_URL)
    result = ResultScreen(Verdict.VERIFIED, "Thẻ thật, dữ liệu khớp", None)
    assert not any(isinstance(op, MatrixOp) for op in layout(result).ops)
    off = Settings.from_config(from_mapping({"ui": {"portal_url": ""}}))
    assert screen_for(initial(off)[0]) == IdleScreen()


def test_no_text_reaches_into_the_code() -> None:
    from station.display.layout import TextOp, text_box
    from station.display.screens import SyncLink

    for screen in (
        IdleScreen(SyncLink.CONNECTING, 99999, portal=PORTAL_URL),
        IdleScreen(SyncLink.DISABLED, 100000, chip=False, portal=PORTAL_URL),
        IdleScreen(SyncLink.OFFLINE, 100000, portal=PORTAL_URL),
    ):
        ops = layout(screen).ops
        (code,) = [op for op in ops if isinstance(op, MatrixOp)]
        for op in ops:
            if isinstance(op, TextOp):
                assert text_box(op)[2] < code.x, (screen, op.text)
