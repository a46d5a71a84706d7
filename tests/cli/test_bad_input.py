"""Every `station` command with bad input: missing, unreadable and wrong-type files, bad
option values, an unreachable or wrong broker. None may print a traceback; usage errors
(and a config that cannot be used) exit 2, other expected failures 1; the message names
the thing (file, option, host) it is about."""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from station.cli import build_parser, main
from station.sim.broker import Broker

STATION = Path(sys.executable).with_name("station")
KEY = "GVvxqjmDYIeUYaVqzPo2nKsmSnD0SK8n8Xt4jdaAv2I="  # any 32 bytes, base64


class Files:
    """Bad inputs of every kind, made once per test in tmp_path."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.missing = root / "missing.file"
        self.folder = root / "a-folder"
        self.folder.mkdir()
        self.garbage = root / "garbage.bin"
        self.garbage.write_bytes(bytes(range(256)) * 3)
        self.text = root / "text.txt"
        self.text.write_text("just some text\n", encoding="utf-8")
        self.bad_toml = root / "bad.toml"
        self.bad_toml.write_text("[camera\n", encoding="utf-8")
        self.invalid = root / "invalid.toml"
        self.invalid.write_text("[camera]\nwidth = 1\n[station]\nid = 'a/b'\n", encoding="utf-8")
        self.data = root / "data"
        self.data.mkdir(mode=0o700)
        self.good = self.config(mqtt_port=1)
        (self.folder / "EF_SOD.bin").write_bytes(b"\x77\x03\x01\x02\x03")
        (self.folder / "DG1.bin").write_bytes(b"\x61\x01")

    def config(self, *, mqtt_port: int, tls: bool = False, name: str = "station.toml") -> Path:
        path = self.root / name
        path.write_text(
            f'[station]\nid = "st-1"\ndata_dir = "{self.data}"\nhardware = "sim"\n'
            f'[mqtt]\nhost = "127.0.0.1"\nport = {mqtt_port}\ntls = {str(tls).lower()}\n',
            encoding="utf-8",
        )
        return path


@pytest.fixture()
def files(tmp_path: Path) -> Files:
    return Files(tmp_path)


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """In-process, as the script runs it; argparse's exits count as statuses."""
    try:
        status = main(argv)
    except SystemExit as exit_:
        status = int(exit_.code or 0)
    out = capsys.readouterr()
    return status, out.out + out.err


def check(argv: list[str], status: int, names: str, capsys: pytest.CaptureFixture[str]) -> str:
    got, text = run(argv, capsys)
    assert "Traceback" not in text and "unexpected error" not in text, text
    assert got == status, f"{argv}: exit {got}, expected {status}\n{text}"
    assert names in text, f"{argv}: the message does not name {names!r}:\n{text}"
    return text


