"""Session-wide fixtures shared by every test area.

``pcsc_rig``: the real PC/SC stack, pyscard -> pcscd -> vpcd -> card emulator (see
``station.sim.pcsc``). Only one pcscd can run on a machine (its socket dir is fixed), so
ONE rig serves the whole session: started on first use, stopped by PID at the end. It
is skipped only when its parts are missing, and never in CI (CI=true), where a missing
part or a failed start is a test failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture(scope="session")
def pcsc_rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from station.sim.pcsc import PcscRig, RigError, missing_parts

    missing = missing_parts()
    if missing and not IN_CI:
        pytest.skip("PC/SC rig parts missing: " + ", ".join(missing))
    rig = PcscRig(tmp_path_factory.mktemp("pcsc"))
    try:
        rig.start()
    except RigError as exc:
        if IN_CI:
            pytest.fail(f"PC/SC rig failed in CI: {exc}")
        pytest.skip(f"PC/SC rig unavailable: {exc}")
    try:
        yield rig
    finally:
        rig.stop()
