"""One real Chromium for the whole session (Debian's chromium + chromium-driver, driven
by Selenium with the system's binaries: Selenium Manager is never asked to download).

Skipped only when the browser or its driver is missing, and never in CI (CI=true).
Each test gets the browser with no cookies left and the clipboard cleared.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("CHROMIUM_BIN", "/usr/lib/chromium/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
IN_CI = os.environ.get("CI", "").lower() == "true"
ARGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--no-first-run", "--no-default-browser-check", "--disable-extensions",
    "--window-size=1280,1000", "--lang=vi-VN", "--force-device-scale-factor=1",
)  # fmt: skip


def missing() -> str | None:
    for path in (CHROMIUM, CHROMEDRIVER):
        if not Path(path).is_file():
            return f"{path} missing (apt install chromium chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium not installed"
    return None


@pytest.fixture(scope="session")
def browser_session() -> Iterator[Any]:
    why = missing()
    if why:
        if IN_CI:
            pytest.fail(f"the browser tests cannot run in CI: {why}")
        pytest.skip(why)
    os.environ.setdefault("SE_AVOID_STATS", "true")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    downloads = Path(tempfile.mkdtemp(prefix="chromium-downloads-"))
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (*ARGS, f"--user-data-dir={profile}"):
        options.add_argument(arg)
    options.accept_insecure_certs = True
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.downloads = downloads  # type: ignore[attr-defined]
    driver.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
        shutil.rmtree(downloads, ignore_errors=True)


@pytest.fixture
def browser(browser_session: Any) -> Iterator[Any]:
    browser_session.get("about:blank")
    browser_session.execute_cdp_cmd("Network.clearBrowserCookies", {})
    for old in browser_session.downloads.iterdir():
        old.unlink()
    browser_session.get_log("browser")  # drop what earlier tests left
    yield browser_session
    browser_session.get("about:blank")
    browser_session.execute_cdp_cmd("Network.clearBrowserCookies", {})