def cases(f: Files) -> list[tuple[list[str], int, str]]:
    """(argv, exit status, what the message must name)."""
    db = str(f.garbage)
    chip = ["read-chip", "--id", "001099012345", "--dob", "1999-03-15"]
    trust = ["--trust-dir", str(f.root / "t")]
    imp = ["trust", "import", *trust]
    tls = ["ward", "serve", "--broker", "mqtts://127.0.0.1:1", "--db", db]
    plain = ["ward", "serve", "--broker", "mqtt://127.0.0.1:1"]
    enroll = ["ward", "enroll", "--db", str(f.root / "w.sqlite")]
    console = ["ward", "console", "--listen", "127.0.0.1:0", "--db", db]
    user = ["ward", "user", "add"]
    udb = str(f.root / "users.sqlite")
    return [
        # config files
        (["run", "--config", str(f.missing)], 2, str(f.missing)),
        (["run", "--config", str(f.folder)], 2, str(f.folder)),
        (["run", "--config", str(f.garbage)], 2, "not UTF-8"),
        (["run", "--config", str(f.bad_toml)], 2, "not valid TOML"),
        (["run", "--config", str(f.invalid)], 2, "camera.width"),
        (["config", "--check", str(f.missing)], 2, str(f.missing)),
        (["config", "--check", str(f.invalid)], 1, "station.id"),
        (["outbox", "status", "--config", str(f.missing)], 2, str(f.missing)),
        (["outbox", "requeue", "--config", str(f.bad_toml)], 2, "not valid TOML"),
        (["keygen", "--config", str(f.missing)], 2, str(f.missing)),
        (["doctor", "--config", str(f.missing)], 2, str(f.missing)),
        (["doctor", "--config", str(f.invalid)], 1, "camera.width"),
        (["trust", "list", "--config", str(f.missing)], 2, str(f.missing)),
        ([*chip, "--config", str(f.missing)], 2, str(f.missing)),
        # QR
        (["scan-qr", str(f.missing)], 1, "no such file"),
        (["scan-qr", str(f.folder)], 1, "folder"),
        (["scan-qr", str(f.garbage), str(f.text)], 1, "not a PNG or JPEG"),
        (["parse-qr", "garbage"], 1, "not the QR code of a 2021 chip CCCD"),
        # MRZ
        (["scan-mrz", str(f.missing)], 1, "no such file"),
        (["scan-mrz", str(f.folder)], 1, "folder"),
        (["scan-mrz", str(f.garbage), str(f.text)], 1, "not a PNG or JPEG"),
        (["read-chip", "--mrz", "IDVNM0990123459001099012345<<0|x|y"], 2, "--mrz"),
        (["parse-qr", "\udcff\udcfe"], 1, "unrecognised"),
        # chip
        (["read-chip", "--id", "12", "--dob", "1999-03-15"], 2, "--id"),
        (["read-chip", "--id", "001099012345", "--dob", "15/03/1999"], 2, "--dob"),
        (["read-chip", "--mrz-key", "abc"], 2, "--mrz-key"),
        (["read-chip", "--qr", "garbage"], 2, "--qr"),
        (["read-chip", "--qr", "x", "--id", "1"], 2, "not allowed with"),
        ([*chip, "--files", "DG99"], 2, "DG99"),
        ([*chip, "--timeout", "-1"], 2, "--timeout"),
        ([*chip, "--reader", "no-such-reader", "--timeout", "1"], 1, "reader"),
        # verify and trust
        (["verify", str(f.missing), *trust], 2, str(f.missing)),
        (["verify", str(f.garbage), *trust], 2, str(f.garbage)),
        (["verify", str(f.data), *trust], 2, "no card files"),
        (["verify", str(f.folder), *trust], 1, "parsing DG1"),
        (["verify", str(f.folder), "--at", "2012-13-45"], 2, "--at"),
        (["verify", str(f.folder), "--qr", "garbage"], 2, "--qr"),
        (["verify", str(f.folder), "--trust-dir", str(f.garbage)], 2, "--trust-dir"),
        ([*imp, str(f.garbage)], 1, str(f.garbage)),
        ([*imp, str(f.missing)], 1, str(f.missing)),
        ([*imp, str(f.folder)], 1, str(f.folder)),
        (["trust", "import", "--trust-dir", str(f.text), str(f.garbage)], 2, "--trust-dir"),
        (["trust", "list", "--trust-dir", str(f.garbage)], 2, str(f.garbage)),
        (["trust", "remove", *trust, "abc"], 1, "8 hex digits"),
        (["trust", "remove", *trust, "abcdef0123"], 1, "abcdef0123"),
        # keys, outbox, demo
        (["keygen", "--data-dir", str(f.garbage)], 1, "--data-dir"),
        (["keygen", "--data-dir", "/proc/no-such-folder"], 1, "/proc/no-such-folder"),
        (["keys", "seal", "--config", str(f.config(mqtt_port=1, name="k.toml"))], 1, "otp_command"),
        (["keys", "unseal", "--config", str(f.bad_toml)], 2, "not valid TOML"),
        (["keys", "status", "--config", str(f.missing)], 2, str(f.missing)),
        (["outbox", "status", "--config", str(f.config(mqtt_port=1, name="o.toml"))], 0, "0"),
        (["demo", "--out", "/proc/no-such-folder", "--cards", "1"], 1, "--out"),
        (["demo", "--out", str(f.garbage), "--cards", "1"], 1, "--out"),
        (["demo", "--cards", "0"], 2, "--cards"),
        (["demo", "--cards", "many"], 2, "--cards"),
        (["--log-level", "bogus", "readers"], 2, "--log-level"),
        # ward
        (["ward", "list", "--db", db], 1, db),
        (["ward", "list", "--db", str(f.folder)], 1, str(f.folder)),
        (["ward", "list", "--db", str(f.missing)], 1, str(f.missing)),
        (["ward", "list", "--limit", "-1", "--db", db], 2, "--limit"),
        (["ward", "list", "--limit", "ten", "--db", db], 2, "--limit"),
        (["ward", "show", "some-id", "--db", db], 1, db),
        (["ward", "export", "--csv", "--db", db], 1, db),
        (["ward", "export", "--json", "--db", db], 1, db),
        (["ward", "stations", "--db", db], 1, db),
        ([*enroll, "a/b#", KEY], 2, "a/b#"),
        ([*enroll, "st-1", "not-a-key"], 2, "station keygen"),
        (["ward", "enroll", "st-1", KEY, "--db", db], 1, db),
        (["ward", "serve", "--broker", "http://x", "--db", db], 2, "http://x"),
        ([*tls, "--ca", str(f.missing)], 2, str(f.missing)),
        ([*tls, "--ca", str(f.garbage)], 2, str(f.garbage)),
        ([*tls, "--cert", str(f.text), "--key", str(f.missing)], 2, str(f.missing)),
        ([*plain, "--password-file", str(f.missing), "--db", db], 2, str(f.missing)),
        ([*plain, "--db", db], 1, db),
        ([*plain, "--reconnect-max", "0"], 2, "--reconnect-max"),
        ([*plain, "--retention-days", "-3"], 2, "--retention-days"),
        ([*plain, "--db", db, "--console", "0.0.0.0:8443"], 2, "needs HTTPS"),
        ([*plain, "--db", db, "--console", "8443"], 2, "HOST:PORT"),
        ([*plain, "--session-idle-min", "0"], 2, "--session-idle-min"),
        # the ward's console, accounts, revocation
        (["ward", "console", "--db", str(f.missing)], 1, str(f.missing)),
        (["ward", "console", "--db", db], 1, db),
        (["ward", "console", "--db", str(f.folder)], 1, str(f.folder)),
        (["ward", "console", "--listen", "0.0.0.0:8443", "--db", db], 2, "needs HTTPS"),
        ([*console, "--tls-cert", str(f.missing), "--tls-key", str(f.text)], 2, str(f.missing)),
        (["ward", "revoke", "st-1", "--db", db], 1, db),
        (["ward", "revoke", "st-1", "--db", str(f.missing)], 1, str(f.missing)),
        ([*user, "a/b", "--role", "officer", "--db", udb], 2, "a/b"),
        ([*user, "canbo", "--role", "root", "--db", udb], 2, "--role"),
        (
            [*user, "canbo", "--role", "officer", "--password-file", str(f.missing), "--db", udb],
            2,
            str(f.missing),
        ),
        (
            [*user, "canbo", "--role", "officer", "--password-file", str(f.garbage), "--db", udb],
            2,
            "not UTF-8",
        ),
        ([*user, "canbo", "--role", "officer", "--password-file", str(f.text), "--db", db], 1, db),
        (["ward", "user", "list", "--db", db], 1, db),
        (["ward", "user", "passwd", "x", "--password-file", str(f.text), "--db", db], 1, db),
        (["ward", "user", "remove", "x", "--db", str(f.missing)], 1, str(f.missing)),
    ]


