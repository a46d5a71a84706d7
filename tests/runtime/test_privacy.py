"""The full demo, at DEBUG level: no name, ID number, document number or address of any
citizen it read appears in its output, its logs (both formats) or its audit log.

The plain run uses the CLI's default logging (no redaction filter), so it shows that the
code itself logs nothing personal; the journal run goes through ``station.runtime.logs``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from station.ward.db import WardDB

CLI = "import sys; from station.cli import main; sys.exit(main())"
CARDS = 4
PERSONAL = (
    "id_number", "old_id_number", "full_name", "father_name", "mother_name", "spouse_name",
    "place_of_origin", "place_of_residence", "identifying_marks",
)  # fmt: skip


def run_demo(out: Path, journal: bool) -> str:
    env = dict(os.environ)
    env.pop("JOURNAL_STREAM", None)
    args = [sys.executable, "-c", CLI, "--log-level", "DEBUG", "demo"]
    args += ["--cards", str(CARDS), "--no-terminal", "--out", str(out), "--seed", "77"]
    if journal:  # the service's structured format, through station.runtime.logs
        code = (
            "import os,sys;st=os.fstat(2);os.environ['JOURNAL_STREAM']=f'{st.st_dev}:{st.st_ino}';"
            "from station.runtime.logs import configure_logging;import station.cli as c;"
            "c.logging.basicConfig=lambda **k: configure_logging(k.get('level', 'INFO'));"
            "sys.exit(c.main())"
        )
        args[2] = code
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout + done.stderr


def secrets_of(ward_db: Path) -> set[str]:
    """Every personal value the ward received (what the demo read from the cards)."""
    db = WardDB(ward_db)
    try:
        records = [r for r, _ in db.iter_records()]
    finally:
        db.close()
    assert 1 <= len(records) <= CARDS  # cards without a readable QR make no record
    found: set[str] = set()
    for record in records:
        citizen = record.get("citizen") or {}
        for key in PERSONAL:
            if citizen.get(key):
                found.add(str(citizen[key]))
        if citizen.get("id_number"):
            found.add(str(citizen["id_number"])[-9:])  # the chip's document number
        if citizen.get("date_of_birth"):
            found.add(str(citizen["date_of_birth"]))  # ISO; no log line carries such a date
    return found


def test_demo_output_logs_and_audit_log_hold_no_personal_data(tmp_path: Path) -> None:
    for journal in (False, True):
        out = tmp_path / ("journal" if journal else "human")
        text = run_demo(out, journal)
        secrets = secrets_of(out / "ward.sqlite")
        assert len(secrets) >= 10  # the demo did read people
        audit = "".join(p.read_text() for p in (out / "station").glob("audit.log*"))
        assert audit.count("\n") >= CARDS  # one line per read at least
        if journal:
            assert any(line.startswith("<6>station.") for line in text.splitlines())
        for secret in secrets:
            assert secret not in text, "personal data in the demo's output or logs"
            assert secret not in audit, "personal data in the audit log"
