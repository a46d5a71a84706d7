"""An officer's day in a real Chromium, against the console with a real mosquitto, the
ward receiver and a simulated station (its outbox and publisher): log in, a read arrives
on the counter page, copy, link a dossier, print, manual entry (a bad ID refused), search
without diacritics, export, log out; then the admin's pages.

Each page is saved as a PNG; ``UPDATE_REFERENCE=1`` writes them to ``docs/console/`` (the
README shows them) along with the printed sheet rendered by poppler.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from station import config
from station.sim.loopback import LoopbackWard
from station.sync.outbox import Outbox
from station.sync.publisher import Publisher
from station.ward.console.present import view_of
from station.ward.db import WardDB
from tests.support import wait_for
from tests.sync.support import STATION, make_records
from tests.ward.support import ADMIN, OFFICER, Served, a_man, chip_record, named, serve_console

pytestmark = [pytest.mark.browser, pytest.mark.mqtt]

DOCS = Path(__file__).resolve().parents[2] / "docs" / "console"
UPDATE = os.environ.get("UPDATE_REFERENCE") == "1"
ARRIVAL_S = 5.0  # the test's bound; bench/console.py measures the real latency (p95 < 1 s)
PAGES = ("login", "counters", "counter", "record", "manual", "search", "sheet", "stations",
         "users", "retention", "audit")  # fmt: skip


class Page:
    """The browser, with the few steps the test repeats."""

    def __init__(self, driver: Any, base: str, shots: Path) -> None:
        from selenium.webdriver.common.by import By

        self.d = driver
        self.base = base
        self.shots = shots
        self.by = By

    def go(self, path: str) -> None:
        self.d.get(self.base + path)

    def find(self, css: str) -> Any:
        return self.d.find_element(self.by.CSS_SELECTOR, css)

    def all(self, css: str) -> list[Any]:
        return list(self.d.find_elements(self.by.CSS_SELECTOR, css))

    def wait(self, css: str, text: str = "", timeout: float = 10.0) -> Any:
        from selenium.common.exceptions import StaleElementReferenceException

        hits: list[Any] = []

        def found() -> bool:
            try:  # the live view may swap the element out while it is read
                hits[:] = [e for e in self.all(css) if text in e.text]
            except StaleElementReferenceException:
                hits.clear()
            return bool(hits)

        wait_for(found, timeout, f"{css} with {text!r}")
        return hits[0]

    def type(self, css: str, text: str) -> None:
        box = self.find(css)
        box.clear()
        box.send_keys(text)

    def login(self, who: tuple[str, str, str]) -> None:
        self.go("/login")
        self.type("#username", who[0])
        self.type("#password", who[2])
        self.find("#login").click()
        wait_for(lambda: "/login" not in self.d.current_url, 10, "logged in")

    def shot(self, name: str) -> None:
        """A full-page PNG (beyond the window's height)."""
        height = self.d.execute_script("return document.documentElement.scrollHeight")
        data = self.d.execute_cdp_cmd(
            "Page.captureScreenshot",
            {"format": "png", "captureBeyondViewport": True,
             "clip": {"x": 0, "y": 0, "width": 1280, "height": max(600, height), "scale": 1}},
        )  # fmt: skip
        (self.shots / f"{name}.png").write_bytes(base64.b64decode(data["data"]))

    def clipboard(self) -> str:
        return str(
            self.d.execute_async_script(
                "const done = arguments[arguments.length - 1];"
                "navigator.clipboard.readText().then(done, e => done('ERR ' + e));"
            )
        )

    def fetch_bytes(self, path: str) -> bytes:
        """GET ``path`` from inside the page (the browser's own session cookie)."""
        text = self.d.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "fetch(arguments[0]).then(r => r.arrayBuffer()).then(b => {"
            "  let s = ''; new Uint8Array(b).forEach(c => s += String.fromCharCode(c));"
            "  done(btoa(s)); }, e => done('ERR ' + e));",
            path,
        )
        assert not str(text).startswith("ERR"), text
        return base64.b64decode(text)


