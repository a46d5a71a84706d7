"""Reading elementary files over a (secure) channel: SELECT + READ BINARY.

Strategy (``ReadStrategy``): the first READ BINARY of a file (by short EF id) asks for
``first_le`` bytes (extended length, up to ``max_le``: a file comes whole in one APDU
when the reader and chip allow it; every APDU costs ~10 ms of turnaround on the air),
the rest, if any, in one more. On 67xx / 6Cxx or an empty answer to a large Le, the
strategy falls back to 0xDF-byte chunks (small files come whole, the header gives the
length of the others) and remembers it. On 6988 / 6987 (the chip dropped the SM session) the access
protocol is re-run through ``reopen`` and the read continues at the same offset.
Offsets above 32767 use READ BINARY with odd INS (B1, DO54 offset).

Chips differ (a reference open-source passport applet showed these): a card refusing READ
BINARY by short EF id (6985 / 6F00 ...) gets SELECT by file id + READ BINARY with offsets,
for the rest of that card (``CardChannel.short_ef``); 6F00 for a read reaching past the end
is handled like 67xx (the header first, then exact lengths); Le is never 00 (some chips send
nothing for it); an error that came back unprotected under secure messaging may have put
the session out of step, so it is re-opened before the next command (``CardChannel.settle``)
and the read goes on at the same offset (the file selected again). Re-opening is bounded by
``max_resumes`` per file.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from station.icao.apdu import CommandAPDU, ResponseAPDU
from station.icao.channel import CardChannel
from station.icao.errors import ChipError, FileReadError, LdsError
from station.icao.tlv import TlvError, header_length, parse_one, tlv
from station.ports import TransportError

log = logging.getLogger(__name__)

SHORT_CHUNK = 0xDF
HEADER_LE = 8
MAX_EXTENDED_LE = 0xFF00
MAX_FILE = 0x10000 * 4
SESSION_LOST = (0x6987, 0x6988)
PAST_END = 0x6F00  # some chips answer a READ BINARY reaching past the end with 6F00
# READ BINARY by short EF id not supported: 6985 (no file selected), 6F00 (one selected) ...
SFI_REFUSED = frozenset({0x6985, 0x6F00, 0x6A86, 0x6A81, 0x6986, 0x6D00})


@dataclass
class _Position:
    """How one file's read goes on (local to one ``FileReader.read``)."""

    use_sfi: bool
    selected: int = -1  # the channel's re-open count when the file was selected (-1: not)
    resumes: int = 0
    exact: int = 0  # the next Le when a refusal told it


@dataclass
class ReadStrategy:
    """Learned chunking (kept across files and cards of one reader).
    ``fixed=True`` reads fixed ``chunk``-byte blocks (JMRTD's default, for comparison)."""

    max_le: int = MAX_EXTENDED_LE
    first_le: int = MAX_EXTENDED_LE
    chunk: int = SHORT_CHUNK
    fixed: bool = False
    max_resumes: int = 3

    @classmethod
    def fixed_chunks(cls, chunk: int = SHORT_CHUNK) -> ReadStrategy:
        return cls(max_le=chunk, first_le=chunk, chunk=chunk, fixed=True)


Progress = Callable[[int, int], None]


