"""PACE, card side, for the emulated chip: MSE:Set AT (INS 22, P1P2 C1A4) and the four
GENERAL AUTHENTICATE steps (INS 86), then the card's secure-messaging session switches to the
PACE keys (SSC 0).

    profile = with_pace(build_profile(citizen), [PaceInfo(pace_protocol("ECDH", "AES-128"), 2, 13)])
    card = EmulatedCard(profile, handlers=handlers(PaceSwitches(refuse=True)))

`handlers(switches)` is the INS -> handler table to give `EmulatedCard` (or to `register`);
the handlers are `functools.partial`s of module functions, so cards still pickle into the
vpcd bridge process. The card answers with the password it holds: the CAN of its profile, or
its MRZ key data (document number, DOB, expiry; reversed document number when the chip's
``wrong_key`` misbehaviour is on, like BAC). Per-session state lives in ``card.state["pace"]``.

Failure switches (`PaceSwitches`): ``wrong_can`` (the chip holds another CAN: the terminal's
token fails in step 4 with ``refusal_sw``, 6300 "authentication failed" by default; BSI's
PersoSim answers 6A80 there for a CAN or MRZ password, 63CX only for a PIN. Either way
the PACE state is dropped, no session is open, no retry counter moves and a later PACE
or BAC starts afresh), ``refuse`` (MSE:Set AT answers 6982, as a CCCD was seen to
do), ``bad_token`` (the chip sends a wrong T_IC), ``pace_only`` (BAC's EXTERNAL AUTHENTICATE
answers 6982), and `unsupported_parameter_id` (with `with_pace`: EF.CardAccess offers a domain
parameter id the station does not implement).
"""

from __future__ import annotations

import dataclasses
import hmac
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any

from station.icao import ec
from station.icao.apdu import CommandAPDU, ResponseAPDU, status
from station.icao.pace import (
    CAN_REFERENCE,
    MRZ_REFERENCE,
    PacePassword,
    auth_token,
    encrypt_nonce,
    group_of,
    password_key,
    session_keys,
)
from station.icao.securityinfos import (
    CardAccessError,
    PaceDomainParameterInfo,
    PaceInfo,
    SecurityInfos,
    oid_decode,
)
from station.icao.sm import SecureMessaging
from station.icao.tlv import TlvError, parse_all, parse_one, tlv
from station.sim.emulator.card import EmulatedCard, Handler
from station.sim.emulator.files import FID_CARD_ACCESS, CardProfile

log = logging.getLogger(__name__)

#: A proprietary domain parameter id (32-127 need PACEDomainParameterInfo; the station has none).
UNSUPPORTED_PARAMETER_ID = 32


@dataclass(frozen=True)
class PaceSwitches:
    wrong_can: bool = False
    refuse: bool = False
    bad_token: bool = False
    pace_only: bool = False
    refusal_sw: int = 0x6300


def with_pace(
    profile: CardProfile,
    infos: Iterable[PaceInfo],
    *,
    unsupported_parameter_id: bool = False,
    domains: Iterable[PaceDomainParameterInfo] = (),
) -> CardProfile:
    """The profile with an EF.CardAccess offering ``infos`` (and explicit ``domains``), the
    parameter ids replaced by UNSUPPORTED_PARAMETER_ID (without domain info) when asked."""
    offered = tuple(infos)
    if unsupported_parameter_id:
        offered = tuple(
            dataclasses.replace(i, parameter_id=UNSUPPORTED_PARAMETER_ID) for i in offered
        )
    files = dict(profile.files)
    files[FID_CARD_ACCESS] = SecurityInfos((*offered, *domains)).encode()
    return dataclasses.replace(profile, files=files)


def without_pace(profile: CardProfile) -> CardProfile:
    """A BAC-only chip: no EF.CardAccess."""
    files = {fid: data for fid, data in profile.files.items() if fid != FID_CARD_ACCESS}
    return dataclasses.replace(profile, files=files)


def handlers(switches: PaceSwitches = PaceSwitches()) -> dict[int, list[Handler]]:
    table: dict[int, list[Handler]] = {
        0x22: [partial(mse_set_at, switches)],
        0x86: [partial(general_authenticate, switches)],
    }
    if switches.pace_only:
        table[0x82] = [refuse_bac]
    return table


def install(card: EmulatedCard, switches: PaceSwitches = PaceSwitches()) -> None:
    for ins, chain in handlers(switches).items():
        for handler in chain:
            card.register(ins, handler)


def refuse_bac(card: EmulatedCard, cmd: CommandAPDU) -> ResponseAPDU:
    """EXTERNAL AUTHENTICATE on a PACE-only chip: BAC is not offered."""
    return status(0x6982)


def _password(card: EmulatedCard, switches: PaceSwitches, reference: int) -> PacePassword | None:
    profile = card.profile
    if reference == CAN_REFERENCE:
        can = profile.can
        if switches.wrong_can:
            can = can[1:] + str((int(can[0]) + 1) % 10)
        return PacePassword.can(can)
    if reference == MRZ_REFERENCE:
        docno = (
            profile.document_number[::-1] if card.switches.wrong_key else profile.document_number
        )
        return PacePassword.from_mrz(docno, profile.date_of_birth, profile.date_of_expiry)
    return None


