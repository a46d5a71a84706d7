"""ICAO 9303-11 Appendix D (BAC + 3DES secure messaging), value by value."""

from __future__ import annotations

import pytest

from station.icao import bac, crypto
from station.icao.apdu import CommandAPDU, ResponseAPDU
from station.icao.errors import AccessError, SecureMessagingError
from station.icao.sm import SecureMessaging

H = bytes.fromhex
MRZ_INFO = "L898902C<369080619406236"
KENC = H("AB94FDECF2674FDFB9B391F85D7F76F2")
KMAC = H("7962D9ECE03D1ACD4C76089DCE131543")
RND_ICC = H("4608F91988702212")
RND_IFD = H("781723860C06C226")
K_IFD = H("0B795240CB7049B01C19B33E32804F0B")
CARD_RESPONSE = H(
    "46B9342A41396CD7386BF5803104D7CEDC122B9132139BAF2EEDC94EE178534F2F2D235D074D7449"
)
KS_ENC = H("979EC13B1CBFE9DCD01AB0FED307EAE5")
KS_MAC = H("F1CB1F1FB5ADF208806B89DC579DC1F8")
SSC = H("887022120C06C226")


def test_mrz_information_and_seed() -> None:
    assert bac.mrz_information("L898902C", "690806", "940623") == MRZ_INFO
    assert bac.compute_key_seed(MRZ_INFO) == H("239AB9CB282DAF66231DC5A4DF6BFBAE")


def test_basic_keys() -> None:
    assert bac.derive_keys(bac.compute_key_seed(MRZ_INFO)) == (KENC, KMAC)


def test_ifd_cryptogram() -> None:
    data = bac.ifd_cryptogram(KENC, KMAC, RND_ICC, RND_IFD, K_IFD)
    assert data[:32] == H("72C29C2371CC9BDB65B779B8E8D37B29ECC154AA56A8799FAE2F498F76ED92F2")
    assert data[32:] == H("5F1448EEA8AD90A7")


def test_session_keys_and_ssc() -> None:
    result = bac.session_from_card_response(KENC, KMAC, CARD_RESPONSE, RND_ICC, RND_IFD, K_IFD)
    plain = crypto.des3_cbc_decrypt(KENC, CARD_RESPONSE[:32])
    assert plain[16:] == H("0B4F80323EB3191CB04970CB4052790B")
    assert (result.ks_enc, result.ks_mac, result.ssc) == (KS_ENC, KS_MAC, SSC)


def test_tampered_card_response_is_refused() -> None:
    bad = CARD_RESPONSE[:-1] + bytes([CARD_RESPONSE[-1] ^ 1])
    with pytest.raises(AccessError, match="EXTERNAL AUTHENTICATE"):
        bac.session_from_card_response(KENC, KMAC, bad, RND_ICC, RND_IFD, K_IFD)


class ScriptedBac:
    def get_challenge(self) -> bytes:
        return RND_ICC

    def external_authenticate(self, data: bytes) -> bytes:
        assert data == bac.ifd_cryptogram(KENC, KMAC, RND_ICC, RND_IFD, K_IFD)
        return CARD_RESPONSE


def test_protocol_with_scripted_sender() -> None:
    key = bac.BacKey("L898902C", "690806", "940623")
    result = bac.perform_bac(ScriptedBac(), key, rnd_ifd=RND_IFD, k_ifd=K_IFD)
    assert result.ssc == SSC


STEPS = [
    (
        "00A4020C02011E",
        "0CA4020C158709016375432908C044F68E08BF8B92D635FF24F800",
        "990290008E08FA855A5D4C50A8ED9000",
        "9000",
    ),
    (
        "00B0000004",
        "0CB000000D9701048E08ED6705417E96BA5500",
        "8709019FF0EC34F9922651990290008E08AD55CC17140B2DED9000",
        "60145F019000",
    ),
    (
        "00B0000412",
        "0CB000040D9701128E082EA28A70F3C7B53500",
        "871901FB9235F4E4037F2327DCC8964F1F9B8C30F42C8E2FFF224A990290008E08C8B2787EAEA07D749000",
        "04303130365F36063034303030305C0261759000",
    ),
]


