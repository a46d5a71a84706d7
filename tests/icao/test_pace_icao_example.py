"""ICAO 9303-11 Appendix G.1 (ECDH Generic Mapping, brainpoolP256r1, AES-128), step by step,
then the same exchange replayed through `establish` with the example's fixed keys."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest

from station.icao import ec, pace
from station.icao.apdu import CommandAPDU, ResponseAPDU
from station.icao.securityinfos import PaceInfo, SecurityInfos, pace_protocol

H = bytes.fromhex
PROTOCOL = "0.4.0.127.0.7.2.2.4.2.2"  # id-PACE-ECDH-GM-AES-CBC-CMAC-128
MRZ_INFO = "T220001293" + "6408125" + "1010318"
Z = H("95A3A016522EE98D01E76CB6B98B42C3")
NONCE = H("3F00C4D39D153F2B2A214A078D899B22")
T_MAP = 0x7F4EF07B9EA82FD78AD689B38D0BC78CF21F249D953BC46F4C6E19259C010F99
PCD_MAP_PUB = H(
    "047ACF3EFC982EC45565A4B155129EFBC74650DCBFA6362D896FC70262E0C2CC5E"
    "544552DCB6725218799115B55C9BAA6D9F6BC3A9618E70C25AF71777A9C4922D"
)
IC_MAP_PUB = H(
    "04824FBA91C9CBE26BEF53A0EBE7342A3BF178CEA9F45DE0B70AA601651FBA3F57"
    "30D8C879AAA9C9F73991E61B58F4D52EB87A0A0C709A49DC63719363CCD13C54"
)
H_POINT = H(
    "0460332EF2450B5D247EF6D3868397D398852ED6E8CAF6FFEEF6BF85CA57057FD5"
    "0840CA7415BAF3E43BD414D35AA4608B93A2CAF3A4E3EA4E82C9C13D03EB7181"
)
G_MAPPED = H(
    "048CED63C91426D4F0EB1435E7CB1D74A46723A0AF21C89634F65A9AE87A9265E2"
    "8C879506743F8611AC33645C5B985C80B5F09A0B83407C1B6A4D857AE76FE522"
)
T_EPH = 0xA73FB703AC1436A18E0CFA5ABB3F7BEC7A070E7A6788486BEE230C4A22762595
PCD_EPH_PUB = H(
    "042DB7A64C0355044EC9DF190514C625CBA2CEA48754887122F3A5EF0D5EDD301C"
    "3556F3B3B186DF10B857B58F6A7EB80F20BA5DC7BE1D43D9BF850149FBB36462"
)
IC_EPH_PUB = H(
    "049E880F842905B8B3181F7AF7CAA9F0EFB743847F44A306D2D28C1D9EC65DF6DB"
    "7764B22277A2EDDC3C265A9F018F9CB852E111B768B326904B59A0193776F094"
)
SECRET = H("28768D20701247DAE81804C9E780EDE582A9996DB4A315020B2733197DB84925")
KS_ENC = H("F5F0E35C0D7161EE6724EE513A0D9A7F")
KS_MAC = H("FE251C7858B356B24514B3BD5F4297D1")
T_IFD = H("C2B0BD78D94BA866")
T_IC = H("3ABB9674BCE93C08")

PASSWORD = pace.PacePassword.from_mrz("T22000129", "640812", "101031")


def test_password_and_nonce() -> None:
    assert PASSWORD.secret == hashlib.sha1(MRZ_INFO.encode()).digest()
    assert PASSWORD.secret == H("7E2D2A41C74EA0B38CD36F863939BFA8E9032AAD")
    k_pi = pace.password_key(PASSWORD, "AES-128")
    assert k_pi == H("89DED1B26624EC1E634C1989302849DD")
    assert pace.decrypt_nonce("AES-128", k_pi, Z) == NONCE
    assert pace.encrypt_nonce("AES-128", k_pi, NONCE) == Z


def test_mapping_agreement_keys_and_tokens() -> None:
    group = pace.standard_group(13)
    assert isinstance(group, pace.EcGroup)
    curve = group.curve
    assert group.public_key(T_MAP) == PCD_MAP_PUB
    h_point = ec.scalar_mult(curve, T_MAP, ec.decode_point(curve, IC_MAP_PUB))
    assert ec.encode_point(curve, h_point) == H_POINT
    mapped = group.mapped(NONCE, T_MAP, IC_MAP_PUB)
    assert isinstance(mapped, pace.EcGroup)
    assert ec.encode_point(curve, mapped.generator) == G_MAPPED
    assert mapped.public_key(T_EPH) == PCD_EPH_PUB
    assert mapped.shared_secret(T_EPH, IC_EPH_PUB) == SECRET
    assert pace.session_keys("AES-128", SECRET) == (KS_ENC, KS_MAC)
    assert pace.auth_token("AES-128", KS_MAC, PROTOCOL, mapped, IC_EPH_PUB) == T_IFD
    assert pace.auth_token("AES-128", KS_MAC, PROTOCOL, mapped, PCD_EPH_PUB) == T_IC


class ScriptedCard:
    """Replays the example's card answers and checks every command byte for byte."""

    def __init__(self, script: list[tuple[str, str]]) -> None:
        self.script: Iterator[tuple[str, str]] = iter(script)

    def send(self, cmd: CommandAPDU) -> ResponseAPDU:
        expected, answer = next(self.script)
        assert cmd.encode().hex().upper() == expected
        return ResponseAPDU.parse(H(answer))


