"""Names folded for search without diacritics: "Nguyễn Văn Đạt" -> "nguyen van dat".

NFD takes off the tone marks and the horn, breve and circumflex (ư, ơ, ă, â, ê, ô), but
đ/Đ (U+0111/U+0110) have no decomposition and are mapped by hand. Everything that is not
a letter or digit becomes one space, so words can be matched at their start. The same
function folds the stored names and the officer's query, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import re
import unicodedata

_EXTRA = str.maketrans({"đ": "d", "Đ": "d", "Ð": "d", "ð": "d"})
_SEPARATORS = re.compile(r"[^0-9a-z]+")


def fold(text: str) -> str:
    """Lower case ASCII words separated by single spaces."""
    decomposed = unicodedata.normalize("NFD", text.translate(_EXTRA))
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SEPARATORS.sub(" ", bare.casefold()).strip()


def words(text: str) -> list[str]:
    """The folded words of ``text`` (a search query), in order, without repeats."""
    return list(dict.fromkeys(fold(text).split()))


__all__ = ["fold", "words"]
