"""The demo path end to end: simulated camera and chip, the real station code, a real
mosquitto on loopback, the ward receiver, and an independent MQTT subscriber."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from station.sim.broker import Broker
from station.sim.counter import CardKind
from station.sim.demo import DEMO_TOUR, run_demo, summary
from station.sim.tour import Step

pytestmark = pytest.mark.mqtt


class Subscriber:
    """A plain paho client on the broker's anonymous listener, collecting record messages."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.subscribed = threading.Event()
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-sub")
        self._client.on_connect = lambda c, u, f, rc, p: c.subscribe("cccd/+/records", qos=1)
        self._client.on_subscribe = lambda *a: self.subscribed.set()
        self._client.on_message = self._on_message

    def _on_message(self, client: Any, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        self.messages.append(json.loads(msg.payload))

    def attach(self, broker: Broker) -> None:
        self._client.connect("127.0.0.1", broker.plain_port)
        self._client.loop_start()
        assert self.subscribed.wait(10), "subscriber could not subscribe"

    def close(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()


def _run(tmp_path: Path, cards: int, mix: tuple[Step, ...], sub: Subscriber) -> Any:
    lines: list[str] = []
    report = asyncio.run(
        run_demo(
            cards,
            seed=7,
            out_dir=tmp_path / "out",
            terminal=True,
            out=lines.append,
            mix=mix,
            on_broker=sub.attach,
        )
    )
    return report, "\n".join(lines)


def test_n_cards_in_n_records_stored_published_and_acknowledged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sub = Subscriber()
    mix: tuple[CardKind, ...] = ("good", "foreign-qr", "stripped-clone", "untrusted")
    try:
        report, printed = _run(tmp_path, 4, mix, sub)
    finally:
        sub.close()
    ids = [r["record_id"] for r in report.records]
    assert len(ids) == 4 and len(set(ids)) == 4
    # Every record reached the ward (stored there, acknowledged back: outbox drained).
    assert report.delivered == set(ids)
    # An independent subscriber saw the same record ids, signed envelopes.
    items = [item for m in sub.messages for item in m["items"]]
    assert {item["record"]["record_id"] for item in items} == set(ids)
    assert all(m["station_id"] == "demo-01" for m in sub.messages)
    assert all(item["sig"] for item in items)
    by_kind = dict(zip(mix, report.records, strict=True))
    assert by_kind["good"]["verification"]["level"] == "verified"
    assert by_kind["good"]["source"] == "qr+chip"
    assert by_kind["foreign-qr"]["status"] == "unrecognised"
    assert by_kind["untrusted"]["verification"]["passive"] == "untrusted-signer"
    stripped = by_kind["stripped-clone"]["verification"]
    assert (stripped["level"], stripped["missing"]) == ("failed", ["DG14", "DG15"])
    # The OLED was drawn as PNGs and in the terminal (half blocks).
    assert len(list(report.screens_dir.glob("*.png"))) >= 8
    # (half blocks in a 128-column terminal, Braille dots in a narrower one)
    assert any(ch in printed for ch in "▀▄█") or any("\u2800" < ch <= "\u28ff" for ch in printed)
    # Privacy: no name or ID number of any citizen in the logs or the printed output.
    text = caplog.text + printed
    for record in report.records:
        citizen = record.get("citizen") or {}
        for key in ("full_name", "id_number", "old_id_number"):
            if citizen.get(key):
                assert citizen[key] not in text, f"{key} leaked into logs/output"


def test_smudged_qr_gives_a_screen_a_log_line_and_a_record(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    sub = Subscriber()
    try:
        report, _ = _run(tmp_path, 2, ("smudged-qr", "good"), sub)
    finally:
        sub.close()
    smudged, good = report.records
    assert smudged["status"] == "no-qr" and smudged["citizen"] is None
    assert [e["code"] for e in smudged["errors"]] == ["qr_unreadable"]
    assert good["status"] == "ok"
    assert report.delivered == {smudged["record_id"], good["record_id"]}
    assert report.steps[0].shown == ["Không đọc được QR"]
    assert "cannot be decoded" in caplog.text


# What the officer sees and the ward gets for each step of the tour.
TOUR = {
    "good": ("Hợp lệ: Thẻ thật, dữ liệu khớp", "ok/qr+chip/verified"),
    "smudged-qr": ("Không đọc được QR", "no-qr/qr/- (qr_unreadable)"),
    "mismatch": ("Không hợp lệ: QR không khớp chip", "ok/qr+chip/failed"),
    "untrusted": ("Cần xem lại: Chưa cài chứng thư gốc", "ok/qr+chip/signed-untrusted"),
    "cloned": ("Không hợp lệ: Chip giả hoặc bị sao chép", "ok/qr+chip/failed"),
    "locked": ("Chip từ chối mở", "ok/qr/qr-only (chip_refused_keys)"),
    "foreign-qr": ("Mã QR lạ", "unrecognised/qr/- (unrecognised_payload)"),
    "card2024-front": ("Không thấy mã QR", None),
    "card2024": ("Hợp lệ: Thẻ thật", "mrz+chip/verified"),  # its MRZ opened the chip
    "back2021": ("Hợp lệ: Thẻ thật", "no-qr/mrz+chip/verified"),
    "qr-only": ("Cần xem lại: Không thấy chip", "no_chip)"),
    "moved": ("Thẻ bị dịch ra -> Hợp lệ", "ok/qr+chip/verified"),
    "other-can": ("Hợp lệ: Thẻ thật", "ok/qr+chip/verified"),
    "reader-unplugged": ("Mất đầu đọc chip -> Cần xem lại: Mất đầu đọc", "(reader_error)"),
    "camera-failed": ("Camera không chạy", None),
    "store-full": ("Bộ nhớ đầy -> read refused", None),
    "clock-not-set": ("Đồng hồ chưa đúng -> read refused", None),
}


@pytest.mark.slow
def test_the_tour_shows_every_case_the_readme_lists(tmp_path: Path) -> None:
    from station.sim.tour import record_line

    assert set(DEMO_TOUR) == set(TOUR)
    sub = Subscriber()
    try:
        report, _ = _run(tmp_path, len(DEMO_TOUR), DEMO_TOUR, sub)
    finally:
        sub.close()
    for seen in report.steps:
        screen, record = TOUR[seen.step]
        assert screen in " -> ".join(seen.shown), (seen.step, seen.shown)
        lines = [record_line(r) for r in seen.records]
        if record is None:
            assert not lines, (seen.step, lines)
        else:
            assert len(lines) == 1 and record in lines[0], (seen.step, lines)
    text = "\n".join(summary(report))
    for kind in TOUR:
        assert f"  {kind} " in text
    assert report.delivered == {r["record_id"] for r in report.records}
    assert f"{len(report.records)} records stored, {len(report.records)} delivered" in text


def test_ctrl_c_prints_the_summary(tmp_path: Path) -> None:
    """SIGINT after the first record: the summary, exit 130, no traceback, no broker noise."""
    import signal
    import subprocess
    import sys

    script = Path(sys.executable).with_name("station")
    proc = subprocess.Popen(
        [script, "demo", "--no-terminal", "--out", str(tmp_path / "out")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if "-> record" in line:
            proc.send_signal(signal.SIGINT)
            break
    rest, _ = proc.communicate(timeout=60)
    text = "".join(lines) + rest
    assert proc.returncode == 130, text
    assert "(stopped by Ctrl-C)" in text and "records stored" in text
    assert "Traceback" not in text and "Unspecified error" not in text
