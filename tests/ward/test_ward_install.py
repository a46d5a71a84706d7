"""scripts/ward-install.sh in a fake root, and the unit it installs.

The harness provides what setup.sh provides (log, die, as_root, apt_install) and replaces
only the venv step (a real pip install needs the network). Everything else is real:
useradd on the fake root's /etc files, the certificates made by the deploy script, file
modes and owners, `systemctl --root` enabling, systemd-analyze on the unit.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from station.cli import build_parser
from tests.test_install import fake_root

REPO = Path(__file__).resolve().parents[2]
UNIT = REPO / "systemd" / "ward.service"
ENV = REPO / "deploy" / "ward" / "ward.env"

HARNESS = r"""
set -euo pipefail
HERE="$REPO"; PYTHON=python3
log() { printf '[setup] %s\n' "$*" >&2; }
die() { printf 'die: %s\n' "$*" >&2; exit 1; }
as_root() { "$@"; }
apt_install() { echo "apt $*" >>"$CALLS"; }
source "$REPO/scripts/ward-install.sh"
ward_venv() { mkdir -p "$(wd_prefix)/.venv/bin"; echo "venv [ward]" >>"$CALLS"; }
"$@"
"""

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="chown/useradd need root")


def run(func: str, root: Path, tmp: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full = dict(os.environ, REPO=str(REPO), WARD_ROOT=str(root), CALLS=str(tmp / "calls.log"))
    full.update(env)
    return subprocess.run(
        ["bash", "-c", HARNESS, "harness", func],
        env=full, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def _owner(path: Path) -> tuple[int, int, int]:
    st = path.stat()
    return st.st_uid, st.st_gid, st.st_mode & 0o777


@needs_root
def test_ward_install_twice_then_uninstall(tmp_path: Path) -> None:
    root = fake_root(tmp_path)
    certs = root / "etc/mosquitto/cccd"
    subprocess.run(
        ["sh", str(REPO / "deploy/mosquitto/make-certs.sh"), str(certs), "ward.example", "ward"],
        check=True, capture_output=True,
    )  # fmt: skip
    first = run("ward_install", root, tmp_path)
    assert first.returncode == 0, first.stderr
    calls = (tmp_path / "calls.log").read_text().splitlines()
    assert calls[0].startswith("apt ") and "libpango-1.0-0" in calls[0] and "venv [ward]" in calls
    passwd = (root / "etc/passwd").read_text()
    assert "ward:x:" in passwd and "/usr/sbin/nologin" in passwd
    uid, gid = (int(x) for x in passwd.split("ward:x:")[1].split(":")[:2])
    assert _owner(root / "var/lib/ward") == (uid, gid, 0o700)
    assert _owner(root / "etc/ward") == (0, gid, 0o750)
    assert _owner(root / "etc/ward/ward.env") == (0, gid, 0o640)
    for key in ("ward.key", "console.key"):  # the service may read them; no other user
        assert _owner(root / "etc/ward/tls" / key) == (0, gid, 0o640)
    assert (root / "etc/ward/tls/console.crt").read_bytes() == (certs / "server.crt").read_bytes()
    assert (root / "etc/systemd/system/ward.service").read_bytes() == UNIT.read_bytes()
    assert (root / "opt/ward/src/station/ward/console/static/vendor/htmx-2.0.11.min.js").exists()
    assert not (root / "opt/ward/src/.git").exists()
    assert "ward user add ADMIN --role admin" in first.stderr
    if shutil.which("systemctl"):
        link = root / "etc/systemd/system/multi-user.target.wants/ward.service"
        assert os.readlink(link) == "/etc/systemd/system/ward.service"

    env = root / "etc/ward/ward.env"
    env.write_text(env.read_text() + "\n# edited by the admin\n")
    db = root / "var/lib/ward/ward.sqlite"
    db.write_bytes(b"records")
    second = run("ward_install", root, tmp_path)
    assert second.returncode == 0, second.stderr
    assert "keeping the existing settings" in second.stderr
    assert env.read_text().endswith("# edited by the admin\n") and db.read_bytes() == b"records"
    assert passwd.count("ward:x:") == (root / "etc/passwd").read_text().count("ward:x:")

    gone = run("ward_uninstall", root, tmp_path)
    assert gone.returncode == 0, gone.stderr
    assert not (root / "etc/systemd/system/ward.service").exists()
    assert not (root / "opt/ward").exists() and db.exists() and env.exists()
    assert "userdel ward" in gone.stderr


@needs_root
def test_without_certificates_it_says_how_to_make_them(tmp_path: Path) -> None:
    root = fake_root(tmp_path)
    done = run("ward_install", root, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "make-certs.sh /etc/mosquitto/cccd" in done.stderr
    assert not list((root / "etc/ward/tls").iterdir())


def _exec_start() -> list[str]:
    text = UNIT.read_text()
    line = re.search(r"^ExecStart=(.*?)(?<!\\)$", text, flags=re.M | re.S)
    assert line
    return shlex.split(line[1].replace("\\\n", " "))


def test_the_unit_runs_a_command_the_cli_knows_with_every_setting_defined() -> None:
    settings = dict(
        line.split("=", 1)
        for line in ENV.read_text().splitlines()
        if line and not line.startswith("#")
    )
    argv = _exec_start()
    used = {m for word in argv for m in re.findall(r"\$\{(\w+)\}", word)}
    assert used == set(settings), used ^ set(settings)
    words = [re.sub(r"\$\{(\w+)\}", lambda m: settings[m[1]], w) for w in argv[1:]]
    args = build_parser().parse_args(words)
    assert args.ward_command == "serve" and args.console == "0.0.0.0:8443"
    assert args.tls_cert == "/etc/ward/tls/console.crt" and args.session_idle_min == 60


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze")
def test_the_unit_is_sandboxed_and_restarts() -> None:
    text = UNIT.read_text()
    for option in ("Restart=always", "User=ward", "NoNewPrivileges=yes", "ProtectSystem=strict",
                   "PrivateTmp=yes", "PrivateDevices=yes", "CapabilityBoundingSet=\n"):  # fmt: skip
        assert option in text, option
    done = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", "--threshold=20", str(UNIT)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:]
    exposure = re.search(r"Overall exposure level for ward.service: ([0-9.]+)", done.stdout)
    assert exposure and float(exposure[1]) <= 2.0
