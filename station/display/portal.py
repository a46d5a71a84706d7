"""The idle screen's QR code to the national population portal's citizen lookup.

Between cards the idle screen shows, beside "place the card", a QR code a citizen can scan
with a phone to look up their own data in the national population database (the letter's
point 3: guide citizens to check their data themselves). It is drawn only on the idle
screen, captioned as a lookup, never on a result, so it cannot be taken for a read.

The code is drawn dark on a lit square at 2 px per module with 2 modules of quiet zone
(1.5 when the panel leaves no more), so it must fit 64 px: QR version 3 at most (``fits``:
53 bytes of URL; a longer one is not shown). A URL that is only a scheme and a host is
encoded in upper case (QR alphanumeric mode: a smaller code; scheme and host are
case-insensitive).
"""

from __future__ import annotations

import re
from functools import lru_cache

import segno

from station.config import PORTAL_URL

SCALE = 2  # px per module
SIDE = 64  # the panel's height: room for the code's square with its quiet zone
QUIET, MIN_QUIET = 4, 3  # px of quiet zone (2 modules, 1.5 at least; the panel is dark)
DEFAULT_URL = PORTAL_URL
_HOST_ONLY = re.compile(r"https?://[A-Za-z0-9.-]+/?")


@lru_cache(maxsize=4)
def modules(url: str) -> tuple[bytes, ...]:
    """The QR modules of ``url`` (1 = dark), error level M (L when M does not fit)."""
    data = url.upper().rstrip("/") if _HOST_ONLY.fullmatch(url) else url
    for error in ("m", "l"):
        code = segno.make(data, error=error, boost_error=False, micro=False)
        if len(code.matrix) * SCALE + 2 * MIN_QUIET <= SIDE:
            break
    return tuple(bytes(row) for row in code.matrix)


def quiet(url: str) -> int:
    """The quiet zone the code gets: 2 modules, or what the panel leaves (>= 1.5)."""
    return min(QUIET, (SIDE - len(modules(url)) * SCALE) // 2)


def side(url: str) -> int:
    """The lit square's side: the code and its quiet zone."""
    return len(modules(url)) * SCALE + 2 * quiet(url)


def fits(url: str) -> bool:
    """The URL's code fits the idle screen's height (a QR version 3 at most)."""
    return bool(url) and quiet(url) >= MIN_QUIET
