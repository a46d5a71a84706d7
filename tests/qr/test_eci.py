"""QR bytes to text: ECI designators honoured; without one UTF-8 where valid, else ISO-8859-1."""

from __future__ import annotations

import io

import numpy as np
import pytest
import segno
from PIL import Image

from station.qr.decoder import QrDecoder, eci_bytes
from station.qr.models import QrStatus
from station.qr.payload import decode_text, parse_payload

NAME = "Hoàng Minh Quân"  # fits ISO-8859-1
PAYLOAD = f"001099012345||{NAME}|15031999|Nam||10052021"
DECODER = QrDecoder()


def _frame(code: segno.QRCode) -> np.ndarray:
    out = io.BytesIO()
    code.save(out, kind="png", scale=4, border=4)
    out.seek(0)
    with Image.open(out) as image:
        return np.asarray(image.convert("L"), dtype=np.uint8)


@pytest.mark.parametrize(
    ("encoding", "eci"),
    [("latin1", True), ("latin1", False), ("utf-8", True), ("utf-8", False), ("cp1252", True)],
)
def test_a_standard_qr_reads_whatever_its_character_set(encoding: str, eci: bool) -> None:
    """A standards-conforming code: ISO-8859-1 byte mode without ECI is the default, and
    was read as damaged text before."""
    code = segno.make(PAYLOAD, encoding=encoding, eci=eci, micro=False)
    (payload,) = DECODER.decode(_frame(code))
    result = parse_payload(payload)
    assert result.status is QrStatus.OK and not result.errors
    assert result.identity is not None and result.identity.full_name == NAME


def test_the_eci_protocol_text_is_parsed() -> None:
    hexed = lambda data: " ".join(f"{b:02X}" for b in data)  # noqa: E731
    assert eci_bytes(hexed(b"]Q1Qu\xe2n"), b"Qu\xe2n") == b"Qu\xe2n"  # no ECI: raw bytes
    assert eci_bytes(hexed(b"]Q2\\000003Qu\xe2n"), b"") == "Quân".encode()
    both = b"]Q2\\000003\xe2\\000026\xc3\xa2\\\\x"  # a latin-1 segment, a UTF-8 one, a '\'
    assert eci_bytes(hexed(both), b"") == "ââ\\x".encode()
    assert "\ufffd" in eci_bytes(hexed(b"]Q2\\000999abc"), b"").decode()  # unknown ECI
    assert eci_bytes("not hex", b"raw") == b"raw"


def test_bytes_without_eci() -> None:
    assert decode_text(NAME.encode("utf-8")) == NAME
    assert decode_text(NAME.encode("latin-1")) == NAME
    broken = NAME.encode("utf-8")[:-3] + b"\xe1\xbb|"  # a cut UTF-8 sequence: damaged
    assert "\ufffd" in decode_text(broken)
    damaged = parse_payload(f"001099012345||{NAME}|15031999|Nam||10052021".encode()[:20] + b"\xc3")
    assert damaged.status is QrStatus.UNRECOGNISED


def test_replacement_characters_stay_an_error() -> None:
    result = parse_payload(PAYLOAD.replace("â", "\ufffd").encode("utf-8"))
    assert result.status is QrStatus.INVALID and result.identity is None
    assert "damaged_text" in {e.code for e in result.errors}
