"""The console's pages over real HTTP: hostile names inert in the page, the PDF and the
CSV; manual entry checked like a QR read; search and export; the live stream; the admin's
pages; an audit log with record ids and no personal data."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from station.ward.db import WardDB
from station.ward.fold import fold
from tests.support import wait_for
from tests.sync.support import STATION, make_records
from tests.ward.support import ADMIN, OFFICER, Served, a_man, chip_record, named, opened

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils")

SCRIPT_NAME = "<script>alert(1)</script> Nguyễn"
FORMULA = '=HYPERLINK("http://evil.example/","Bấm vào")'


def _store(console: Served, *records: dict[str, Any]) -> list[int]:
    """Store as the receiver does and ring the console; the seqs, in the order given."""
    with WardDB(console.db) as db:
        db.enroll(STATION, "key")
        result = db.store_many([opened(r) for r in records])
    console.server.bell.ring_threadsafe()
    seqs = {item.record_id: seq for seq, item in result.new}
    return [seqs[r["record_id"]] for r in records]


def pdf_text(pdf: bytes, tmp: Path) -> str:
    path = tmp / "sheet.pdf"
    path.write_bytes(pdf)
    done = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True, timeout=30
    )
    return done.stdout.decode("utf-8")


def test_hostile_names_are_inert_in_page_pdf_and_csv(console: Served, tmp_path: Path) -> None:
    hostile = chip_record(named(a_man(), SCRIPT_NAME))
    hostile["citizen"]["place_of_residence"] = FORMULA
    hostile["citizen"]["father_name"] = "@SUM(1+1)*cmd|' /C calc'!A0"
    (seq,) = _store(console, hostile)
    officer = console.login(OFFICER)
    page = officer.get(f"/records/{seq}").text
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Nguyễn" in page
    assert "=HYPERLINK(&#34;http://evil.example/&#34;" in page  # text, not a link
    assert 'href="http://evil.example' not in page
    pdf = officer.get(f"/records/{seq}/sheet.pdf")
    assert pdf.headers["content-type"] == "application/pdf"
    text = pdf_text(pdf.content, tmp_path)
    assert SCRIPT_NAME in text and "=HYPERLINK" in text
    for marker in (b"/JavaScript", b"/JS ", b"/URI", b"/Launch", b"/Annot"):
        assert marker not in pdf.content
    exported = officer.get("/export.csv?all=1")
    assert exported.content.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    (row,) = rows
    assert row["place_of_residence"] == "'" + FORMULA
    assert row["father_name"].startswith("'@SUM")
    assert row["full_name"] == SCRIPT_NAME  # '<' is no formula start
    for value in row.values():
        assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value
    assert (
        row["level"] == "verified" and row["passive"] == "ok" and row["chip_access"] == "PACE-CAN"
    )


def test_the_printed_sheet_has_every_vietnamese_letter(console: Served, tmp_path: Path) -> None:
    from station.sim.citizens import vietnamese_letters

    letters = vietnamese_letters()
    rec = chip_record(named(a_man(), "Nguyễn Thị Ánh Tuyết"))
    rec["citizen"]["place_of_residence"] = f"Số 1, {letters}"
    (seq,) = _store(console, rec)
    officer = console.login(OFFICER)
    token = console.csrf(officer)
    officer.post(f"/records/{seq}/dossier", data={"dossier": "HS-2026/0042", "csrf_token": token})
    pdf = officer.get(f"/records/{seq}/sheet.pdf").content
    text = pdf_text(pdf, tmp_path)
    assert "PHIẾU THÔNG TIN CÔNG DÂN" in text and "Nguyễn Thị Ánh Tuyết" in text
    assert letters in re.sub(r"\s", "", text)
    assert "HS-2026/0042" in text and "Hợp lệ" in text and "Thiết bị đọc chip" in text
    assert STATION in text and "Chữ ký số của dữ liệu chip (PA)" in text
    fonts = subprocess.run(
        ["pdffonts", str(tmp_path / "sheet.pdf")], capture_output=True, text=True, check=True
    ).stdout
    assert "Ward-Sans" in fonts and all(
        "yes" in line.split()[-4:-1] for line in fonts.splitlines()[2:]
    )
    info = subprocess.run(
        ["pdfinfo", str(tmp_path / "sheet.pdf")], capture_output=True, text=True, check=True
    ).stdout
    assert re.search(r"Pages:\s+1\n", info) and "595.276 x 841.89" in info  # one A4 page
    with WardDB(console.db) as db:
        prints = [a for a in db.audit_log() if a.action == "print"]
    assert [(a.user_name, a.record_id) for a in prints] == [("canbo", rec["record_id"])]


def _manual(console: Served, client: Any, **fields: str) -> Any:
    token = console.csrf(client)
    return client.post("/manual", data={"csrf_token": token, **fields})


def test_manual_entry_is_checked_like_a_qr_read(console: Served) -> None:
    man = a_man()
    officer = console.login(OFFICER)
    good = {
        "method": "6", "id_number": man.id_number, "full_name": man.full_name,
        "date_of_birth": man.date_of_birth.isoformat(), "sex": "Nam",
        "place_of_residence": "Số 5 Đường Lê Lợi, Phường Bến Nghé", "dossier": "HS-77",
    }  # fmt: skip
    wrong_sex = {**good, "method": "5", "sex": "Nữ"}  # the ID's digit says Nam
    answer = _manual(console, officer, **wrong_sex)
    assert answer.status_code == 422 and "giới tính" in answer.text
    short = _manual(console, officer, **{**good, "id_number": man.id_number[:11]})
    assert short.status_code == 422 and "đúng 12 chữ số" in short.text
    year = man.date_of_birth.replace(year=man.date_of_birth.year + 1).isoformat()
    assert "năm sinh" in _manual(console, officer, **{**good, "date_of_birth": year}).text
    assert _manual(console, officer, **{**good, "full_name": "A|B"}).status_code == 422
    future = _manual(console, officer, **{**good, "date_of_birth": "2999-01-01"})
    assert future.status_code == 422 and "tương lai" in future.text
    assert _manual(console, officer, **{**good, "method": "2"}).status_code == 422
    saved = _manual(console, officer, **good)
    assert saved.status_code == 303
    seq = int(saved.headers["location"].rsplit("/", 1)[1])
    with WardDB(console.db) as db:
        row = db.row(seq)
        assert row is not None
        refused = [
            a for a in db.audit_log() if a.action == "enter" and a.outcome.startswith("refused")
        ]
    assert len(refused) == 6
    assert row.method == 6 and row.level == "manual" and row.entered_by == "canbo"
    assert row.record["source"] == "manual" and row.record["citizen"]["issue_date"] is None
    assert row.dossier == "HS-77" and not row.signed
    page = officer.get(f"/records/{seq}").text
    assert "Nhập tay, không đọc từ thẻ" in page and "CT07" in page


def test_search_without_diacritics_and_export(console: Served) -> None:
    man = a_man()
    target = chip_record(named(man, "Nguyễn Văn An"))
    others = make_records(20, seed=9)
    _store(console, target, *others)
    officer = console.login(OFFICER)
    found = officer.get("/search", params={"q": "nguyen van an"}).text
    assert "Nguyễn Văn An" in found and found.count('class="result-name"') == 1
    by_id = officer.get("/search", params={"q": man.id_number}).text
    assert by_id.count('class="result-name"') == 1
    everything = officer.get("/search", params={"all": "1"}).text
    assert everything.count('class="result-name"') == 21
    lines = officer.get("/export.json", params={"q": "nguyen van an"}).text.splitlines()
    (line,) = lines
    doc = json.loads(line)
    assert doc["record_id"] == target["record_id"] and doc["ward"]["level"] == "verified"
    csv_text = officer.get("/export.csv", params={"level": "qr-only"}).content.decode("utf-8-sig")
    assert len(list(csv.DictReader(io.StringIO(csv_text)))) == 20


def test_the_audit_log_names_records_never_people(console: Served, tmp_path: Path) -> None:
    records = [chip_record(named(a_man(), "Phạm Thị Hồng Nhung")), *make_records(3, seed=4)]
    seqs = _store(console, *records)
    officer = console.login(OFFICER)
    officer.get(f"/counter/{STATION}")
    officer.get(f"/records/{seqs[0]}")
    officer.get("/search", params={"q": "pham thi hong"})
    officer.get("/search", params={"q": records[1]["citizen"]["id_number"]})
    officer.get("/export.csv", params={"q": "pham thi hong nhung"})
    officer.get(f"/records/{seqs[0]}/sheet.pdf")
    token = console.csrf(officer)
    officer.post(f"/records/{seqs[0]}/copied", headers={"X-CSRF-Token": token})
    with WardDB(console.db) as db:
        log = db.audit_log(limit=1000)
    actions = {a.action for a in log}
    assert {"login", "view", "search", "export", "print", "copy-all"} <= actions
    assert {a.record_id for a in log if a.action == "print"} == {records[0]["record_id"]}
    assert {a.record_id for a in log if a.action == "export"} == {records[0]["record_id"]}
    text = json.dumps([a.__dict__ for a in log], ensure_ascii=False)
    for rec in records:
        citizen = rec["citizen"]
        for value in (citizen["full_name"], citizen["id_number"], fold(citizen["full_name"])):
            assert value not in text
    assert "pham" not in text and "nhung" not in text


def _events(response: Any, count: int) -> Iterator[tuple[str, str, str]]:
    """(event, id, data) of the next ``count`` events of a server-sent-events stream."""
    name = ident = ""
    data: list[str] = []
    seen = 0
    for line in response.iter_lines():
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("id: "):
            ident = line[4:]
        elif line.startswith("data: "):
            data.append(line[6:])
        elif line == "" and name:
            yield name, ident, "\n".join(data)
            name, ident, data = "", "", []
            seen += 1
            if seen == count:
                return


def test_live_stream_pushes_new_records_and_catches_up(console: Served) -> None:
    first, second, third = make_records(3, seed=11)
    (seq1,) = _store(console, first)
    officer = console.login(OFFICER)
    with officer.stream("GET", f"/events/{STATION}?after={seq1}") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        started = time.monotonic()
        (seq2,) = _store(console, second)
        got = list(_events(stream, 2))
        took = time.monotonic() - started
    assert [(n, i) for n, i, _ in got] == [("record", str(seq2)), ("recent", str(seq2))]
    assert second["citizen"]["full_name"] in got[0][2] and took < 5.0
    (seq3,) = _store(console, third)  # while no page was open
    with officer.stream("GET", f"/events/{STATION}", headers={"Last-Event-ID": str(seq2)}) as s:
        caught = list(_events(s, 2))
    assert caught[0][1] == str(seq3) and third["citizen"]["full_name"] in caught[0][2]
    console.clock.advance(601)  # the session expires while the page is open
    with officer.stream("GET", f"/events/{STATION}?after={seq3}") as s:
        assert s.status_code == 401
    with WardDB(console.db) as db:
        views = [a for a in db.audit_log() if a.action == "view" and a.outcome == "live"]
    assert {a.record_id for a in views} == {second["record_id"], third["record_id"]}


def test_admin_pages_enrol_revoke_users_retention_alerts(console: Served) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from station.sync.signing import public_key_text

    _store(console, *make_records(2))
    admin = console.login(ADMIN)
    token = console.csrf(admin, "/admin/stations")
    key = public_key_text(Ed25519PrivateKey.generate().public_key())
    bad = admin.post("/admin/stations/enroll", data={"station_id": "quay-2", "public_key": "x",
                                                      "csrf_token": token})  # fmt: skip
    assert bad.status_code == 422 and "Khóa công khai không hợp lệ" in bad.text
    done = admin.post("/admin/stations/enroll", data={"station_id": "quay-2", "public_key": key,
                                                       "csrf_token": token})  # fmt: skip
    assert done.status_code == 303
    with WardDB(console.db) as db:
        assert db.public_key("quay-2") == key
        db.update_status(STATION, {"state": "online", "refused": 3, "pending": 1})
    console.clock.advance(2 * 3600)
    admin = console.login(ADMIN)  # the session ended meanwhile
    token = console.csrf(admin, "/admin/stations")
    page = admin.get("/admin/stations").text
    assert re.search(r"Mất kết nối 1[12]\d phút", page) and "Giữ 3 bản ghi bị từ chối" in page
    assert "quay-2" in page and "Chưa kết nối lần nào" in page
    admin.post(f"/admin/stations/{STATION}/revoke", data={"csrf_token": token})
    with WardDB(console.db) as db:
        assert db.public_key(STATION) is None
    user = {"name": "canbo2", "role": "officer", "csrf_token": token}
    short = admin.post("/admin/users", data={**user, "password": "short"})
    assert short.status_code == 422 and "ít nhất 10" in short.text
    added = admin.post("/admin/users", data={**user, "password": "mat-khau-moi-2"})
    assert added.status_code == 303 and "canbo2" in admin.get("/admin/users").text
    console.login(("canbo2", "officer", "mat-khau-moi-2"))
    settings = {"retention_days": "1", "offline_alert_min": "15", "refused_alert_min": "60",
                "waiting_alert_min": "1440"}  # fmt: skip
    assert admin.post("/admin/retention", data={**settings, "csrf_token": token}).status_code == 303
    console.clock.advance(2 * 86400)  # two days later
    admin = console.login(ADMIN)
    token = console.csrf(admin, "/admin/retention")
    assert admin.post("/admin/retention/purge", data={"csrf_token": token}).status_code == 303
    with WardDB(console.db) as db:
        assert db.count() == 0 and db.setting("retention_days") == "1"
        deleted = [a for a in db.audit_log() if a.action == "delete"]
    assert len(deleted) == 2 and {a.user_name for a in deleted} == {"quantri"}
    audit = admin.get("/admin/audit").text
    assert "enroll" in audit and "revoke" in audit and "user-add" in audit
    assert re.search(r"retention.*2 records older than 1 days", audit)


def test_records_waiting_too_long_at_a_station_raise_an_alert(console: Served) -> None:
    """What a stolen station gives away is its undelivered records: the admin sees a
    station whose oldest record has waited past the set age, counting the time since its
    last heartbeat (a station that went silent still holds them)."""
    _store(console, *make_records(1))
    with WardDB(console.db) as db:
        db.update_status(STATION, {"state": "online", "pending": 2,
                                   "oldest_pending_age_s": 23.5 * 3600})  # fmt: skip
        db.update_status("quay-2", {"state": "online", "pending": 0})
    admin = console.login(ADMIN)
    assert "Bản ghi chờ gửi" not in admin.get("/admin/stations").text  # 23.5 h < 24 h
    console.clock.advance(2 * 3600)
    admin = console.login(ADMIN)
    page = admin.get("/admin/stations").text
    assert re.findall(r"Bản ghi chờ gửi đã [^<]*", page) == ["Bản ghi chờ gửi đã 25 giờ"]
    token = console.csrf(admin, "/admin/retention")
    settings = {"retention_days": "0", "offline_alert_min": "15", "refused_alert_min": "60",
                "waiting_alert_min": "1560", "csrf_token": token}  # fmt: skip
    assert admin.post("/admin/retention", data=settings).status_code == 303
    assert "Bản ghi chờ gửi" not in admin.get("/admin/stations").text  # 25.5 h < 26 h


def _image(fmt: str, size: tuple[int, int] = (60, 80)) -> str:
    import base64

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, (200, 150, 120)).save(out, fmt)
    return base64.b64encode(out.getvalue()).decode()


def test_the_face_is_shown_only_when_sent_and_decodable(console: Served) -> None:
    faces = {"jpeg": _image("JPEG"), "jp2": _image("JPEG2000"), "png": _image("PNG"),
             "huge": _image("JPEG", (1500, 1500)), "junk": "bm90IGFuIGltYWdl"}  # fmt: skip
    records = []
    for kind, data in faces.items():
        rec = chip_record(named(a_man(), f"Người Có Ảnh {kind}"))
        rec["chip"]["face"] = {"format": kind, "data_b64": data}
        records.append(rec)
    plain = chip_record(named(a_man(), "Người Không Ảnh"))
    seqs = _store(console, *records, plain)
    officer = console.login(OFFICER)
    answers = [officer.get(f"/records/{seq}/face.png") for seq in seqs]
    assert [a.status_code for a in answers] == [200, 200, 404, 404, 404, 404]
    assert all(a.content.startswith(b"\x89PNG") for a in answers[:2])
    assert 'class="face"' in officer.get(f"/records/{seqs[0]}").text
    assert 'class="face"' not in officer.get(f"/records/{seqs[-1]}").text


def test_the_demo_serves_the_console_with_its_officer(tmp_path: Path) -> None:
    """`station demo` starts the console on loopback and prints where; the demo officer
    logs in there and the counter's reads arrive on the page."""
    import asyncio
    import threading

    import httpx

    from station.sim.demo import DEMO_OFFICER, STATION_ID, run_demo

    seen: list[str] = []
    names: list[str] = []
    done = threading.Event()

    def watch(url: str) -> None:
        with httpx.Client(base_url=url, timeout=30) as client:
            token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
            assert token
            client.post("/login", data={"username": DEMO_OFFICER[0], "password": DEMO_OFFICER[2],
                                        "csrf_token": token[1]})  # fmt: skip
            with client.stream("GET", f"/events/{STATION_ID}") as stream:
                done.set()
                for _, _, data in _events(stream, 1):
                    names.append(data)

    def out(line: str) -> None:
        seen.append(line)
        if line.startswith("ward console: "):
            page = line.split()[2]
            threading.Thread(
                target=watch, args=(page.rsplit("/counter", 1)[0],), daemon=True
            ).start()
            assert done.wait(20), "the console did not answer"

    report = asyncio.run(
        run_demo(1, seed=3, out_dir=tmp_path / "out", terminal=False, out=out, mix=("good",))
    )
    line = next(s for s in seen if s.startswith("ward console: "))
    assert line.split()[2].startswith("http://127.0.0.1:") and DEMO_OFFICER[2] in line
    (record,) = report.records
    wait_for(lambda: names, 10, "the read on the demo officer's page")
    assert record["citizen"]["full_name"] in names[0]
