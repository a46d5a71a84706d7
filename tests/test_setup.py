"""`setup.sh` is idempotent: run again on a machine it already set up (CI ran it once to
start this suite), its deps/demo modes succeed and install nothing more.

The first run on a fresh machine is CI itself (`.ci/run` -> `./setup.sh test`); these
tests are the second run. They need what the first run installed, so they skip on a
machine that was set up by hand (no apt packages, or a venv made elsewhere), except in CI.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SETUP = REPO / "setup.sh"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def packages() -> list[str]:
    """APT_PACKAGES as setup.sh lists them (read from the script, not copied)."""
    text = SETUP.read_text()
    block = text[text.index("APT_PACKAGES=(") : text.index(")", text.index("APT_PACKAGES=("))]
    return [word for line in block.splitlines()[1:] for word in line.split()]


def set_up_by_setup_sh() -> bool:
    if shutil.which("dpkg-query") is None:
        return False
    for pkg in packages():
        done = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True
        )
        if "install ok installed" not in done.stdout:
            return False
    return (REPO / ".venv" / ".installed-dev").exists()


needs_setup = pytest.mark.skipif(
    not IN_CI and not set_up_by_setup_sh(),
    reason="this machine was not set up by ./setup.sh (apt packages or venv stamp missing)",
)


def setup_sh(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    return subprocess.run(
        ["bash", str(SETUP), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_usage_without_a_mode() -> None:
    done = setup_sh()
    assert done.returncode == 2
    for mode in ("demo", "test", "install", "uninstall", "deps"):
        assert f"./setup.sh {mode}" in done.stdout


@needs_setup
def test_deps_twice_installs_nothing_more() -> None:
    for _ in range(2):
        done = setup_sh("deps")
        assert done.returncode == 0, done.stderr
        assert "installing" not in done.stderr, done.stderr  # nothing missing: no apt, no pip


@needs_setup
def test_demo_again_runs_the_station(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    done = setup_sh("demo", "--cards", "2", "--seed", "11", "--out", str(out), "--no-terminal")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "installing" not in done.stderr
    assert "2 steps of the tour:" in done.stdout
    assert "2 records stored, 2 delivered to the ward (acknowledged), 0 still" in done.stdout
    assert (out / "ward.sqlite").exists() and any((out / "screens").glob("*.png"))
