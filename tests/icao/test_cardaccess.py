"""EF.CardAccess parsing: PACEInfo, PACEDomainParameterInfo, unknown SecurityInfos, bad input."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from station.icao import ec
from station.icao.cardaccess import (
    EC_PUBLIC_KEY,
    CardAccess,
    CardAccessError,
    PaceDomainParameterInfo,
    PaceInfo,
    SecurityInfo,
    oid_decode,
    oid_encode,
    pace_protocol,
)
from station.icao.tlv import parse_one, tlv

H = bytes.fromhex
CA_INFO = tlv(0x30, tlv(0x06, oid_encode("0.4.0.127.0.7.2.2.3.2.1")) + H("020101") + H("020101"))
DOMAIN_INFO = tlv(
    0x30,
    tlv(0x06, oid_encode("0.4.0.127.0.7.2.2.4.2"))
    + tlv(0x30, tlv(0x06, oid_encode("0.4.0.127.0.7.1.2")) + tlv(0x30, H("020101")))
    + H("020120"),
)


def test_oid_round_trip() -> None:
    for dotted in ("0.4.0.127.0.7.2.2.4.2.2", "1.2.840.10045.2.1", "2.999.3"):
        assert oid_decode(oid_encode(dotted)) == dotted
    with pytest.raises(ValueError):
        oid_decode(H("2B86"))


def test_several_infos_are_sorted_and_unknown_kept() -> None:
    dh = PaceInfo(pace_protocol("DH", "3DES"), 2, 0)
    ecdh = PaceInfo(pace_protocol("ECDH", "AES-256"), 2, 17)
    im = PaceInfo("0.4.0.127.0.7.2.2.4.4.2", 2, 13)
    raw = tlv(0x31, dh.encode() + CA_INFO + im.encode() + ecdh.encode() + DOMAIN_INFO)
    card_access = CardAccess.parse(raw)
    assert CardAccess.parse(card_access.encode()) == card_access
    assert card_access.pace_infos == (dh, im, ecdh)
    assert card_access.supported_pace() == (ecdh, dh)
    assert "Generic Mapping" in str(card_access.unsupported_reason(im))
    assert card_access.other == (SecurityInfo("0.4.0.127.0.7.2.2.3.2.1", CA_INFO),)
    (domain,) = card_access.domain_parameter_infos
    assert (domain.algorithm, domain.parameter_id, domain.parameters) == (
        "0.4.0.127.0.7.1.2",
        0x20,
        tlv(0x30, H("020101")),
    )


@pytest.mark.parametrize(
    ("info", "reason"),
    [
        (PaceInfo(pace_protocol("ECDH", "AES-128"), 2, None), "without parameterId"),
        (PaceInfo(pace_protocol("ECDH", "AES-128"), 2, 200), "out of range"),
        (PaceInfo(pace_protocol("ECDH", "AES-128"), 2, 5), "not a standardized"),
        (PaceInfo(pace_protocol("ECDH", "AES-128"), 2, 1), "does not fit"),
        (PaceInfo(pace_protocol("DH", "AES-128"), 2, 13), "does not fit"),
        (PaceInfo(pace_protocol("ECDH", "AES-128"), 1, 13), "version"),
    ],
)
def test_unsupported_reasons(info: PaceInfo, reason: str) -> None:
    card_access = CardAccess((info,))
    assert reason in str(card_access.unsupported_reason(info))
    assert card_access.supported_pace() == ()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "data ended"),
        (H("3003020101"), "expected SET"),
        (H("3100") + b"\x00", "trailing"),
        (H("31030201FF"), "not SEQUENCE"),
        (tlv(0x31, tlv(0x30, H("020101"))), "without protocol"),
        (tlv(0x31, tlv(0x30, H("060280010201FF"))), "leading 0x80"),
        (
            tlv(0x31, tlv(0x30, tlv(0x06, oid_encode(pace_protocol("ECDH", "3DES"))) + H("0400"))),
            "INTEGER",
        ),
        (H("3105300306"), "declares"),
    ],
)
def test_malformed_files_name_the_problem(raw: bytes, message: str) -> None:
    with pytest.raises(CardAccessError, match=message) as caught:
        CardAccess.parse(raw)
    assert "EF.CardAccess" in str(caught.value)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80))
def test_fuzz_only_card_access_errors(raw: bytes) -> None:
    data = b"\x31" + bytes([len(raw)]) + raw
    try:
        card_access = CardAccess.parse(data)
    except CardAccessError:
        return
    again = CardAccess.parse(card_access.encode())
    assert (again.pace_infos, again.domain_parameter_infos) == (
        card_access.pace_infos,
        card_access.domain_parameter_infos,
    )


@pytest.mark.parametrize("pid", [1, 9, 14, 18])
def test_explicit_domain_parameters_round_trip(pid: int) -> None:
    domain = ec.standard_domain(pid)
    explicit = PaceDomainParameterInfo.explicit(domain, 40)
    ka = "ECDH" if isinstance(domain, ec.Curve) else "DH"
    info = PaceInfo(pace_protocol(ka, "AES-128"), 2, 40)
    card_access = CardAccess.parse(CardAccess((info,), (explicit,)).encode())
    parsed = card_access.domain(info)
    assert (parsed.p, parsed.size) == (domain.p, domain.size)
    if isinstance(domain, ec.Curve):
        assert parsed is domain  # recognised: OpenSSL does the ECDH
    assert card_access.supported_pace() == (info,)


def test_unknown_explicit_curve_is_checked() -> None:
    known = ec.standard_domain(13)
    assert isinstance(known, ec.Curve)
    twin = dataclasses.replace(known, gx=ec.scalar_mult(known, 2, known.generator)[0])
    twin = dataclasses.replace(twin, gy=ec.scalar_mult(known, 2, known.generator)[1])
    info = PaceInfo(pace_protocol("ECDH", "AES-128"), 2, 41)
    card_access = CardAccess((info,), (PaceDomainParameterInfo.explicit(twin, 41),))
    parsed = card_access.domain(info)
    assert isinstance(parsed, ec.Curve) and parsed.name == "explicit" and parsed.gx == twin.gx
    wrong_order = dataclasses.replace(twin, n=twin.n - 2)
    bad = CardAccess((info,), (PaceDomainParameterInfo.explicit(wrong_order, 41),))
    assert "not prime" in str(bad.unsupported_reason(info)) or "annihilate" in str(
        bad.unsupported_reason(info)
    )
    dh = ec.standard_domain(0)
    assert isinstance(dh, ec.ModpGroup)
    dh_info = PaceInfo(pace_protocol("DH", "3DES"), 2, 42)
    broken = dataclasses.replace(dh, g=dh.p - 1)
    bad_dh = CardAccess((dh_info,), (PaceDomainParameterInfo.explicit(broken, 42),))
    assert "subgroup" in str(bad_dh.unsupported_reason(dh_info))


REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference-data"


@pytest.mark.parametrize("data_set", ["bsi-tr03105-5", "etsi-tr103200"])
def test_security_infos_made_by_others(data_set: str) -> None:
    """DG14 holds the same SecurityInfos structure as EF.CardAccess: every info kept raw and
    written back byte for byte; the CA key's explicit curve is recognised as a standard one."""
    path = REFERENCE / data_set / "EF_DG14.bin"
    if not path.exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"reference data missing: {path}")
        pytest.skip(f"reference data missing: {path}")
    content = parse_one(path.read_bytes()).value
    parsed = CardAccess.parse(content)
    assert parsed.pace_infos == () and parsed.encode() == content
    assert [o.protocol for o in parsed.other] == [
        "0.4.0.127.0.7.2.2.1.2",  # ChipAuthenticationPublicKeyInfo (ECDH)
        "0.4.0.127.0.7.2.2.3.2.1",  # ChipAuthenticationInfo (ECDH, 3DES)
        "0.4.0.127.0.7.2.2.2",  # TerminalAuthenticationInfo
    ]
    algorithm = parse_one(parsed.other[0].raw).children()[1].children()[0].children()
    assert oid_decode(algorithm[0].value) == EC_PUBLIC_KEY
    explicit = PaceDomainParameterInfo(
        "0.4.0.127.0.7.2.2.4.2", EC_PUBLIC_KEY, tlv(algorithm[1].tag, algorithm[1].value), None
    )
    assert explicit.domain() is ec.standard_domain(11)  # brainpoolP224r1