def test_every_case_names_the_thing_and_exits_as_documented(
    files: Files, capsys: pytest.CaptureFixture[str]
) -> None:
    for argv, status, names in cases(files):
        check(argv, status, names, capsys)


def test_every_command_has_a_bad_input_case(files: Files) -> None:
    """A new command must come with its bad-input cases here."""
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    commands: dict[str, argparse.ArgumentParser] = dict(sub.choices)  # type: ignore[arg-type]
    used = set()
    for argv, _, _ in cases(files):
        at = next(i for i, word in enumerate(argv) if word in commands)
        used.add(tuple(argv[at : at + 2]))
    for name, command in commands.items():
        actions = [a for a in command._actions if a.dest.endswith("_command")]
        if not actions:
            assert any(u[0] == name for u in used), f"no bad-input case for `station {name}`"
            continue
        for action in actions[0].choices:  # type: ignore[union-attr]
            assert (name, action) in used, f"no bad-input case for `station {name} {action}`"


def test_every_option_has_help_text() -> None:
    parser = build_parser()
    missing = []

    def walk(p: object, prefix: str) -> None:
        for action in p._actions:  # type: ignore[attr-defined]
            if getattr(action, "choices", None) and action.dest.endswith("command"):
                for name, child in action.choices.items():
                    walk(child, f"{prefix} {name}")
            elif not action.help and action.dest != "help":
                missing.append(f"{prefix} {'/'.join(action.option_strings) or action.dest}")

    walk(parser, "station")
    assert not missing, missing


