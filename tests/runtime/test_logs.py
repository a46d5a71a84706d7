"""Journald/human log formats and the ID-number redaction safety net."""

from __future__ import annotations

import hashlib
import io
import logging
import os
import random
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from station.fingerprint import Pseudonym, fingerprint, keyed
from station.qr.decoder import QrTracker
from station.qr.reader import QrReader
from station.runtime.logs import (
    JournalFormatter,
    RedactFilter,
    configure_logging,
    load_log_key,
    redact,
    stream_is_journal,
    syslog_priority,
)
from station.sim.citizens import generate_many
from station.sim.frames import card_frame


@pytest.fixture
def restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in handlers:
        root.addHandler(h)
    root.setLevel(level)


@pytest.fixture
def journal() -> Iterator[tuple[IO[str], dict[str, str]]]:
    """A file standing in for the journald stream, and the env naming it."""
    with tempfile.TemporaryFile("w+", encoding="utf-8") as f:
        st = os.fstat(f.fileno())
        yield f, {"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}


def test_redact_masks_ids_and_document_numbers_only() -> None:
    assert redact("id 001099012345 ok") == "id [redacted-id] ok"
    assert redact("doc=C030123456<<") == "doc=C[redacted-9]<<"
    assert redact("doc 123456789,") == "doc [redacted-9],"
    # other numbers stay: timestamps, counts, status words, 10/11/13-digit runs
    kept = "ts 20260101120000 n=1000 sw=6300 x=1234567890 y=12345678901 z=1234567890123"
    assert redact(kept) == kept


def test_every_synthetic_citizen_number_is_redacted(
    restore_root: None, journal: tuple[IO[str], dict[str, str]]
) -> None:
    f, env = journal
    configure_logging("DEBUG", stream=f, env=env)
    log = logging.getLogger("station.test")
    people = generate_many(7, 25)
    for p in people:
        log.info("read %s doc %s", p.qr_payload(), p.document_number)
        log.warning("card", extra={"id_number": p.id_number})
        try:
            raise ValueError(f"bad card {p.qr_payload()}")
        except ValueError:
            log.exception("failed")
    f.seek(0)
    text = f.read()
    for p in people:
        assert p.id_number not in text
        assert p.document_number not in text
        assert p.old_id_number is None or p.old_id_number not in text
    assert "[redacted-id]" in text


def test_journal_format_priority_prefix_and_fields(
    restore_root: None, journal: tuple[IO[str], dict[str, str]]
) -> None:
    f, env = journal
    configure_logging("DEBUG", stream=f, env=env)
    log = logging.getLogger("station.sync")
    log.warning("broker %s unreachable", "ward", extra={"pending": 3, "host": "a b"})
    try:
        1 / 0  # noqa: B018
    except ZeroDivisionError:
        log.exception("boom")
    log.debug("detail")
    f.seek(0)
    lines = f.read().splitlines()
    assert lines[0] == '<4>station.sync: broker ward unreachable host="a b" pending=3'
    assert lines[1] == "<3>station.sync: boom"
    tb = [line for line in lines if line.startswith("<3>")]
    assert any("ZeroDivisionError" in line for line in tb)  # every traceback line prefixed
    assert lines[-1] == "<7>station.sync: detail"


def test_human_format_without_journal(restore_root: None) -> None:
    buf = io.StringIO()
    configure_logging("INFO", stream=buf, env={"JOURNAL_STREAM": "1:2"})
    logging.getLogger("station.x").info("hello %d", 5, extra={"k": "v"})
    line = buf.getvalue().strip()
    assert not line.startswith("<")
    assert line.endswith("INFO station.x: hello 5 k=v")


def test_journal_stream_must_match_the_stream(journal: tuple[IO[str], dict[str, str]]) -> None:
    f, env = journal
    assert stream_is_journal(f, env)
    with tempfile.TemporaryFile("w") as other:
        assert not stream_is_journal(other, env)
    assert not stream_is_journal(f, {})


def test_priorities() -> None:
    assert [syslog_priority(lv) for lv in (10, 20, 25, 30, 40, 50)] == [7, 6, 6, 4, 3, 2]


def test_broken_format_string_never_raises_to_the_caller() -> None:
    record = logging.LogRecord("x", logging.INFO, "f", 1, "%d items", ("many",), None)
    assert RedactFilter().filter(record)
    JournalFormatter()  # formatting it is emit()'s job, which reports and swallows errors


def test_journald_prefix_parsed_by_real_journal_format() -> None:
    # the child writes through configure_logging exactly like the service does
    code = (
        "import logging,sys,os;from station.runtime.logs import configure_logging;"
        "st=os.fstat(2);os.environ['JOURNAL_STREAM']=f'{st.st_dev}:{st.st_ino}';"
        "configure_logging('INFO');"
        "logging.getLogger('station.runtime.app').error('x %s','001099012345')"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stderr == "<3>station.runtime.app: x [redacted-id]\n"


def test_uuids_and_hex_fingerprints_are_never_masked() -> None:
    rng = random.Random(13)
    ids = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(20_000)]
    hexes = [fingerprint(str(i)) for i in range(20_000)] + [hashlib.sha256(b"x").hexdigest()]
    mangled = [t for t in ids + hexes if redact(f"record {t} stored") != f"record {t} stored"]
    assert mangled == []  # (the plain digit mask mangled ~1.5% of ids and ~0.5% of hexes)
    # the mask still works right next to them
    line = f"record {ids[0]} of 001099012345 fp {hexes[0]}, doc 123456789"
    assert redact(line) == f"record {ids[0]} of [redacted-id] fp {hexes[0]}, doc [redacted-9]"


FORGED = "x\n<3>station.runtime.app: FORGED\r\u2028\x1b[2Jline"


def test_network_strings_cannot_forge_log_lines(
    restore_root: None, journal: tuple[IO[str], dict[str, str]]
) -> None:
    f, env = journal
    configure_logging("INFO", stream=f, env=env)
    log = logging.getLogger("station.sync.publisher")
    log.warning("the ward refused record %s (%s)", FORGED, "forged")
    log.info("field", extra={"reason": FORGED})
    f.seek(0)
    lines = f.read().splitlines()
    assert len(lines) == 2 and all(line.startswith(("<4>", "<6>")) for line in lines)
    assert "\\n<3>station.runtime.app: FORGED\\r\\u2028\\x1b[2Jline" in lines[0]
    buf = io.StringIO()
    configure_logging("INFO", stream=buf, env={})
    log.warning("the ward refused record %s", FORGED)
    assert buf.getvalue().count("\n") == 1 and "FORGED" in buf.getvalue()


def test_card_bytes_are_logged_by_a_keyed_pseudonym(restore_root: None) -> None:
    citizen = generate_many(3, 1)[0]
    payload = citizen.qr_payload().encode("utf-8")
    key = bytes(range(32))
    buf = io.StringIO()
    configure_logging("INFO", stream=buf, env={}, pseudonym_key=key)
    reader = QrReader(tracker=QrTracker(absent_frames=1, absent_s=0.0))
    assert reader.process(card_frame(citizen), 0.0)  # the real call site: "QR event ..."
    text = buf.getvalue()
    assert keyed(payload, key) in text
    assert fingerprint(payload) not in text  # what anyone holding the card could compute
    assert str(Pseudonym(payload)) != fingerprint(payload) != keyed(payload, bytes(32))


def test_the_station_keeps_one_log_key(tmp_path: Path) -> None:
    from station import config

    cfg = config.replace(config.Config(), "station", data_dir=str(tmp_path))
    first = load_log_key(cfg)
    assert load_log_key(cfg) == first and len(first) == 32
    assert (tmp_path / "log_pseudonym.key").stat().st_mode & 0o777 == 0o600
