"""SecurityInfos parsing (EF.CardAccess and DG14): PACEInfo, PACEDomainParameterInfo, Chip and
Active Authentication infos, unknown SecurityInfos, bad input."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest
from asn1crypto import keys as asn1_keys
from hypothesis import given, settings
from hypothesis import strategies as st

from station.icao import ec, lds
from station.icao.errors import LdsError
from station.icao.securityinfos import (
    EC_PUBLIC_KEY,
    ID_CA_ECDH_3DES,
    CardAccessError,
    ChipAuthenticationInfo,
    PaceDomainParameterInfo,
    PaceInfo,
    SecurityInfo,
    SecurityInfos,
    SecurityInfosError,
    oid_decode,
    oid_encode,
    pace_protocol,
)
from station.icao.tlv import parse_one, tlv

H = bytes.fromhex
CA_INFO = tlv(0x30, tlv(0x06, oid_encode(ID_CA_ECDH_3DES)) + H("020101") + H("020101"))
TA_INFO = tlv(0x30, tlv(0x06, oid_encode("0.4.0.127.0.7.2.2.2")) + H("020101"))
DOMAIN_INFO = tlv(
    0x30,
    tlv(0x06, oid_encode("0.4.0.127.0.7.2.2.4.2"))
    + tlv(0x30, tlv(0x06, oid_encode("0.4.0.127.0.7.1.2")) + tlv(0x30, H("020101")))
    + H("020120"),
)


def test_oid_round_trip() -> None:
    for dotted in ("0.4.0.127.0.7.2.2.4.2.2", "1.2.840.10045.2.1", "2.999.3"):
        assert oid_decode(oid_encode(dotted)) == dotted
    for bad in ("2B86", "800102", ""):  # truncated, a leading 0x80, empty: not DER
        with pytest.raises(ValueError):
            oid_decode(H(bad))


def test_several_infos_are_sorted_and_unknown_kept() -> None:
    dh = PaceInfo(pace_protocol("DH", "3DES"), 2, 0)
    ecdh = PaceInfo(pace_protocol("ECDH", "AES-256"), 2, 17)
    im = PaceInfo("0.4.0.127.0.7.2.2.4.4.2", 2, 13)
    raw = tlv(0x31, dh.encode() + CA_INFO + im.encode() + TA_INFO + ecdh.encode() + DOMAIN_INFO)
    card_access = SecurityInfos.parse(raw)
    assert card_access.encode() == raw
    assert SecurityInfos.parse(card_access.encode()) == card_access
    assert card_access.pace_infos == (dh, im, ecdh)
    assert card_access.supported_pace() == (ecdh, dh)
    assert "Generic Mapping" in str(card_access.unsupported_reason(im))
    assert card_access.ca_infos == (ChipAuthenticationInfo(ID_CA_ECDH_3DES, 1, 1),)
    assert card_access.other == (SecurityInfo("0.4.0.127.0.7.2.2.2", TA_INFO),)
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
    card_access = SecurityInfos((info,))
    assert reason in str(card_access.unsupported_reason(info))
    assert card_access.supported_pace() == ()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", r"expected SET \(31\), found nothing \(offset 0\)"),
        (H("3003020101"), r"expected SET \(31\), found 30"),
        (H("3100") + b"\x00", "trailing data"),
        (H("31030201FF"), r"SecurityInfo: .*constructed, but primitive .*\(offset 2\)"),
        (tlv(0x31, tlv(0x30, H("020101"))), "SecurityInfo: .*missing"),
        (
            tlv(0x31, TA_INFO + tlv(0x30, H("060280010201FF"))),
            rf"OID 8001 is not DER \(offset {2 + len(TA_INFO)}\)",
        ),
        (
            tlv(0x31, tlv(0x30, tlv(0x06, oid_encode(pace_protocol("ECDH", "3DES"))) + H("0400"))),
            "PACEInfo .*tag should have been 2",
        ),
        (H("3105300306"), "5 bytes requested but only 3"),
    ],
)
def test_malformed_files_name_the_problem(raw: bytes, message: str) -> None:
    with pytest.raises(CardAccessError, match=message) as caught:
        SecurityInfos.parse(raw)
    assert "EF.CardAccess" in str(caught.value)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80))
def test_fuzz_only_card_access_errors(raw: bytes) -> None:
    data = b"\x31" + bytes([len(raw)]) + raw
    try:
        card_access = SecurityInfos.parse(data)
    except CardAccessError:
        return
    again = SecurityInfos.parse(card_access.encode())
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
    card_access = SecurityInfos.parse(SecurityInfos((info, explicit)).encode())
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
    card_access = SecurityInfos((info, PaceDomainParameterInfo.explicit(twin, 41)))
    parsed = card_access.domain(info)
    assert isinstance(parsed, ec.Curve) and parsed.name == "explicit" and parsed.gx == twin.gx
    wrong_order = dataclasses.replace(twin, n=twin.n - 2)
    bad = SecurityInfos((info, PaceDomainParameterInfo.explicit(wrong_order, 41)))
    assert "not prime" in str(bad.unsupported_reason(info)) or "annihilate" in str(
        bad.unsupported_reason(info)
    )
    dh = ec.standard_domain(0)
    assert isinstance(dh, ec.ModpGroup)
    dh_info = PaceInfo(pace_protocol("DH", "3DES"), 2, 42)
    broken = dataclasses.replace(dh, g=dh.p - 1)
    bad_dh = SecurityInfos((dh_info, PaceDomainParameterInfo.explicit(broken, 42)))
    assert "subgroup" in str(bad_dh.unsupported_reason(dh_info))


REFERENCE = Path(__file__).resolve().parents[2] / "data" / "reference"


@pytest.mark.parametrize("data_set", ["bsi-tr03105-5", "etsi-tr103200"])
def test_security_infos_made_by_others(data_set: str) -> None:
    """DG14 of others' test documents: every info typed (or kept raw) and written back byte for
    byte; the CA key's explicit curve is recognised as a standard one, by the same code PACE's
    explicit domain parameters go through."""
    path = REFERENCE / data_set / "EF_DG14.bin"
    if not path.exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"reference data missing: {path}")
        pytest.skip(f"reference data missing: {path}")
    dg14 = path.read_bytes()
    parsed = lds.load("DG14", dg14)
    assert isinstance(parsed, SecurityInfos)
    assert parsed.pace_infos == () and parsed.encode() == parse_one(dg14).value
    assert [info.protocol for info in parsed.ca_public_keys] == ["0.4.0.127.0.7.2.2.1.2"]
    assert parsed.ca_infos == (ChipAuthenticationInfo(ID_CA_ECDH_3DES, 1, None),)
    assert [o.protocol for o in parsed.other] == ["0.4.0.127.0.7.2.2.2"]  # Terminal Auth.
    (option,) = parsed.ca_options()
    assert (option.agreement, option.cipher, option.version) == ("ecdh", "3DES", 1)
    algorithm = asn1_keys.PublicKeyInfo.load(option.public_key)["algorithm"]
    assert algorithm["algorithm"].dotted == EC_PUBLIC_KEY
    explicit = PaceDomainParameterInfo(
        "0.4.0.127.0.7.2.2.4.2", EC_PUBLIC_KEY, algorithm["parameters"].dump(), None
    )
    assert explicit.domain() is ec.standard_domain(11)  # brainpoolP224r1


def test_dg14_errors_are_lds_errors_naming_dg14() -> None:
    bad = tlv(0x6E, tlv(0x31, tlv(0x30, tlv(0x06, oid_encode(ID_CA_ECDH_3DES)) + H("0400"))))
    with pytest.raises(
        SecurityInfosError, match=r"parsing DG14: ChipAuthenticationInfo .*\(offset 4\)"
    ):
        lds.load("DG14", bad)
    with pytest.raises(LdsError) as caught:
        lds.load("DG14", tlv(0x6E, H("3003020101")))
    assert not isinstance(caught.value, CardAccessError)  # DG14 is no reason to skip PACE