def mse_set_at(switches: PaceSwitches, card: EmulatedCard, cmd: CommandAPDU) -> ResponseAPDU | None:
    if (cmd.p1, cmd.p2) != (0xC1, 0xA4):
        return None  # another MSE (Chip Authentication's Set KAT / Set AT)
    card.state.pop("pace", None)
    if switches.refuse or (card.switches.session_until_reset and card.had_session):
        return status(0x6982)
    try:
        fields = {item.tag: item.value for item in parse_all(cmd.data)}
        protocol = oid_decode(fields[0x80])
        reference = fields[0x83][0]
        parameter_id = fields[0x84][0] if 0x84 in fields else None
        card_access = SecurityInfos.parse(card.profile.files[FID_CARD_ACCESS])
    except (TlvError, KeyError, IndexError, ValueError, CardAccessError):
        return status(0x6A80)
    matches = [
        i
        for i in card_access.pace_infos
        if i.protocol == protocol and parameter_id in (None, i.parameter_id)
    ]
    password = _password(card, switches, reference)
    if not matches or password is None or card_access.unsupported_reason(matches[0]):
        return status(0x6A80)
    group = group_of(card_access.domain(matches[0]))
    card.state["pace"] = {"info": matches[0], "group": group, "password": password, "step": 1}
    return status(0x9000)


def general_authenticate(
    switches: PaceSwitches, card: EmulatedCard, cmd: CommandAPDU
) -> ResponseAPDU | None:
    session: dict[str, Any] | None = card.state.get("pace")
    if session is None:
        return None  # no PACE in progress: Chip Authentication's GA, or the card's default
    last = not cmd.cla & 0x10
    try:
        outer = parse_one(cmd.data)
        inner = outer.children()
        if outer.tag != 0x7C or len(inner) > 1:
            raise TlvError("not 7C", 0)
        value = inner[0].value if inner else None
        tag = inner[0].tag if inner else None
    except TlvError:
        card.state.pop("pace", None)
        return status(0x6A80)
    step = session["step"]
    if last != (step == 4) or tag != {1: None, 2: 0x81, 3: 0x83, 4: 0x85}[step]:
        card.state.pop("pace", None)
        return status(0x6985)  # step out of order, or chaining bit wrong
    try:
        answer = _STEPS[step](switches, card, session, value or b"")
    except ec.EcError:
        card.state.pop("pace", None)
        return status(0x6A80)
    if answer is None:
        card.state.pop("pace", None)
        return status(switches.refusal_sw)
    session["step"] = step + 1
    if step == 4:
        del card.state["pace"]
    return status(0x9000, tlv(0x7C, answer))


def _step_nonce(
    switches: PaceSwitches, card: EmulatedCard, session: dict[str, Any], _: bytes
) -> bytes:
    info: PaceInfo = session["info"]
    assert info.cipher is not None
    nonce = os.urandom(8 if info.cipher == "3DES" else 16)
    session["nonce"] = nonce
    k_pi = password_key(session["password"], info.cipher)
    return tlv(0x80, encrypt_nonce(info.cipher, k_pi, nonce))


def _step_map(
    switches: PaceSwitches, card: EmulatedCard, session: dict[str, Any], peer: bytes
) -> bytes:
    group = session["group"]
    group.check(peer)
    private = ec.random_private(group.order)
    session["group"] = group.mapped(session["nonce"], private, peer)
    return tlv(0x82, group.public_key(private))


def _step_agree(
    switches: PaceSwitches, card: EmulatedCard, session: dict[str, Any], peer: bytes
) -> bytes:
    group = session["group"]
    private = ec.random_private(group.order)
    own = group.public_key(private)
    if peer == own:
        raise ec.EcError("terminal echoed the chip's key")
    session["keys"] = session_keys(session["info"].cipher, group.shared_secret(private, peer))
    session["own"], session["peer"] = own, peer
    return tlv(0x84, own)


def _step_tokens(
    switches: PaceSwitches, card: EmulatedCard, session: dict[str, Any], token: bytes
) -> bytes | None:
    info: PaceInfo = session["info"]
    assert info.cipher is not None
    ks_enc, ks_mac = session["keys"]
    expected = auth_token(info.cipher, ks_mac, info.protocol, session["group"], session["own"])
    if not hmac.compare_digest(token, expected):
        log.debug("PACE: terminal token wrong (password mismatch)")
        return None
    answer = auth_token(info.cipher, ks_mac, info.protocol, session["group"], session["peer"])
    if switches.bad_token:
        answer = bytes(b ^ 0xFF for b in answer)
    if info.cipher == "3DES":
        card.set_session(SecureMessaging.for_3des(ks_enc, ks_mac, 0))
    else:
        card.set_session(SecureMessaging.for_aes(ks_enc, ks_mac, 0))
    return tlv(0x86, answer)


_STEPS = {1: _step_nonce, 2: _step_map, 3: _step_agree, 4: _step_tokens}
