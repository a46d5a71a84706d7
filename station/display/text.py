"""Text layout for the 128x64 panel: measure, wrap by words, mark truncation.

Nothing here silently cuts text: ``fit`` reports when lines were dropped and ends
the last kept line with an ellipsis, and callers that can paginate do so instead.

Words are set apart by ``WORD_GAP`` blank columns between their ink, not by the font's
space: at 9-11 px DejaVu's space (about 3 px of advance) left one blank column on the
1-bit panel where a wide letter meets the next word ("Kiểm tra" read "Kiểmtra").
``words`` gives each word's offset; measuring (``width``) and drawing
(``station.display.layout.draw``) both use it.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from station.display.fonts import Font

ELLIPSIS = "…"


def nfc(text: str) -> str:
    """Precomposed form: DejaVu draws NFC Vietnamese best and widths are stable."""
    return unicodedata.normalize("NFC", text)


WORD_GAP = 3  # blank columns between the ink of two words, at every size


# Glyph measurements of one layout call (``measuring``), dropped when it ends: the texts
# are citizens' names and addresses, which must not outlive the screen that shows them.
_MEMO: ContextVar[dict[tuple[int, str], tuple[int, int, int]] | None] = ContextVar(
    "measurements", default=None
)


@contextmanager
def measuring() -> Iterator[None]:
    """Measure each (font, text) once while laying out one screen (a result's pages measure
    the same words many times), nothing kept afterwards."""
    token = _MEMO.set({})
    try:
        yield
    finally:
        _MEMO.reset(token)


def _measure(f: Font, text: str) -> tuple[int, int, int]:
    """(ink left, ink right, advance) as the 1-bit panel draws ``text``."""
    memo = _MEMO.get()
    key = (id(f), text)
    if memo is not None and key in memo:
        return memo[key]
    left, _, right, _ = f.getbbox(text, mode="1")
    found = (int(left), int(right), round(f.getlength(text)))
    if memo is not None:
        memo[key] = found
    return found


def _ink(f: Font, text: str) -> int:
    if not text:
        return 0
    left, right, advance = _measure(f, text)
    return max(right, advance) - min(0, left)


def words(f: Font, text: str) -> list[tuple[int, str]]:
    """Each word of ``text`` with its x offset from the pen origin: ``WORD_GAP`` blank
    columns between one word's ink and the next one's (more for repeated spaces)."""
    out: list[tuple[int, str]] = []
    right: int | None = None  # ink edge of the last word, relative to the pen origin
    gaps = 0
    for word in text.split(" "):
        if not word:
            gaps += 1
            continue
        left, ink_right, _ = _measure(f, word)  # as the panel draws it
        x = 0 if right is None else right + WORD_GAP * max(1, gaps) - left
        out.append((x, word))
        right = x + ink_right
        gaps = 1
    return out


def width(f: Font, text: str) -> int:
    """Pixels from the pen origin to the right edge of the ink (or advance, if wider)."""
    if " " not in text:
        return _ink(f, text)
    placed = words(f, text)
    if not placed:
        return 0
    x, last = placed[-1]
    return x + _ink(f, last)


def _break_word(f: Font, word: str, first: int, limit: int) -> list[str]:
    """Split a word too wide for a line into pieces that fit (character by character);
    the first piece gets ``first`` pixels, the others ``limit``."""
    pieces: list[str] = []
    current = ""
    for ch in word:
        if current and width(f, current + ch) > (limit if pieces else first):
            pieces.append(current)
            current = ch
        else:
            current += ch
    if current:
        pieces.append(current)
    return pieces


def wrap(f: Font, text: str, limit: int, first_limit: int | None = None) -> list[str]:
    """Word-wrap ``text`` into lines no wider than ``limit`` pixels.

    ``first_limit`` narrows the first line (room for a page indicator). Explicit
    newlines start new lines; a single word too wide for a line is broken.
    """
    lines: list[str] = []
    for paragraph in nfc(text).split("\n"):
        current = ""
        for word in paragraph.split():
            room = first_limit if (first_limit is not None and not lines) else limit
            candidate = f"{current} {word}" if current else word
            if width(f, candidate) <= room:
                current = candidate
                continue
            if current:
                lines.append(current)
                room = limit
            pieces = _break_word(f, word, room, limit)
            lines.extend(pieces[:-1])
            current = pieces[-1] if pieces else ""
        lines.append(current)
    return lines


def ellipsize(f: Font, text: str, limit: int) -> str:
    """``text`` cut to fit ``limit`` pixels, ending in an ellipsis when it was cut."""
    text = nfc(text)
    if width(f, text) <= limit:
        return text
    cut = text
    while cut and width(f, cut.rstrip() + ELLIPSIS) > limit:
        cut = cut[:-1]
    return cut.rstrip() + ELLIPSIS


@dataclass(frozen=True)
class Fitted:
    """Lines that fit a box; ``truncated`` tells that text was dropped (shown with …)."""

    lines: tuple[str, ...]
    truncated: bool


def fit(f: Font, text: str, limit: int, max_lines: int) -> Fitted:
    """Wrap into at most ``max_lines``; an overflow ends the last line with an ellipsis."""
    lines = wrap(f, text, limit)
    if len(lines) <= max_lines:
        return Fitted(tuple(lines), False)
    kept = lines[:max_lines]
    rest = " ".join(lines[max_lines - 1 :])
    kept[-1] = ellipsize(f, rest + " " + ELLIPSIS, limit)
    if not kept[-1].endswith(ELLIPSIS):
        kept[-1] = ellipsize(f, kept[-1] + ELLIPSIS, limit)
    return Fitted(tuple(kept), True)


__all__ = [
    "ELLIPSIS",
    "WORD_GAP",
    "Fitted",
    "ellipsize",
    "fit",
    "nfc",
    "width",
    "words",
    "wrap",
]
