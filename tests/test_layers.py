"""The import contracts (pyproject.toml ``[tool.importlinter]``): they hold on the code, and
they fail when someone adds an import that points the wrong way.

Each broken case copies the package into a temporary folder, adds one import, and runs
the real ``lint-imports`` on the copy (it is first on ``PYTHONPATH``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")


def lint(root: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(root))
    return subprocess.run(
        [str(LINT), "--no-cache", "--config", str(root / "pyproject.toml")],
        cwd=root, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def copy_with(tmp_path: Path, module: str, line: str) -> Path:
    """The package copied to ``tmp_path`` with ``line`` appended to ``module``'s file."""
    shutil.copytree(REPO / "station", tmp_path / "station", ignore=shutil.ignore_patterns("*.pyc"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    path = tmp_path / (module.replace(".", "/") + ".py")
    path.write_text(path.read_text() + f"\n{line}\n")
    return tmp_path


def test_the_contracts_hold() -> None:
    done = lint(REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract", "chain"),
    [
        (  # a parser reaching up into the runtime
            "station.qr.models", "import station.runtime.app",
            "Layers only point down", "station.qr.models -> station.runtime.app",
        ),
        (  # drawing that reaches up into the reader's state machine
            "station.display.layout", "import station.flow.state",
            "Layers only point down", "station.display.layout -> station.flow.state",
        ),
        (  # an adapter that knows about the chip protocol
            "station.drivers.card_pcsc", "import station.icao.apdu",
            "Drivers import only the ports", "station.drivers.card_pcsc -> station.icao.apdu",
        ),
        (  # verification talking to the card itself (AA and CA run in icao)
            "station.verify.chip", "import station.icao.apdu",
            "Verification sends no APDU", "station.verify.chip -> station.icao.apdu",
        ),
        (
            "station.verify.active", "from station.icao.sm import SecureMessaging",
            "Verification sends no APDU", "station.verify.active -> station.icao.sm",
        ),
        (
            "station.verify.passive", "import station.icao.channel",
            "Verification sends no APDU", "station.verify.passive -> station.icao.channel",
        ),
        (  # verification opening a device itself
            "station.verify.chip", "import station.drivers.card_pcsc",
            "The core never touches a driver", "station.verify.chip -> station.drivers",
        ),
        (  # the ward server reaching into the station's runtime
            "station.ward.receiver", "import station.runtime.clock",
            "The ward server never imports", "station.ward.receiver -> station.runtime.clock",
        ),
        (  # the simulated world leaking into the product
            "station.runtime.wiring", "import station.sim.citizens",
            "Nothing but the demo command imports", "station.runtime.wiring -> station.sim",
        ),
    ],
)  # fmt: skip
def test_an_import_pointing_the_wrong_way_breaks_a_contract(
    tmp_path: Path, module: str, line: str, contract: str, chain: str
) -> None:
    done = lint(copy_with(tmp_path, module, line))
    assert done.returncode == 1, done.stdout
    broken = [ln for ln in done.stdout.splitlines() if " BROKEN" in ln]
    assert any(ln.startswith(contract) for ln in broken), done.stdout
    assert chain in done.stdout.replace("\n    ", " "), done.stdout


def test_a_cycle_between_sibling_packages_breaks_a_contract(tmp_path: Path) -> None:
    # sync already imports record; record importing sync closes a loop
    done = lint(copy_with(tmp_path, "station.record", "import station.sync.errors"))
    assert done.returncode == 1
    assert "No import cycles between sibling packages BROKEN" in done.stdout