def test_secure_messaging_appendix_d() -> None:
    sm = SecureMessaging.for_3des(KS_ENC, KS_MAC, SSC)
    card = SecureMessaging.for_3des(KS_ENC, KS_MAC, SSC)
    for plain, protected, response, result in STEPS:
        wrapped = sm.wrap(CommandAPDU.decode(H(plain)))
        assert wrapped.encode() == H(protected)
        # the card side reads the same command back and builds the same answer
        assert card.unwrap_command(wrapped) == CommandAPDU.decode(H(plain))
        expected = ResponseAPDU.parse(H(result))
        assert card.wrap_response(expected).encode() == H(response)
        assert sm.unwrap(ResponseAPDU.parse(H(response))) == expected


def test_response_mac_checked() -> None:
    sm = SecureMessaging.for_3des(KS_ENC, KS_MAC, SSC)
    sm.wrap(CommandAPDU.decode(H(STEPS[0][0])))
    bad = bytearray(H(STEPS[0][2]))
    bad[8] ^= 0x01
    with pytest.raises(SecureMessagingError, match="MAC"):
        sm.unwrap(ResponseAPDU.parse(bytes(bad)))


def test_plain_9000_without_mac_refused_but_error_status_passes() -> None:
    sm = SecureMessaging.for_3des(KS_ENC, KS_MAC, SSC)
    with pytest.raises(SecureMessagingError):
        sm.unwrap(ResponseAPDU(b"", 0x9000))
    assert sm.unwrap(ResponseAPDU(b"", 0x6988)).sw == 0x6988


@pytest.mark.parametrize("key_len", [16, 24, 32])
def test_aes_variant_round_trip(key_len: int) -> None:
    ks_enc, ks_mac = bytes(range(key_len)), bytes(range(1, key_len + 1))
    terminal = SecureMessaging.for_aes(ks_enc, ks_mac)
    card = SecureMessaging.for_aes(ks_enc, ks_mac)
    assert terminal.ssc_bytes == bytes(16)
    cmd = CommandAPDU(0x00, 0xB0, 0x00, 0x00, ne=0x500)
    wrapped = terminal.wrap(cmd)
    assert wrapped.is_extended
    assert card.unwrap_command(wrapped) == cmd
    answer = ResponseAPDU(bytes(range(256)) * 5, 0x9000)
    assert terminal.unwrap(card.wrap_response(answer)) == answer


def test_aes_cmac_and_kdf_known_answers() -> None:
    # RFC 4493 example 2 (16-byte message), truncated to 8 bytes.
    key = H("2b7e151628aed2a6abf7158809cf4f3c")
    assert crypto.aes_cmac(key, H("6bc1bee22e409f96e93d7e117393172a")) == H("070a16b46b4d4144")
    # ICAO 9303-11 G.1: K_pi = KDF(SHA1(MRZ), 3) for AES-128.
    import hashlib

    pi = hashlib.sha1(b"T22000129364081251010318").digest()
    assert crypto.kdf(pi, 3, "AES-128") == H("89DED1B26624EC1E634C1989302849DD")


def test_extended_and_short_encoding() -> None:
    assert CommandAPDU(0, 0xB0, 0, 0, ne=256).encode() == H("00B0000000")
    assert CommandAPDU(0, 0xB0, 0, 0, ne=65536).encode() == H("00B00000000000")
    assert CommandAPDU(0, 0xB0, 0, 0, ne=1000).encode() == H("00B00000" + "0003E8")
    long_cmd = CommandAPDU(0, 0x88, 0, 0, bytes(300), ne=256)
    assert long_cmd.encode()[4:7] == H("00012C")
    assert CommandAPDU.decode(long_cmd.encode()).data == bytes(300)
