"""A real PC/SC stack for the PACE tests: pcscd + vpcd + the card emulator (station.sim.pcsc).

Package-scoped: started on first use by tests/pace and stopped (by PID, in PcscRig.stop)
when the package's tests are done. Only one pcscd can run on a machine, so a rig another
test area holds for the whole session makes this one fail to start: skipped then, except in
CI (CI set), where that is a failure, as are missing parts.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from station.sim import pcsc

IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture(scope="package")
def pcsc_rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pcsc.PcscRig]:
    missing = pcsc.missing_parts()
    if missing and not IN_CI:
        pytest.skip("PC/SC rig parts missing: " + ", ".join(missing))
    rig = pcsc.PcscRig(tmp_path_factory.mktemp("pace-pcsc"))
    try:
        rig.start()
    except pcsc.RigError as exc:
        if IN_CI:
            pytest.fail(f"PC/SC rig failed in CI: {exc}")
        pytest.skip(f"PC/SC rig unavailable: {exc}")
    try:
        yield rig
    finally:
        rig.stop()
