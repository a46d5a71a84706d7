"""Ways an emulated chip misbehaves (for tests and the demo). All off by default."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Misbehaviour:
    """Switches for the emulated card.

    - ``wrong_key``: the chip's BAC key differs from the printed data (EXTERNAL
      AUTHENTICATE answers 6300 to every candidate).
    - ``no_extended``: extended-length APDUs answer 6700 (the command is not even parsed,
      so the SM counter does not move: the terminal must re-open the session).
    - ``max_answer``: the chip never returns more than this many data bytes per READ BINARY.
    - ``strict_le``: READ BINARY asking for more than the rest of the file answers 6700.
    - ``empty_on_large_le``: READ BINARY with Ne > 256 answers 9000 with no data.
    - ``mac_error_after``: from this many protected responses on, response MACs are wrong.
    - ``lost_after_bytes``: the card leaves the field once it has sent this many file bytes.
    - ``sm_6988_after``: after this many protected commands the chip answers 6988 and drops
      the session, ``sm_6988_times`` times in total.
    - ``garbage_after``: from this many protected responses on, the chip answers noise.

    Behaviours of a reference open-source passport applet (``REFERENCE_APPLET`` has them all):

    - ``card_access_sw``: SELECT of EF.CardAccess answers this status word (6986: no current
      EF before the application is selected; 6A86, 6D00); ``card_access_read_sw``: reading
      it answers this one (6700: a wrong-length answer).
    - ``no_short_ef``: no READ BINARY by short EF id (6985 without a selected file, 6F00
      with one): files must be selected by id and read with offsets.
    - ``session_until_reset``: once a session was opened, GET CHALLENGE and MSE:Set AT
      answer 6982 until the card is reset (the applet keeps its session state).
    - ``zero_le_empty``: under secure messaging, Le = 00 (DO97 = 00) returns no data.
    - ``past_end_6f00``: READ BINARY asking past the end of the file answers 6F00.
    - ``plain_errors``: an error under secure messaging comes back as a plain status word,
      and the card's send sequence counter has still moved (the sessions fall out of step).
    - ``wrong_mac_6985``: a command with a wrong MAC answers 6985 (plain), the session
      stays open.
    - ``bac_refusal_sw``: what a wrong BAC cryptogram answers (6300; the applet: 6982).
    """

    wrong_key: bool = False
    no_extended: bool = False
    max_answer: int | None = None
    strict_le: bool = False
    empty_on_large_le: bool = False
    mac_error_after: int | None = None
    lost_after_bytes: int | None = None
    sm_6988_after: int | None = None
    sm_6988_times: int = 1
    garbage_after: int | None = None
    card_access_sw: int | None = None
    card_access_read_sw: int | None = None
    no_short_ef: bool = False
    session_until_reset: bool = False
    zero_le_empty: bool = False
    past_end_6f00: bool = False
    plain_errors: bool = False
    wrong_mac_6985: bool = False
    bac_refusal_sw: int = 0x6300


NORMAL = Misbehaviour()
REFERENCE_APPLET = Misbehaviour(
    card_access_sw=0x6986,
    no_short_ef=True,
    session_until_reset=True,
    zero_le_empty=True,
    past_end_6f00=True,
    plain_errors=True,
    wrong_mac_6985=True,
    bac_refusal_sw=0x6982,
)