class FileReader:
    def __init__(
        self,
        sender: CardChannel,
        strategy: ReadStrategy | None = None,
        reopen: Callable[[], None] | None = None,
    ) -> None:
        self.sender = sender
        self.strategy = strategy or ReadStrategy()
        if reopen is not None:
            sender.reopen = reopen

    def read(
        self, name: str, fid: int, sfi: int | None = None, progress: Progress | None = None
    ) -> bytes:
        """The whole file; raises FileReadError (step names file, offset, status word).
        Transport and SM errors are re-raised with the file and offset in their step."""
        done: list[int] = [0]
        try:
            return self._read(name, fid, sfi, progress, done)
        except (FileReadError, LdsError):
            raise
        except TransportError as exc:
            raise type(exc)(f"reading {name} at offset {done[0]}: {exc.step}", exc.detail) from None
        except ChipError as exc:
            step = f"reading {name} at offset {done[0]}: {exc.step}"
            try:
                wrapped = type(exc)(step, exc.detail, exc.sw)
            except TypeError:  # a subclass with another signature (PaceError)
                raise exc from None
            raise wrapped from None

    def _read(
        self, name: str, fid: int, sfi: int | None, progress: Progress | None, done: list[int]
    ) -> bytes:
        data = bytearray()
        total: int | None = None
        at = _Position(use_sfi=sfi is not None and self.sender.short_ef)
        while total is None or len(data) < total:
            step = f"reading {name} at offset {len(data)}"
            self._settle(step, at)
            want = self._want(total, len(data), at.exact)
            at.exact = 0
            if not at.use_sfi and at.selected != self.sender.reopens:
                chosen = self._select(fid)
                if chosen.sw in SESSION_LOST:
                    at.resumes = self._resume(step, chosen.sw, at.resumes)
                    continue
                if not chosen.ok:
                    raise FileReadError(f"selecting {name}", sw=chosen.sw)
                at.selected = self.sender.reopens
            response = self._read_binary(sfi if at.use_sfi else None, len(data), want)
            if not self._usable(name, step, response, at, want, total is not None):
                continue
            data += response.data
            done[0] = len(data)
            if total is None:
                total = self._total(name, bytes(data))
            if total is not None and progress is not None:
                progress(min(len(data), total), total)
        return bytes(data[:total])

    def _settle(self, step: str, at: _Position) -> None:
        """Re-open a session an unprotected error may have put out of step (counted)."""
        if self.sender.in_doubt and self.sender.reopen is not None:
            if at.resumes >= self.strategy.max_resumes:
                raise FileReadError(step, "secure messaging session lost")
            self.sender.settle()
            at.resumes += 1

    def _usable(
        self, name: str, step: str, response: ResponseAPDU, at: _Position, want: int, known: bool
    ) -> bool:
        """True when ``response`` carries the file's bytes; False to ask again (after
        learning from it); raises FileReadError when the file cannot be read."""
        sw = response.sw
        if at.use_sfi and sw in SFI_REFUSED:
            log.info("READ BINARY by short EF id refused (%04X): files selected by id", sw)
            self.sender.short_ef = False  # for the rest of this card
            at.use_sfi = False
            return False
        at.use_sfi = False
        if sw in SESSION_LOST:
            at.resumes = self._resume(step, sw, at.resumes)
            return False
        if sw >> 8 in (0x67, 0x6C) or sw == PAST_END or (sw == 0x9000 and not response.data):
            at.exact = self._fall_back(step, want, response, known)
            return False
        if sw not in (0x9000, 0x6282):
            raise FileReadError(step, sw=sw)
        at.selected = self.sender.reopens
        return True

    def _want(self, total: int | None, have: int, exact: int) -> int:
        s = self.strategy
        if exact:
            return exact
        if total is None:
            return s.first_le if have == 0 else HEADER_LE
        want = min(total - have, s.chunk if s.fixed else s.max_le)
        return 255 if want == 256 else want  # never Le = 00: some chips send nothing for it

    def _fall_back(self, step: str, want: int, response: ResponseAPDU, known: bool) -> int:
        """The next Le after a refused READ BINARY (0 = per strategy); raises if none.

        A first read (the length unknown) that is refused may only have asked past the end
        of the file: 0xDF first from now, then the header first. A refused remainder (its
        length known) means no extended length here: 0xDF chunks from now."""
        s, sw = self.strategy, response.sw
        if sw >> 8 == 0x6C and 0 < sw & 0xFF < want:
            return sw & 0xFF
        if not known and want > SHORT_CHUNK:
            log.info("a first READ BINARY with Le=%d refused (%04X): 0xDF first from now", want, sw)
            s.first_le = SHORT_CHUNK
            return SHORT_CHUNK
        if not known and want > HEADER_LE:
            s.first_le = HEADER_LE  # chip refuses Le beyond the end: header first from now
            return HEADER_LE
        if known and want > SHORT_CHUNK:
            log.info("READ BINARY with Le=%d refused (%04X): 0xDF chunks from now", want, sw)
            s.max_le = min(s.max_le, SHORT_CHUNK)
            return 0
        raise FileReadError(step, "no data returned" if response.ok else "", sw)

    def _total(self, name: str, head: bytes) -> int | None:
        try:
            _, total = header_length(head)
        except TlvError as exc:
            if len(head) < 6:
                return None  # header not complete yet
            raise LdsError(name, exc.offset, exc.reason) from None
        if total > MAX_FILE:
            raise LdsError(name, 0, f"declared length {total} too large")
        return total

    def _select(self, fid: int) -> ResponseAPDU:
        return self.sender.send(CommandAPDU(0x00, 0xA4, 0x02, 0x0C, fid.to_bytes(2, "big")))

    def _resume(self, step: str, sw: int, resumes: int) -> int:
        """Re-open the chip after the session was lost; the new resume count."""
        if self.sender.reopen is None or resumes >= self.strategy.max_resumes:
            raise FileReadError(step, "secure messaging session lost", sw)
        log.info("session lost (%04X), re-opening the chip", sw)
        self.sender.in_doubt = True
        self.sender.settle()
        return resumes + 1

    def _read_binary(self, sfi: int | None, offset: int, want: int) -> ResponseAPDU:
        if sfi is not None:
            return self.sender.send(CommandAPDU(0x00, 0xB0, 0x80 | sfi, offset, ne=want))
        if offset <= 0x7FFF:
            return self.sender.send(CommandAPDU(0x00, 0xB0, offset >> 8, offset & 0xFF, ne=want))
        data = tlv(0x54, offset.to_bytes(3, "big"))
        response = self.sender.send(
            CommandAPDU(0x00, 0xB1, 0x00, 0x00, data, ne=min(want + 5, MAX_EXTENDED_LE))
        )
        if not response.data:
            return response
        try:
            inner = parse_one(response.data)
        except TlvError:
            return ResponseAPDU(b"", 0x6F00)
        return ResponseAPDU(inner.value[:want] if inner.tag == 0x53 else b"", response.sw)