@pytest.fixture
def counter(
    tmp_path: Path, station_cfg: config.Config
) -> Iterator[tuple[LoopbackWard, Served, Any]]:
    """Broker, receiver, console (rung by the receiver), and a station sending records."""
    with LoopbackWard(tmp_path / "ward") as ward:
        cfg = ward.attach(station_cfg)
        console = serve_console(str(ward.db_path))
        assert ward.receiver is not None
        ward.receiver.on_stored = console.server.bell.ring_threadsafe
        outbox = Outbox.from_config(cfg)
        publisher = Publisher.from_config(cfg, outbox).start()
        try:
            yield ward, console, outbox
        finally:
            publisher.stop()
            outbox.close()
            console.stop()


def test_an_officers_day_then_the_admins(
    browser: Any, counter: tuple[LoopbackWard, Served, Any], tmp_path: Path
) -> None:
    ward, console, outbox = counter
    shots = tmp_path / "shots"
    shots.mkdir()
    page = Page(browser, console.url, shots)
    browser.execute_cdp_cmd(
        "Browser.grantPermissions",
        {"origin": console.url, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]},
    )
    # -- log in, pick the counter ---------------------------------------------------------
    page.go("/counter")
    assert browser.current_url.endswith("/login")
    page.shot("login")
    page.login(OFFICER)
    page.wait(".counters a", STATION)
    page.shot("counters")
    page.find(".counters a").click()
    page.wait("#status.on", "Đã kết nối")
    # -- a read arrives on the counter page -----------------------------------------------
    earlier = make_records(1, seed=21)[0]
    shown = chip_record(named(a_man(), "Nguyễn Văn An"))
    outbox.append(earlier)
    page.wait("#recent li", earlier["citizen"]["full_name"])
    sent = time.monotonic()
    outbox.append(shown)
    page.wait("#current .fields", "Nguyễn Văn An", timeout=ARRIVAL_S)
    arrived = time.monotonic() - sent
    assert len(page.all("#recent li")) == 2 and arrived < ARRIVAL_S
    assert "Hợp lệ" in page.find("#current .verdict").text
    assert "Họ tên vợ/chồng" in page.find("#current").text  # what the chip gave
    page.shot("counter")
    # -- copy one field, then everything ----------------------------------------------------
    page.find('#current tr[data-field="id_number"] .copy').click()
    wait_for(lambda: page.clipboard() == shown["citizen"]["id_number"], 5, "ID copied")
    page.find("#current .copy-all").click()
    with WardDB(ward.db_path) as db:
        (row,) = [r for r in db.rows() if r.record_id == shown["record_id"]]
    expected = view_of(row).copy_all
    wait_for(lambda: page.clipboard() == expected, 5, "everything copied")
    assert expected.splitlines()[0] == "Họ, chữ đệm và tên: Nguyễn Văn An"
    # -- link the dossier ---------------------------------------------------------------
    page.type("#current .dossier-input", "HS-2026-000123")
    page.find("#current .link-dossier").click()
    page.wait("#current .dossier-linked", "HS-2026-000123")
    # -- print ------------------------------------------------------------------------------
    pdf = page.fetch_bytes(f"/records/{row.seq}/sheet.pdf")
    (tmp_path / "sheet.pdf").write_bytes(pdf)
    text = subprocess.run(
        ["pdftotext", "-layout", str(tmp_path / "sheet.pdf"), "-"], capture_output=True, check=True
    ).stdout.decode()
    assert "Nguyễn Văn An" in text and "HS-2026-000123" in text and "Hợp lệ" in text
    subprocess.run(
        ["pdftoppm", "-png", "-r", "70", "-singlefile", str(tmp_path / "sheet.pdf"),
         str(shots / "sheet")], check=True,
    )  # fmt: skip
    page.go(f"/records/{row.seq}")
    page.wait(".checks", "Chữ ký số của dữ liệu chip")
    page.shot("record")
    # -- the page reconnects by itself when the console restarts ---------------------------
    page.go(f"/counter/{STATION}")
    page.wait("#status.on", "Đã kết nối")
    port = console.server.port
    console.server.stop()
    page.wait("#status", "Mất kết nối")
    from station.ward.console.app import ConsoleConfig, create_app
    from station.ward.console.server import ConsoleServer
    from station.ward.notify import Bell

    again = ConsoleServer(
        create_app(ConsoleConfig(db=str(ward.db_path), bell=Bell())),
        "127.0.0.1", port,
    ).start_thread()  # fmt: skip
    console.server = again
    assert ward.receiver is not None
    ward.receiver.on_stored = again.bell.ring_threadsafe
    page.wait("#status.on", "Đã kết nối", timeout=15)
    later = make_records(1, seed=22)[0]
    outbox.append(later)
    page.wait("#current .fields", later["citizen"]["full_name"], timeout=ARRIVAL_S)
    # -- manual entry, method 5 (VNeID): a bad ID is refused ---------------------------------
    man = a_man(seed=8)
    page.go("/manual")
    from selenium.webdriver.support.ui import Select

    Select(page.find("#method")).select_by_value("5")
    page.type("#id_number", man.id_number)
    page.type("#full_name", "Lê Thị Bình")
    browser.execute_script(
        "document.getElementById('date_of_birth').value = arguments[0]",
        man.date_of_birth.isoformat(),
    )
    Select(page.find("#sex")).select_by_visible_text("Nữ")  # the ID's digit says Nam
    page.find("#save-manual").click()
    page.wait("#form-errors", "Chưa lưu")
    assert "giới tính" in page.find("form.manual").text
    page.shot("manual")
    Select(page.find("#sex")).select_by_visible_text("Nam")
    page.find("#save-manual").click()
    page.wait(".verdict", "Nhập tay")
    assert "VNeID" in page.find(".meta").text
    # -- search without diacritics, export ------------------------------------------------
    page.go("/search")
    page.type("#q", "nguyen van an")
    page.find("#do-search").click()
    page.wait(".result-name", "Nguyễn Văn An")
    assert len(page.all(".result-name")) == 1
    page.shot("search")
    page.find("#export-csv").click()
    files: list[Path] = []
    wait_for(lambda: files.extend(p for p in browser.downloads.glob("*.csv")) or files, 10, "CSV")
    data = files[0].read_bytes()
    assert data.startswith("\ufeff".encode()) and "Nguyễn Văn An" in data.decode("utf-8-sig")
    # -- log out ----------------------------------------------------------------------------
    page.find("#logout").click()
    wait_for(lambda: browser.current_url.endswith("/login"), 10, "logged out")
    page.go("/search")
    assert browser.current_url.endswith("/login")
    # -- the admin ----------------------------------------------------------------------------
    page.login(ADMIN)
    page.wait(".stations td", STATION)
    wait_for(lambda: (page.go("/admin/stations"), page.all("tr.online"))[1], 10, "online")
    page.shot("stations")
    for name in ("users", "retention", "audit"):
        page.go(f"/admin/{name}")
        page.shot(name)
    audit = page.find(".audit").text
    for action in ("copy-all", "link-dossier", "print", "search", "export", "enter", "view"):
        assert action in audit
    assert "Nguyễn" not in audit
    violations = [e for e in browser.get_log("browser") if "Content Security Policy" in str(e)]
    assert not violations, violations
    assert sorted(p.stem for p in shots.glob("*.png")) == sorted(PAGES)
    if UPDATE:
        DOCS.mkdir(parents=True, exist_ok=True)
        for shot in shots.glob("*.png"):
            shutil.copy(shot, DOCS / shot.name)
    missing = [name for name in PAGES if not (DOCS / f"{name}.png").is_file()]
    assert not missing, f"no docs/console/{missing[0]}.png: run with UPDATE_REFERENCE=1"


def test_readme_shows_every_console_page() -> None:
    readme = (DOCS.parents[1] / "README.md").read_text(encoding="utf-8")
    shown = set(re.findall(r"\]\(docs/console/([a-z]+)\.png\)", readme))
    assert shown == {*PAGES, "trust"}  # trust.png: tests/ward/test_fleet_trust.py
    assert (DOCS / "trust.png").is_file()
