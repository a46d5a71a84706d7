"""Verification sends no APDU: the import contract that says so holds, and breaks when a
verification module imports an APDU module itself (the protocols are station.icao.active
and station.icao.chipauth)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_layers import copy_with, lint

CONTRACT = "Verification sends no APDU"


@pytest.mark.parametrize(
    ("module", "line"),
    [
        ("station.verify.chip", "import station.icao.apdu"),
        ("station.verify.active", "from station.icao.sm import SecureMessaging"),
        ("station.verify.passive", "import station.icao.channel"),
    ],
)
def test_verify_importing_an_apdu_module_breaks_the_contract(
    tmp_path: Path, module: str, line: str
) -> None:
    done = lint(copy_with(tmp_path, module, line))
    assert done.returncode == 1, done.stdout
    broken = [ln for ln in done.stdout.splitlines() if " BROKEN" in ln]
    assert any(ln.startswith(CONTRACT) for ln in broken), done.stdout
    target = line.split()[1]
    assert f"{module} -> {target}" in done.stdout
