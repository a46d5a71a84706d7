"""`station trust ...` and `station verify DIR`, run through the real CLI entry point."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

import pytest

from station.cli import main
from tests.verify.support import ReadCard

NL = "nl-masterlist"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def test_trust_import_list_remove(reference: Path, tmp_path: Path, capsys) -> None:
    store = str(tmp_path / "trust")
    code, out = _run(capsys, "trust", "import", "--trust-dir", store, "--json",
                     str(reference / NL / "NL_MASTERLIST_20211207.mls"),
                     str(reference / NL / "COL.crl"))  # fmt: skip
    assert code == 0
    ml_report, crl_report = (json.loads(line) for line in out.splitlines())
    assert ml_report["master_list"]["signature_valid"] is True
    assert "Masterlist Signer NL" in ml_report["master_list"]["signer"]
    assert ml_report["added_certificates"] == 306 and crl_report["added_crls"] == 1
    code, out = _run(capsys, "trust", "list", "--trust-dir", store, "--json")
    rows = json.loads(out)
    assert code == 0 and len(rows) == 307
    colombia = next(r for r in rows if r["kind"] == "crl")
    assert colombia["not_after"].startswith("2020-08-06")
    target = next(
        r for r in rows if "CSCA NL" in r["subject"] and "Serial Number: 6" in r["subject"]
    )
    code, out = _run(capsys, "trust", "remove", "--trust-dir", store, target["sha256"][:12])
    assert code == 0 and target["sha256"] in out
    code, out = _run(capsys, "trust", "list", "--trust-dir", store)
    assert "305 certificate(s), 1 CRL(s)" in out
    assert main(["trust", "remove", "--trust-dir", store, "0000"]) == 1


def test_tampered_master_list_is_refused(reference: Path, tmp_path: Path, capsys) -> None:
    data = bytearray((reference / NL / "NL_MASTERLIST_20211207.mls").read_bytes())
    data[len(data) // 2] ^= 0x01  # inside the certificate list (signed content)
    bad = tmp_path / "bad.mls"
    bad.write_bytes(bytes(data))
    store = str(tmp_path / "trust")
    code, _ = _run(capsys, "trust", "import", "--trust-dir", store, str(bad))
    assert code == 1
    assert "signature invalid" in capsys.readouterr().err or not (tmp_path / "trust").exists()
    assert not list((tmp_path / "trust").glob("certs/*.der"))


def test_verify_reference_dump(reference: Path, tmp_path: Path, capsys) -> None:
    code, out = _run(capsys, "verify", "--trust-dir", str(tmp_path), "--json",
                     str(reference / "etsi-tr103200"))  # fmt: skip
    result = json.loads(out)
    assert code == 1
    v = result["verification"]
    assert v["level"] == "signed-untrusted" and v["passive"] == "untrusted-signer"
    assert "ETSI DS" in v["signer"]["subject"]


def test_verify_saved_emulated_card(pkis, citizen, read_card: ReadCard, tmp_path, capsys) -> None:
    live = read_card(citizen, pkis["p256"], dg15_if_needed=False)  # DG15 saved too
    dump = tmp_path / "dump"
    dump.mkdir()
    for name, data in live.read.files.items():
        (dump / f"{name}.bin").write_bytes(data)
    trust = tmp_path / "trust"
    (trust / "certs").mkdir(parents=True)
    (trust / "certs" / "csca.der").write_bytes(pkis["p256"].csca_der)
    code, out = _run(capsys, "verify", "--trust-dir", str(trust), "--qr", citizen.qr_payload(),
                     "--json", str(dump))  # fmt: skip
    v = json.loads(out)["verification"]
    assert (v["passive"], v["qr_chip_match"], v["active"]) == ("ok", True, "not-checked")
    assert v["level"] == "signed-untrusted" and code == 1  # offline: never "verified"
    code, out = _run(capsys, "verify", "--trust-dir", str(trust), str(dump))
    assert code == 1 and out.startswith("SIGNED-UNTRUSTED")
    # a default read's dump: CA passed on the card, so no DG15 was read; offline, CA cannot
    # be re-run and AA has no key: still never "verified"
    (dump / "DG15.bin").unlink()
    code, out = _run(capsys, "verify", "--trust-dir", str(trust), "--json", str(dump))
    v = json.loads(out)["verification"]
    assert (v["active"], v["chip_auth"], v["level"]) == (
        "not-supported", "not-checked", "signed-untrusted",
    ) and code == 1  # fmt: skip


def test_trust_changes_are_audited_and_readable_whatever_the_umask(
    pkis, tmp_path: Path, capsys
) -> None:
    from station import config
    from station.audit import AuditLog

    chain = pkis["p256"]
    (tmp_path / "csca.der").write_bytes(chain.csca_der)
    (tmp_path / "ca.crl").write_bytes(chain.crl_der)
    conf = tmp_path / "station.toml"
    conf.write_text(f'[station]\ndata_dir = "{tmp_path / "data"}"\n')
    cfg = config.load(conf)
    old = os.umask(0o077)
    try:
        code, out = _run(capsys, "trust", "import", "--config", str(conf),
                         str(tmp_path / "csca.der"), str(tmp_path / "ca.crl"))  # fmt: skip
    finally:
        os.umask(old)
    assert code == 0 and "warning" not in out
    store = cfg.trust_dir
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in store.rglob("*")}
    assert {m for n, m in modes.items() if n.endswith(".der")} == {0o644}
    assert modes["certs"] == modes["crls"] == 0o755
    fp = hashlib.sha256(chain.csca_der).hexdigest()
    for log in (AuditLog(store / "audit.log"), AuditLog(cfg.audit_path)):
        lines = [(a["event"], a["fingerprint"]) for a in log.read()]
        assert ("trust-added", fp) in lines and len(lines) == 2
    code, _ = _run(capsys, "trust", "remove", "--config", str(conf), fp[:16])
    assert code == 0
    removed = AuditLog(store / "audit.log").read()[-1]
    assert (removed["event"], removed["fingerprint"]) == ("trust-removed", fp)
    assert removed["outcome"].startswith("certificate ") and "CSCA" in removed["outcome"]
    station_line = AuditLog(cfg.audit_path).read()[-1]
    assert {**station_line, "at": removed["at"]} == removed


def test_a_non_ca_anchor_is_installed_with_a_warning(pkis, tmp_path: Path, capsys) -> None:
    dsc = tmp_path / "dsc.der"
    dsc.write_bytes(pkis["rsa"].dsc_der)  # a document signer, not a CSCA
    store = str(tmp_path / "trust")
    code, out = _run(capsys, "trust", "import", "--trust-dir", store, str(dsc))
    assert code == 0 and "warning:" in out and "not a CA certificate" in out
    code, out = _run(capsys, "trust", "import", "--trust-dir", store, "--json", str(dsc))
    assert json.loads(out)["already_present"] == 1


def test_trust_list_shows_the_ward_bundle_and_doctor_counts_pinned_signers(
    tmp_path: Path, capsys
) -> None:
    """With a config, `trust list` shows what the ward's signed bundle installed, with its
    origin; the doctor warns that only pinned signers' cards can be verified."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from station import config
    from station.doctor.checks import check_trust
    from station.runtime.trust import bundle_dir
    from station.sim import pki
    from station.sync.signing import public_key_text
    from station.verify.bundle import install_bundle, seal_bundle

    ward = Ed25519PrivateKey.generate()
    chain = pki.make_test_pki("p256", name="Listed")
    path = tmp_path / "station.toml"
    path.write_text(
        f'[station]\ndata_dir = "{tmp_path / "data"}"\n'
        f'[mqtt]\nward_key = "{public_key_text(ward.public_key())}"\n',
        encoding="utf-8",
    )
    cfg = config.load(path)
    assert check_trust(cfg).status == "FAIL"  # nothing installed yet
    install_bundle(bundle_dir(cfg), seal_bundle(3, pinned_ds=[chain.dsc_der], key=ward),
                   ward.public_key())  # fmt: skip
    code, out = _run(capsys, "trust", "list", "--config", str(path))
    assert code == 0 and "pinned-ds" in out and "ward bundle v3" in out
    assert "0 certificate(s), 0 CRL(s), 1 pinned DS" in out
    code, out = _run(capsys, "trust", "list", "--config", str(path), "--json")
    (row,) = json.loads(out)
    assert row["origin"] == "ward bundle v3"
    assert row["sha256"] == hashlib.sha256(chain.dsc_der).hexdigest()
    doctor = check_trust(cfg)
    assert doctor.status == "WARN" and "1 pinned document signer" in doctor.summary
    # the same folder without the config: the local store only
    code, out = _run(capsys, "trust", "list", "--trust-dir", str(cfg.trust_dir))
    assert "pinned-ds" not in out
