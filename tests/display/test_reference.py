"""Every screen compared pixel-exactly with the reference PNGs in the repository.

Regenerate after an intended change (review the PNGs before committing):

    UPDATE_REFERENCE=1 .venv/bin/python -m pytest tests/display/test_reference.py

This rewrites tests/display/reference/*.png and copies them to docs/screens/ (README).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from station.display.layout import draw

from .catalogue import layouts, screens

HERE = Path(__file__).parent
REFERENCE = HERE / "reference"
DOCS = HERE.parent.parent / "docs" / "screens"
UPDATE = os.environ.get("UPDATE_REFERENCE") == "1"
CASES = layouts(screens())


@pytest.mark.parametrize("name", sorted(CASES))
def test_screen_matches_reference(name: str) -> None:
    image = draw(CASES[name])
    path = REFERENCE / f"{name}.png"
    if UPDATE:
        REFERENCE.mkdir(exist_ok=True)
        DOCS.mkdir(parents=True, exist_ok=True)
        image.save(path, optimize=True)
        shutil.copyfile(path, DOCS / path.name)
    assert path.is_file(), f"no reference {path.name}: run with UPDATE_REFERENCE=1"
    with Image.open(path) as ref:
        expected = ref.convert("1")
    assert expected.size == image.size
    diff = ImageChops.logical_xor(expected, image).getbbox()
    assert diff is None, f"{name} differs from its reference in box {diff}"


def test_reference_set_is_exact_and_published() -> None:
    names = {f"{n}.png" for n in CASES}
    assert {p.name for p in REFERENCE.glob("*.png")} == names
    for name in names:
        assert (DOCS / name).read_bytes() == (REFERENCE / name).read_bytes(), name
