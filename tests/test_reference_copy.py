"""The published reference data lives in the repository (data/reference), unchanged, and the
tests and the README use that copy: a fresh clone runs the conformance tests, skips none."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from tests.icao.support import reference_dir
from tests.verify.support import REFERENCE as VERIFY_REFERENCE

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "reference"
SETS = ("bsi-tr03105-5", "etsi-tr103200", "nl-masterlist", "de-masterlist")


def _sums() -> dict[str, str]:
    lines = (DATA / "SHA256SUMS").read_text(encoding="utf-8").splitlines()
    return {name.removeprefix("./"): digest for digest, name in (ln.split() for ln in lines)}


def test_every_set_is_in_the_repository_byte_for_byte() -> None:
    sums = _sums()
    assert {name.split("/")[0] for name in sums} == set(SETS)
    for name, digest in sums.items():
        assert hashlib.sha256((DATA / name).read_bytes()).hexdigest() == digest, name
    files = {p.relative_to(DATA).as_posix() for p in DATA.rglob("*") if p.is_file()}
    assert files == set(sums) | {"README.md", "SHA256SUMS"}


def test_readme_of_the_data_says_where_it_comes_from() -> None:
    text = (DATA / "README.md").read_text(encoding="utf-8")
    assert "**Origin.**" in text and "public" in text
    for name in SETS:
        assert f"## {name}/" in text


def test_the_tests_read_the_copy_in_the_repository() -> None:
    assert reference_dir() == DATA
    assert VERIFY_REFERENCE == DATA
    old = ("shared/" + "reference-data", '"shared" / ' + '"reference-data"')
    for path in (ROOT / "tests").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert not any(o in text for o in old), f"{path} reads the data outside the repository"


def test_readme_examples_use_the_copy() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "../shared" not in readme
    used = set(re.findall(r"(data/reference/[\w./-]+)", readme))
    assert used, "the README's trust examples should use data/reference"
    for path in used:
        assert (ROOT / path.rstrip(".")).exists(), path
