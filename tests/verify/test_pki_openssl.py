"""The test PKI's EF.SOD checked by an independent implementation: OpenSSL's CMS verifier."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from station.icao.tlv import parse_one
from station.sim import pki
from tests.verify.support import KINDS

OPENSSL = shutil.which("openssl")


@pytest.mark.skipif(OPENSSL is None, reason="openssl command not installed")
@pytest.mark.parametrize("kind", KINDS)
def test_openssl_verifies_generated_sod(
    kind: str, pkis: dict[str, pki.TestPki], tmp_path: Path
) -> None:
    chain = pkis[kind]
    sod = pki.build_sod({1: bytes(32), 13: bytes(range(32))}, chain, "sha384")
    (tmp_path / "sod.der").write_bytes(parse_one(sod).value)
    (tmp_path / "csca.pem").write_bytes(chain.csca_cert.public_bytes(serialization.Encoding.PEM))
    args = [str(OPENSSL), "cms", "-verify", "-inform", "DER", "-in", str(tmp_path / "sod.der"),
            "-CAfile", str(tmp_path / "csca.pem"), "-purpose", "any",
            "-out", str(tmp_path / "lso.der"), "-binary"]  # fmt: skip
    done = subprocess.run(args, capture_output=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert (tmp_path / "lso.der").read_bytes() == pki.lds_security_object(
        {1: bytes(32), 13: bytes(range(32))}, "sha384"
    )
