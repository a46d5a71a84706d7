"""Refresh the generated parts of README.md (the config block) from the code.

.venv/bin/python scripts/update_readme.py
"""

from __future__ import annotations

import re
from pathlib import Path

from station.config import render_defaults

README = Path(__file__).resolve().parents[1] / "README.md"


def main() -> None:
    text = README.read_text(encoding="utf-8")
    new, count = re.subn(
        r"```toml\n.*?```", lambda _: "```toml\n" + render_defaults() + "```", text, flags=re.S
    )
    if count != 1:
        raise SystemExit(f"expected one toml block in README.md, found {count}")
    README.write_text(new, encoding="utf-8")


if __name__ == "__main__":
    main()