@pytest.fixture()
def http_port() -> Iterator[int]:
    """A server on 127.0.0.1 that answers every connection like a web server."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.recv(4096)
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    server.close()
    thread.join(5)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def broker_line(text: str) -> str:
    (line,) = [ln for ln in text.splitlines() if ln.split()[:2] == ["FAIL", "broker"]]
    index = text.splitlines().index(line)
    return "\n".join(text.splitlines()[index : index + 2])


def test_doctor_with_no_broker_a_web_server_and_a_plain_port_under_tls(
    files: Files, http_port: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    down = _closed_port()
    text = check(["doctor", "--config", str(files.config(mqtt_port=down))], 1, "", capsys)
    line = broker_line(text)
    assert f"127.0.0.1:{down}" in line and "Connection refused" in line
    assert "that the broker runs" in line

    cfg = files.config(mqtt_port=http_port, name="http.toml")
    line = broker_line(check(["doctor", "--config", str(cfg)], 1, "", capsys))
    assert f"127.0.0.1:{http_port}" in line and "without an MQTT answer" in line
    assert "credentials" not in line and "web server" in line

    with Broker(tmp_path / "broker", clients=("st-1",)) as broker:
        cfg = files.config(mqtt_port=broker.plain_port, tls=True, name="tls.toml")
        line = broker_line(check(["doctor", "--config", str(cfg)], 1, "", capsys))
    assert "did not speak TLS" in line and "not a TLS listener" in line
    assert "TLS port (8883)" in line


def test_the_installed_script_prints_no_traceback(files: Files) -> None:
    for argv in (
        ["ward", "list", "--db", str(files.garbage)],
        ["demo", "--out", "/proc/no-such-folder", "--cards", "1"],
        ["trust", "import", "--trust-dir", str(files.root / "t"), str(files.garbage)],
    ):
        done = subprocess.run([STATION, *argv], capture_output=True, text=True, timeout=60)
        assert done.returncode == 1, done
        assert "Traceback" not in done.stderr and done.stderr.startswith("station "), done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    done = subprocess.run(
        [STATION, "scan-qr", str(files.missing)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1 and not done.stderr and "no such file" in done.stdout
