"""scripts/install.sh in a fake root: guards, Pi-only steps, idempotence, uninstall.

The harness provides what setup.sh provides (log, die, as_root, apt_install) and
replaces only the venv step (a real pip install needs the network): the station
command in the fake venv runs this checkout. Everything else is real: useradd/usermod
on the fake root's /etc files, openssl key generation, `systemctl --root` enabling.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CLI = "import sys; from station.cli import main; sys.exit(main())"

HARNESS = r"""
set -euo pipefail
HERE="$REPO"; PYTHON=python3
log() { printf '[setup] %s\n' "$*" >&2; }
die() { printf 'die: %s\n' "$*" >&2; exit 1; }
as_root() { "$@"; }
apt_install() { echo "apt $*" >>"$CALLS"; }
source "$REPO/scripts/install.sh"
make_service_venv() {
  local bin="$(st_prefix)/.venv/bin"
  mkdir -p "$bin"
  printf '#!/bin/sh\nexec %s "$@"\n' "$REAL_PY" >"$bin/python"
  printf '#!/bin/sh\nexec %s -c "%s" "$@"\n' "$REAL_PY" "$CLI" >"$bin/station"
  chmod +x "$bin/python" "$bin/station"
  echo "venv [$(venv_extras)]" >>"$CALLS"
}
"$@"
"""

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="chown/useradd need root")


def fake_root(tmp: Path, groups: tuple[str, ...] = ("video", "i2c")) -> Path:
    root = tmp / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (root / "etc/shadow").write_text("root:*:19000:0:99999:7:::\n")
    lines = ["root:x:0:"] + [f"{g}:x:{100 + i}:" for i, g in enumerate(groups)]
    (root / "etc/group").write_text("\n".join(lines) + "\n")
    (root / "etc/gshadow").write_text("".join(f"{g.split(':')[0]}:!::\n" for g in lines))
    if Path("/etc/login.defs").exists():
        shutil.copy("/etc/login.defs", root / "etc/login.defs")
    return root


def run(func: str, root: Path, tmp: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full = dict(os.environ, REPO=str(REPO), STATION_ROOT=str(root), REAL_PY=sys.executable)
    full.update(CALLS=str(tmp / "calls.log"), PYTHONPATH=str(REPO), CLI=CLI, **env)
    return subprocess.run(
        ["bash", "-c", HARNESS, "harness", func],
        env=full,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def guard(func: str, tmp: Path, **env: str) -> bool:
    return run(func, tmp / "nothing", tmp, **env).returncode == 0


def test_model_guards(tmp_path: Path) -> None:
    pi4 = {"STATION_FAKE_MODEL": "Raspberry Pi 4 Model B Rev 1.5"}
    pi5 = {"STATION_FAKE_MODEL": "Raspberry Pi 5 Model B Rev 1.0"}
    cm5 = {"STATION_FAKE_MODEL": "Raspberry Pi Compute Module 5 Rev 1.0"}
    pc = {"STATION_FAKE_MODEL": ""}
    assert guard("is_pi", tmp_path, **pi4) and not guard("is_pi5", tmp_path, **pi4)
    assert guard("is_pi", tmp_path, **pi5) and guard("is_pi5", tmp_path, **pi5)
    assert guard("is_pi5", tmp_path, **cm5)
    assert not guard("is_pi", tmp_path, **pc) and not guard("is_pi5", tmp_path, **pc)


def test_model_read_from_device_tree_under_the_root(tmp_path: Path) -> None:
    root = tmp_path / "r"
    (root / "proc/device-tree").mkdir(parents=True)
    (root / "proc/device-tree/model").write_bytes(b"Raspberry Pi 5 Model B Rev 1.0\0")
    assert run("is_pi5", root, tmp_path).returncode == 0
    assert run("pi_model", root, tmp_path).stdout == "Raspberry Pi 5 Model B Rev 1.0"
    assert run("is_pi", tmp_path / "empty", tmp_path).returncode == 1


def test_systemd_and_polkit_guards(tmp_path: Path) -> None:
    root = tmp_path / "r"
    root.mkdir()
    assert run("has_systemd", root, tmp_path).returncode == 1
    assert run("pcscd_uses_polkit", root, tmp_path).returncode == 1
    (root / "run/systemd/system").mkdir(parents=True)
    (root / "usr/share/polkit-1/actions").mkdir(parents=True)
    (root / "usr/share/polkit-1/actions/org.debian.pcsc-lite.policy").write_text("<x/>")
    assert run("has_systemd", root, tmp_path).returncode == 0
    assert run("pcscd_uses_polkit", root, tmp_path).returncode == 0
    missing = {"STATION_RASPI_CONFIG": "/nonexistent/raspi-config"}
    assert run("has_raspi_config", root, tmp_path, **missing).returncode == 1


@needs_root
def test_install_twice_off_the_pi_skips_pi_steps(tmp_path: Path) -> None:
    root = fake_root(tmp_path)
    env = {"STATION_FAKE_MODEL": "", "STATION_RASPI_CONFIG": "/nonexistent/raspi-config"}
    first = run("pi_install", root, tmp_path, **env)
    assert first.returncode == 0, first.stderr
    assert "not a Raspberry Pi: skipping python3-picamera2 i2c-tools" in first.stderr
    assert "not a Raspberry Pi: skipping I2C/SPI enable" in first.stderr
    assert "group spi does not exist here" in first.stderr
    # what the admin runs on the ward server: printed again as the very last line
    last = first.stderr.strip().splitlines()[-1].strip().removeprefix("[setup]").strip()
    pub_text = (root / "var/lib/station/station_ed25519.pub").read_text().strip()
    assert last.startswith("station ward enroll ") and last.endswith(" " + pub_text), last
    calls = (tmp_path / "calls.log").read_text().splitlines()
    assert not any("picamera2" in c for c in calls)
    assert calls[-1] == "venv []"

    cfg = root / "etc/station/station.toml"
    key = root / "var/lib/station/station_ed25519.key"
    pub = root / "var/lib/station/station_ed25519.pub"
    unit = root / "etc/systemd/system/station.service"
    assert 'hardware = "sim"' in cfg.read_text()
    assert 'audit_log = "/var/log/station/audit.log"' in cfg.read_text()
    assert key.stat().st_mode & 0o777 == 0o600 and len(pub.read_text().strip()) == 44
    assert unit.read_bytes() == (REPO / "systemd/station.service").read_bytes()
    assert (root / "opt/station/src/station/runtime/service.py").exists()
    assert not (root / "opt/station/src/.git").exists()
    assert not list((root / "opt/station/src").rglob("__pycache__"))
    passwd = (root / "etc/passwd").read_text()
    assert "station:x:" in passwd and "/usr/sbin/nologin" in passwd
    group = (root / "etc/group").read_text()
    assert "video:x:100:station" in group and "i2c:x:101:station" in group
    uid = int(passwd.split("station:x:")[1].split(":")[0])
    assert (root / "var/lib/station").stat().st_uid == uid
    assert (root / "var/lib/station").stat().st_mode & 0o777 == 0o700
    if shutil.which("systemctl"):  # enabled offline for the next boot, not started
        assert "enabled for the next boot" in first.stderr
        link = root / "etc/systemd/system/multi-user.target.wants/station.service"
        assert os.readlink(link) == "/etc/systemd/system/station.service"

    trust = root / "var/lib/station/trust"
    assert (trust.stat().st_uid, trust.stat().st_mode & 0o777) == (0, 0o755)  # root's

    # re-run: an upgrade in place keeps config, keys and the outbox, and takes back a
    # trust store an older install gave to the station user
    (trust / "certs").mkdir()
    (trust / "certs" / "a.der").write_bytes(b"anchor")
    for path in (trust, trust / "certs", trust / "certs" / "a.der"):
        os.chown(path, uid, uid)
        path.chmod(0o700)
    cfg.write_text(cfg.read_text() + "\n# edited by the admin\n")
    key_bytes = key.read_bytes()
    outbox = root / "var/lib/station/outbox.db"
    outbox.write_bytes(b"pending records")
    second = run("pi_install", root, tmp_path, **env)
    assert second.returncode == 0, second.stderr
    assert "keeping the existing config" in second.stderr
    assert "keeping the station key pair" in second.stderr
    assert cfg.read_text().endswith("# edited by the admin\n")
    assert key.read_bytes() == key_bytes and outbox.read_bytes() == b"pending records"
    for path, mode in ((trust, 0o755), (trust / "certs", 0o755), (trust / "certs/a.der", 0o644)):
        assert (path.stat().st_uid, path.stat().st_mode & 0o777) == (0, mode), path
    assert passwd.count("station:x:") == (root / "etc/passwd").read_text().count("station:x:")


@needs_root
def test_install_on_a_pi5_with_systemd_runs_the_pi_steps(tmp_path: Path) -> None:
    root = fake_root(tmp_path, ("video", "i2c", "spi", "gpio"))
    (root / "run/systemd/system").mkdir(parents=True)
    (root / "usr/share/polkit-1/actions").mkdir(parents=True)
    (root / "usr/share/polkit-1/actions/org.debian.pcsc-lite.policy").write_text("<x/>")
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    for name in ("raspi-config", "systemctl"):
        script = fake_bin / name
        script.write_text(f'#!/bin/sh\necho "{name} $*" >>"$CALLS"\n')
        script.chmod(0o755)
    env = {
        "STATION_FAKE_MODEL": "Raspberry Pi 5 Model B Rev 1.0",
        "STATION_RASPI_CONFIG": str(fake_bin / "raspi-config"),
        "STATION_SYSTEMCTL": str(fake_bin / "systemctl"),
    }
    done = run("pi_install", root, tmp_path, **env)
    assert done.returncode == 0, done.stderr
    calls = (tmp_path / "calls.log").read_text().splitlines()
    assert "apt python3-picamera2 i2c-tools" in calls
    assert "raspi-config nonint do_i2c 0" in calls and "raspi-config nonint do_spi 0" in calls
    assert "venv [pi5]" in calls
    root_opt = f"--root={root}"
    assert f"systemctl {root_opt} enable --now pcscd.socket station.service" in calls
    assert f"systemctl {root_opt} restart station.service" in calls
    assert 'hardware = "pi"' in (root / "etc/station/station.toml").read_text()
    rule = root / "etc/polkit-1/rules.d/60-pcscd-station.rules"
    assert rule.read_bytes() == (REPO / "systemd/pcscd-station.rules").read_bytes()
    group = (root / "etc/group").read_text()
    assert "spi:x:102:station" in group and "gpio:x:103:station" in group

    gone = run("pi_uninstall", root, tmp_path, **env)
    assert gone.returncode == 0, gone.stderr
    assert not (root / "etc/systemd/system/station.service").exists() and not rule.exists()
    assert not (root / "opt/station").exists()
    assert (root / "var/lib/station/station_ed25519.key").exists()
    assert f"{root}/var/lib/station" in gone.stderr and "userdel station" in gone.stderr
    assert (
        f"systemctl {root_opt} disable --now station.service"
        in (tmp_path / "calls.log").read_text()
    )


@needs_root
def test_keys_made_with_openssl_when_station_keygen_is_missing(tmp_path: Path) -> None:
    import base64

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    root = fake_root(tmp_path)
    bin_dir = root / "opt/station/.venv/bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "station").write_text("#!/bin/sh\nexit 2\n")  # an old build: no keygen
    (bin_dir / "station").chmod(0o755)
    assert run("create_user", root, tmp_path).returncode == 0
    assert run("make_dirs", root, tmp_path).returncode == 0
    done = run("generate_keys", root, tmp_path)
    assert done.returncode == 0 and "(openssl)" in done.stderr, done.stderr
    data = root / "var/lib/station"
    key = serialization.load_pem_private_key(
        (data / "station_ed25519.key").read_bytes(), password=None
    )
    assert isinstance(key, Ed25519PrivateKey)
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert base64.b64decode((data / "station_ed25519.pub").read_text()) == raw
    assert (data / "station_ed25519.key").stat().st_mode & 0o777 == 0o600
