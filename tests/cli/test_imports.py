"""The command line stays light: building the parser (every `station ...` command,
`--help`, `config --check`) loads none of the heavy libraries; each command imports what
it needs when it runs. A guard against an eager import creeping into `station.cli`."""

from __future__ import annotations

import subprocess
import sys

HEAVY = (
    "numpy", "PIL", "cryptography", "paho", "tinydb", "zxingcpp", "smartcard", "luma",
    "starlette", "uvicorn", "jinja2", "weasyprint", "psycopg", "argon2", "selenium",
)  # fmt: skip


def test_building_the_cli_imports_no_heavy_library() -> None:
    code = (
        "import sys; from station.cli import build_parser; build_parser(); "
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    loaded = set(done.stdout.split())
    assert "station" in loaded
    assert loaded.isdisjoint(HEAVY), sorted(loaded.intersection(HEAVY))
