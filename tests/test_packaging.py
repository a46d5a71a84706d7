"""The distribution's metadata: what setuptools and pip read, and `station --version`."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import station
from station.cli import main

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_license_is_an_spdx_string_not_the_deprecated_table() -> None:
    # setuptools >= 77 warns on `license = { text = ... }` (removal announced for 2027).
    assert isinstance(PROJECT["project"]["license"], str)
    assert not any("License ::" in c for c in PROJECT["project"].get("classifiers", []))
    (backend,) = [r for r in PROJECT["build-system"]["requires"] if r.startswith("setuptools")]
    found = re.search(r">=\s*(\d+)", backend)
    assert found is not None and int(found.group(1)) >= 77, backend


def test_version_option_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"station {station.__version__}"
    assert PROJECT["project"]["version"] == station.__version__


def test_version_of_the_installed_script() -> None:
    script = Path(sys.executable).with_name("station")
    done = subprocess.run([script, "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == f"station {station.__version__}"
