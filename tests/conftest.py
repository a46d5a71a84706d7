"""Session-wide fixtures shared by every test area.

The fixtures of the icao, verify and sync areas live in their ``support`` modules, loaded
here as plugins so that every folder (the CLI tests too) can use them; their helper
functions are imported from the same modules (``from tests.sync.support import ...``).

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

pytest_plugins = [
    "tests.icao.support",
    "tests.verify.support",
    "tests.sync.support",
    "tests.ward.support",
    "tests.ward.browser",
]


@pytest.fixture(scope="session")
def pcsc_rig_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
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


@pytest.fixture()
def pcsc_rig(pcsc_rig_session: Any) -> Iterator[Any]:
    """The session's rig for one test, left with no card on the reader afterwards (so no
    test sees the card an earlier one placed)."""
    yield pcsc_rig_session
    if pcsc_rig_session.card_present():
        pcsc_rig_session.remove()
