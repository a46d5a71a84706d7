"""An ISO 7816-4 / ICAO 9303 chip in Python: the CCCD as the station sees it.

``EmulatedCard(profile, switches)`` answers encoded APDUs through ``process(raw)``.
Commands are dispatched by INS through a per-card table; other modules add handlers
without touching this file::

    card.register(0x22, my_mse_handler)    # station.sim.emulator.pace / .auth
    card.register(0x86, my_general_authenticate)

A handler is ``handler(card, command) -> ResponseAPDU | None``; None means "not mine"
and the next handler for that INS is tried (PACE's MSE:Set AT and CA's MSE:Set KAT
share INS 22). Handlers must be module-level functions (cards are pickled into the
vpcd bridge process). They receive the already-unwrapped command;
``card.command_protected`` says whether it came under secure messaging, and the
response is wrapped by the session that unwrapped the command. A handler that
establishes a session calls ``card.set_session(sm)`` (immediately, e.g. after PACE /
BAC whose last answer is plain) or ``card.set_session(sm, after_response=True)``
(Chip Authentication: the answer is still protected by the old keys).
``card.state`` is scratch space for handlers (nonces, ephemeral keys; picklable values).
``card.profile.keys`` holds the chip's AA / CA private keys (PKCS#8 DER).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from functools import reduce
from typing import Any

from station.drivers.card_sim import CardGone
from station.icao import bac, crypto
from station.icao.apdu import CommandAPDU, ResponseAPDU, status
from station.icao.errors import SecureMessagingError
from station.icao.sm import SecureMessaging
from station.icao.tlv import TlvError, parse_one, tlv
from station.sim.emulator.files import FID_CARD_ACCESS, FID_COM, FID_SOD, CardProfile
from station.sim.emulator.switches import NORMAL, Misbehaviour

log = logging.getLogger(__name__)

Handler = Callable[["EmulatedCard", CommandAPDU], ResponseAPDU | None]
EMRTD_AID = bytes.fromhex("A0000002471001")
DG3_FID = 0x0103
SFI_TO_FID = {0x1E: FID_COM, 0x1D: FID_SOD, 0x1C: FID_CARD_ACCESS} | {
    n: 0x0100 + n for n in range(1, 17)
}


def _atr() -> bytes:
    body = bytes.fromhex("888001") + b"CCCDEMU1"
    return b"\x3b" + body + bytes((reduce(lambda a, b: a ^ b, body, 0),))


ATR = _atr()


class EmulatedCard:
    def __init__(
        self,
        profile: CardProfile,
        switches: Misbehaviour = NORMAL,
        handlers: dict[int, list[Handler]] | None = None,
    ) -> None:
        self.profile = profile
        self.switches = switches
        self.handlers: dict[int, list[Handler]] = {
            ins: list(chain) for ins, chain in DEFAULT_HANDLERS.items()
        }
        for ins, chain in (handlers or {}).items():
            self.handlers.setdefault(ins, [])[:0] = chain
        self.state: dict[str, Any] = {}
        self.present = True
        self.apdus = 0
        self.bytes_sent = 0
        self.protected_commands = 0
        self.protected_responses = 0
        self.drops_6988 = 0
        self.command_protected = False
        self.power_on()

    # ---- life cycle ----------------------------------------------------------------
    def power_on(self) -> bytes:
        self.sm: SecureMessaging | None = None
        self._pending_sm: SecureMessaging | None = None
        self.app_selected = False
        self.current_fid: int | None = None
        self.challenge: bytes | None = None
        self.had_session = False  # a session was opened since power-on (session_until_reset)
        self.state.clear()
        return ATR

    def register(self, ins: int, handler: Handler) -> None:
        """Add ``handler`` in front of the existing ones for ``ins``."""
        self.handlers.setdefault(ins, []).insert(0, handler)

    def set_session(self, sm: SecureMessaging | None, *, after_response: bool = False) -> None:
        self.had_session = self.had_session or sm is not None
        if after_response:
            self._pending_sm = sm
        else:
            self.sm = sm

    @property
    def authenticated(self) -> bool:
        return self.sm is not None

    # ---- APDU processing -----------------------------------------------------------
    def process(self, raw: bytes) -> bytes:
        if not self.present:
            raise CardGone()
        self.apdus += 1
        try:
            cmd = CommandAPDU.decode(raw)
        except ValueError:
            return status(0x6700).encode()
        if cmd.is_extended and self.switches.no_extended:
            return status(0x6700).encode()
        if cmd.cla & 0x0C == 0x0C:
            return self._process_protected(cmd).encode()
        if self.sm is not None:
            log.debug("plain command during SM: session closed")
            self.sm = None
        self.command_protected = False
        response = self._dispatch(cmd)
        if self._pending_sm is not None:
            self.sm, self._pending_sm = self._pending_sm, None
        return response.encode()

    def _process_protected(self, cmd: CommandAPDU) -> ResponseAPDU:
        sm = self.sm
        if sm is None:
            return status(0x6987)
        self.protected_commands += 1
        sw = self.switches
        after = sw.sm_6988_after
        drops_left = self.drops_6988 < sw.sm_6988_times
        if after is not None and self.protected_commands > after and drops_left:
            self.drops_6988 += 1
            self.sm = None
            return status(0x6988)
        try:
            inner = sm.unwrap_command(cmd)
        except SecureMessagingError:
            if sw.wrong_mac_6985:
                return status(0x6985)  # the session stays open, its counter moved on
            self.sm = None
            return status(0x6988)
        self.command_protected = True
        response = self._dispatch(inner)
        if sw.zero_le_empty and inner.ne in (256, 65536):
            response = status(response.sw)  # Le = 00 taken literally: no data
        if sw.plain_errors and not (response.sw == 0x9000 or response.sw >> 8 in (0x62, 0x63)):
            return response  # unprotected, yet the counter moved for the command
        wrapped = sm.wrap_response(response, inner.ins)
        if not cmd.is_extended and len(wrapped.data) > 256:
            return status(0x6700)  # SSC already advanced on both sides
        if self._pending_sm is not None:
            self.sm, self._pending_sm = self._pending_sm, None
        return self._maybe_break(wrapped)

    def _maybe_break(self, wrapped: ResponseAPDU) -> ResponseAPDU:
        self.protected_responses += 1
        sw = self.switches
        if sw.garbage_after is not None and self.protected_responses > sw.garbage_after:
            return ResponseAPDU(os.urandom(len(wrapped.data) or 16), 0x9000)
        if sw.mac_error_after is not None and self.protected_responses > sw.mac_error_after:
            data = bytearray(wrapped.data)
            data[-1] ^= 0x5A
            return ResponseAPDU(bytes(data), wrapped.sw)
        return wrapped

    def _dispatch(self, cmd: CommandAPDU) -> ResponseAPDU:
        chain = self.handlers.get(cmd.ins)
        if not chain:
            return status(0x6D00)
        for handler in chain:
            response = handler(self, cmd)
            if response is not None:
                return response
        return status(0x6A86)

    # ---- file access ---------------------------------------------------------------
    def readable(self, fid: int) -> int:
        """0x9000 if ``fid`` may be read now, else the status word to answer."""
        if fid == FID_CARD_ACCESS and fid in self.profile.files:
            return 0x9000
        if fid == DG3_FID:
            return 0x6982
        if fid not in self.profile.files or not self.app_selected:
            return 0x6A82
        return 0x9000 if self.authenticated else 0x6982

    def send_bytes(self, fid: int, offset: int, ne: int) -> ResponseAPDU:
        data = self.profile.files[fid]
        if offset > len(data):
            return status(0x6B00)
        if self.switches.strict_le and ne > len(data) - offset:
            return status(0x6700)
        if self.switches.past_end_6f00 and ne > len(data) - offset:
            return status(0x6F00)
        if self.switches.empty_on_large_le and ne > 256:
            return status(0x9000)
        count = min(ne, len(data) - offset)
        if self.switches.max_answer is not None:
            count = min(count, self.switches.max_answer)
        limit = self.switches.lost_after_bytes
        if limit is not None and self.bytes_sent + count > limit:
            self.present = False
            raise CardGone()
        self.bytes_sent += count
        return status(0x9000, data[offset : offset + count])


# ---- default handlers: SELECT, READ BINARY, GET CHALLENGE, EXTERNAL AUTHENTICATE --------


def select(card: EmulatedCard, cmd: CommandAPDU) -> ResponseAPDU:
    if cmd.p1 == 0x04:
        if cmd.data != EMRTD_AID:
            return status(0x6A82)
        card.app_selected = True
        card.current_fid = None
        return status(0x9000)
    if cmd.p1 == 0x00 and cmd.data in (b"", b"\x3f\x00"):
        return status(0x6D00)  # as real CCCDs answer SELECT MF
    if cmd.p1 not in (0x00, 0x02) or len(cmd.data) != 2:
        return status(0x6A86)
    fid = int.from_bytes(cmd.data, "big")
    if fid == FID_CARD_ACCESS and card.switches.card_access_sw is not None:
        return status(card.switches.card_access_sw)
    if fid != DG3_FID and card.readable(fid) == 0x6A82:
        return status(0x6A82)
    card.current_fid = fid
    return status(0x9000)


def read_binary(card: EmulatedCard, cmd: CommandAPDU) -> ResponseAPDU:
    ne = cmd.ne or 256
    if cmd.ins == 0xB1:
        try:
            offset_do = parse_one(cmd.data)
        except TlvError:
            return status(0x6A80)
        if offset_do.tag != 0x54 or not 1 <= len(offset_do.value) <= 3:
            return status(0x6A80)
        offset = int.from_bytes(offset_do.value, "big")
        fid = (cmd.p1 << 8) | cmd.p2 or card.current_fid
    elif cmd.p1 & 0x80:
        if card.switches.no_short_ef:
            return status(0x6985 if card.current_fid is None else 0x6F00)
        fid = SFI_TO_FID.get(cmd.p1 & 0x1F)
        offset = cmd.p2
    else:
        fid, offset = card.current_fid, ((cmd.p1 & 0x7F) << 8) | cmd.p2
    if fid is None:
        return status(0x6986)
    allowed = card.readable(fid)
    if allowed != 0x9000:
        return status(allowed)
    if fid == FID_CARD_ACCESS and card.switches.card_access_read_sw is not None:
        return status(card.switches.card_access_read_sw)
    card.current_fid = fid
    response = card.send_bytes(fid, offset, ne)
    if cmd.ins == 0xB1 and response.data:
        return status(response.sw, tlv(0x53, response.data))
    return response


def get_challenge(card: EmulatedCard, cmd: CommandAPDU) -> ResponseAPDU:
    if card.switches.session_until_reset and card.had_session:
        return status(0x6982)  # the earlier session's state is kept until a reset
    if cmd.ne != 8:
        return status(0x6700)
    card.challenge = os.urandom(8)
    return status(0x9000, card.challenge)


def external_authenticate(card: EmulatedCard, cmd: CommandAPDU) -> ResponseAPDU:
    rnd_icc, card.challenge = card.challenge, None
    if rnd_icc is None:
        return status(0x6985)
    if len(cmd.data) != 40:
        return status(0x6700)
    profile = card.profile
    docno = profile.document_number
    if card.switches.wrong_key:
        docno = docno[::-1]
    key = bac.BacKey(docno, profile.date_of_birth, profile.date_of_expiry)
    k_enc, k_mac = bac.derive_keys(key.seed)
    e_ifd, m_ifd = cmd.data[:32], cmd.data[32:]
    refusal = card.switches.bac_refusal_sw
    if crypto.retail_mac(k_mac, e_ifd) != m_ifd:
        return status(refusal)
    plain = crypto.des3_cbc_decrypt(k_enc, e_ifd)
    rnd_ifd, k_ifd = plain[:8], plain[16:32]
    if plain[8:16] != rnd_icc:
        return status(refusal)
    k_icc = os.urandom(16)
    e_icc = crypto.des3_cbc_encrypt(k_enc, rnd_icc + rnd_ifd + k_icc)
    seed = bytes(a ^ b for a, b in zip(k_ifd, k_icc, strict=True))
    ks_enc, ks_mac = bac.derive_keys(seed)
    card.set_session(SecureMessaging.for_3des(ks_enc, ks_mac, bac.compute_ssc(rnd_icc, rnd_ifd)))
    return status(0x9000, e_icc + crypto.retail_mac(k_mac, e_icc))


DEFAULT_HANDLERS: dict[int, list[Handler]] = {
    0xA4: [select],
    0xB0: [read_binary],
    0xB1: [read_binary],
    0x84: [get_challenge],
    0x82: [external_authenticate],
}
