"""Keys sealed with the board's OTP key: the SD card alone gives nothing away.

The OTP is read through ``station.otp_command`` (``rpi-otp-private-key`` on a Pi 4/5);
here a script stands in for it, printing what that tool prints: 64 hex digits."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from station import config
from station.cli import main
from station.sync.errors import StoreError, SyncError
from station.sync.outbox import Outbox
from station.sync.sealing import SealError, otp_secret, seal_keys, unseal_keys
from tests.sync.support import make_records

BOARD = "5a" * 32
OTHER_BOARD = "c3" * 32


def otp_tool(tmp: Path, key: str, name: str = "otp") -> str:
    tool = tmp / name
    tool.write_text(f"#!/bin/sh\necho {key}\n")
    tool.chmod(0o755)
    return str(tool)


def station(tmp: Path, board: str = BOARD, card: Path | None = None) -> config.Config:
    data = card or tmp / "card"
    tls = tmp / "tls.key"
    if not tls.exists():
        tls.write_bytes(b"-----BEGIN PRIVATE KEY-----\nTLSKEY\n-----END PRIVATE KEY-----\n")
    tool = otp_tool(tmp, board, f"otp-{board[:2]}")
    cfg = config.replace(
        config.Config(), "station", id="st-1", data_dir=str(data),
        unsealed_dir=str(tmp / "run" / "keys"), otp_command=tool,
    )  # fmt: skip
    return config.replace(cfg, "mqtt", key_file=str(tls))


def secrets_on(card: Path) -> bytes:
    return b"".join(p.read_bytes() for p in card.rglob("*") if p.is_file())


def test_sealed_keys_never_lie_on_the_card_and_records_survive(tmp_path: Path) -> None:
    cfg = station(tmp_path)
    records = make_records(3, station_id="st-1")
    with Outbox.from_config(cfg) as box:
        for r in records:
            box.append(r)
    plain = {n: (cfg.data_dir / n).read_bytes() for n in ("outbox.key", "station_ed25519.key")}
    sealed = seal_keys(cfg, otp_secret(cfg.station.otp_command))
    assert sorted(sealed) == sorted(["outbox.key", "station_ed25519.key", "tls-client.key"])
    assert not (cfg.data_dir / "outbox.key").exists() and not Path(cfg.mqtt.key_file).exists()
    card = secrets_on(cfg.data_dir)
    assert all(key not in card for key in plain.values()) and b"TLSKEY" not in card
    assert seal_keys(cfg, otp_secret(cfg.station.otp_command)) == []  # done once
    # at start: unsealed to RAM (the service's own runtime folder), read from there
    unseal_keys(cfg, otp_secret(cfg.station.otp_command))
    run = Path(cfg.station.unsealed_dir)
    assert stat.S_IMODE(run.stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in run.iterdir()} == {0o600}
    assert cfg.key_file("outbox.key") == run / "outbox.key"
    with Outbox.from_config(cfg) as box:  # the records stored before sealing
        assert box.record_ids() == [r["record_id"] for r in records]
    assert (run / "tls-client.key").read_bytes().startswith(b"-----BEGIN PRIVATE KEY")
    from station.sync.link import LinkSettings

    assert LinkSettings.from_config(cfg).key_file == str(run / "tls-client.key")


def test_a_card_taken_to_another_board_opens_nothing(tmp_path: Path) -> None:
    cfg = station(tmp_path)
    with Outbox.from_config(cfg) as box:
        box.append(make_records(1, station_id="st-1")[0])
    seal_keys(cfg, otp_secret(cfg.station.otp_command))
    stolen = tmp_path / "thief" / "card"
    shutil.copytree(cfg.data_dir, stolen)
    elsewhere = station(tmp_path / "thief", OTHER_BOARD, card=stolen)
    with pytest.raises(SealError, match="does not open with this board's OTP key"):
        unseal_keys(elsewhere, otp_secret(elsewhere.station.otp_command))
    with pytest.raises(SyncError, match="must not be made anew"):
        Outbox.from_config(elsewhere)  # never a new key: not for signing, not over records
    with pytest.raises(StoreError, match="no new key is made"):
        Outbox(elsewhere.store_path, key_file=elsewhere.key_file("outbox.key"),
               signing_key=Ed25519PrivateKey.generate(), create_key=False)  # fmt: skip


def test_a_sealed_key_not_unsealed_is_never_made_anew(tmp_path: Path) -> None:
    cfg = station(tmp_path)
    with Outbox.from_config(cfg) as box:
        box.append(make_records(1, station_id="st-1")[0])
    seal_keys(cfg, otp_secret(cfg.station.otp_command))  # and no unseal: /run is empty
    with pytest.raises(SyncError, match="must not be made anew"):
        Outbox.from_config(cfg)
    assert not cfg.key_file("outbox.key").exists()
    assert [p.name for p in cfg.store_path.glob("seg-*")]  # the records untouched


def test_an_empty_outbox_gets_a_fresh_key_that_only_exists_sealed(tmp_path: Path) -> None:
    cfg = station(tmp_path)
    Outbox.from_config(cfg).close()
    old = (cfg.data_dir / "outbox.key").read_bytes()
    seal_keys(cfg, otp_secret(cfg.station.otp_command))
    unseal_keys(cfg, otp_secret(cfg.station.otp_command))
    assert cfg.key_file("outbox.key").read_bytes() != old


@pytest.mark.parametrize(
    ("output", "message"),
    [("0" * 64, "not programmed"), ("not a key", "no 256-bit OTP key")],
)
def test_no_usable_otp_key(tmp_path: Path, output: str, message: str) -> None:
    with pytest.raises(SealError, match=message):
        otp_secret(otp_tool(tmp_path, f"'{output}'"))
    with pytest.raises(SealError, match="cannot run"):
        otp_secret(str(tmp_path / "no-such-tool"))


def test_the_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = station(tmp_path)
    conf = tmp_path / "station.toml"
    conf.write_text(
        f'[station]\nid = "st-1"\ndata_dir = "{cfg.data_dir}"\n'
        f'unsealed_dir = "{cfg.station.unsealed_dir}"\notp_command = "{cfg.station.otp_command}"\n'
    )
    assert main(["keys", "unseal", "--config", str(conf)]) == 0  # nothing sealed: no-op
    assert "no sealed keys" in capsys.readouterr().out
    box = Outbox.from_config(cfg)
    try:
        assert main(["keys", "seal", "--config", str(conf)]) == 1  # the station runs
        assert "systemctl stop station" in capsys.readouterr().err
    finally:
        box.close()
    assert main(["keys", "seal", "--config", str(conf)]) == 0
    assert "sealed outbox.key" in capsys.readouterr().out
    assert main(["keys", "unseal", "--config", str(conf)]) == 0
    assert main(["keys", "status", "--config", str(conf)]) == 0
    out = capsys.readouterr().out
    assert "outbox.key" in out and "sealed" in out and str(cfg.station.unsealed_dir) in out
    if os.geteuid() == 0:
        assert (Path(cfg.station.unsealed_dir) / "outbox.key").stat().st_uid == 0
