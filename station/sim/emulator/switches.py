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


NORMAL = Misbehaviour()