def _script(t_ic: bytes = T_IC) -> list[tuple[str, str]]:
    return [
        ("0022C1A412800A04007F0007020204020283010184010D", "9000"),
        ("10860000027C0000", "7C128010" + Z.hex() + "9000"),
        (
            "1086000045" + "7C438141" + PCD_MAP_PUB.hex().upper() + "00",
            "7C438241" + IC_MAP_PUB.hex() + "9000",
        ),
        (
            "1086000045" + "7C438341" + PCD_EPH_PUB.hex().upper() + "00",
            "7C438441" + IC_EPH_PUB.hex() + "9000",
        ),
        ("008600000C" + "7C0A8508" + T_IFD.hex().upper() + "00", "7C0A8608" + t_ic.hex() + "9000"),
    ]


def _card_access() -> SecurityInfos:
    return SecurityInfos((PaceInfo(pace_protocol("ECDH", "AES-128"), 2, 13),))


def test_establish_replays_the_example() -> None:
    fixed = iter([T_MAP, T_EPH])
    result = pace.establish(
        ScriptedCard(_script()), PASSWORD, _card_access(), keys=lambda order: next(fixed)
    )
    assert (result.ks_enc, result.ks_mac) == (KS_ENC, KS_MAC)
    assert result.access == "PACE-MRZ" and result.protocol == PROTOCOL
    assert result.card_public_key == IC_EPH_PUB
    sm = result.sm
    assert sm.cipher.name == "AES-128" and sm.ssc == 0


def test_establish_rejects_a_wrong_chip_token() -> None:
    fixed = iter([T_MAP, T_EPH])
    with pytest.raises(pace.PaceError, match="T_IC") as caught:
        pace.establish(
            ScriptedCard(_script(t_ic=bytes(8))),
            PASSWORD,
            _card_access(),
            keys=lambda order: next(fixed),
        )
    assert caught.value.reason == "failed"


def test_card_access_file_of_the_example() -> None:
    # As test-rig.md transcribes it (OID ...4.2.4, version 2, parameterId 13).
    raw = H("31143012060A04007F0007020204020402010202010D")
    card_access = SecurityInfos.parse(raw)
    (info,) = card_access.pace_infos
    assert (info.key_agreement, info.mapping, info.cipher) == ("ECDH", "GM", "AES-256")
    assert (info.version, info.parameter_id) == (2, 13)
    assert card_access.encode() == raw
