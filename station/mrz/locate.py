"""Finding the MRZ in a grayscale frame and cutting out its three lines (numpy + Pillow).

    geometry = find_mrz(frame)        # uint8 H x W -> MrzGeometry | None

1. The frame is reduced by an integer factor to ~400 px wide (area average).
2. Black-hat (grey closing minus image) = dark strokes on brighter paper; ink where it
   exceeds 4 x the noise level (from the second difference) AND 12% of the local paper
   level, so a solid black QR code does not set the threshold and shading does not matter.
3. Closings merge the characters into lines and the lines into one block; connected
   components; the MRZ is a long, flat, dense component with the TD1 aspect ratio (4..14),
   oriented by its principal axis (|angle| <= 20 degrees).
4. The block is cut from the full-resolution frame in one affine resample (outside the
   frame: white), at most ``CROP_CHAR_H`` px per character height; a block shorter than
   an MRZ for its height (glare or shade hid part of it) is cut wide enough for the
   missing part on either side. The residual skew is measured from the row profiles of
   vertical strips and the cut redone, when that makes the lines sharper.
5. The crop becomes an ink map (0 paper .. 1 ink) from local paper and ink levels on a
   coarse grid (follows glare and shading), split into three line bands by its row
   profile; each line's ink extent is found ignoring solid dark runs (card edge), and a
   line that falls short inside the others takes their extent (``shared_extents``: the
   three lines of a TD1 MRZ occupy the same columns).
A 1280 px frame with nothing found is tried once more at a finer scale (small characters).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image

from station.mrz.image import Array, Run, box_mean, components, dilate, erode, trimmed_range

Frame = npt.NDArray[np.uint8]
WORK_WIDTH = 400
CROP_CHAR_H = 20.0  # characters above this height carry nothing more for a 16 px template
MAX_ANGLE_DEG = 20.0
TD1_ASPECT = 7.3  # length / height of a whole MRZ block at the work scale (measured: 6.4-8.4)
SHORT_ASPECT = 6.0  # below this a block is taken for a part of the MRZ


@dataclass(frozen=True)
class Block:
    """A candidate MRZ block in frame coordinates (centre, extent along/across, angle)."""

    score: float
    cx: float
    cy: float
    length: float
    height: float
    angle: float  # radians


@dataclass(frozen=True, eq=False)
class LineImage:
    ink: Array  # deskewed ink map of the line and a margin (1 = ink)
    char_h: float  # band height, px (close to the cap height)
    x0: float  # first inked column of the line
    x1: float  # end of the last inked column
    top: float  # first row of the band inside ``ink``


@dataclass(frozen=True, eq=False)
class MrzGeometry:
    lines: tuple[LineImage, LineImage, LineImage]
    angle_deg: float
    block: Block
    scale: float  # crop pixels per frame pixel (< 1 when large characters were reduced)

    def turned(self) -> MrzGeometry:
        """The same block read the other way up (a card lying upside down): each line
        turned by 180 degrees, the lines in reverse order."""
        turned = [_turn(line) for line in reversed(self.lines)]
        return MrzGeometry(
            (turned[0], turned[1], turned[2]), self.angle_deg + 180, self.block, self.scale
        )


def _turn(line: LineImage) -> LineImage:
    h, w = line.ink.shape
    ink = np.ascontiguousarray(line.ink[::-1, ::-1])
    return LineImage(ink, line.char_h, w - line.x1, w - line.x0, h - line.top - line.char_h)


def _noise_sigma(small: Array) -> float:
    """Robust noise level from the median absolute second difference."""
    sub = small[::3]
    d2 = np.abs(sub[:, :-2] - 2 * sub[:, 1:-1] + sub[:, 2:]).ravel()
    return float(np.partition(d2, d2.size // 2)[d2.size // 2]) / (0.6745 * math.sqrt(6))


def _block_mask(small: Array) -> npt.NDArray[np.bool_]:
    k = 7
    closed = erode(dilate(small, k, k), k, k)
    blackhat = closed - small
    sigma = _noise_sigma(small)
    ink = (blackhat > 4.0 * sigma) & (blackhat > 0.12 * closed)
    # '<' fillers are thin: smooth the ink before thresholding, then merge characters into
    # lines and lines into the block
    mask = (box_mean(ink, 3, 7) > 0.2).view(np.uint8)
    mask = erode(dilate(mask, 3, 7), 3, 7)
    mask = erode(dilate(mask, 7, 3), 7, 3)
    return mask.astype(bool)


def _oriented(runs: list[Run], f: int) -> Block | None:
    """The component as an oriented block, or None when it is not MRZ-shaped."""
    area = sum(x1 - x0 for _, x0, x1 in runs)
    width = max(r[2] for r in runs) - min(r[1] for r in runs)
    if area < 60 or width < 30 or width < 2.0 * (runs[-1][0] - runs[0][0] + 1):
        return None
    rows = np.concatenate([np.full(x1 - x0, r) for r, x0, x1 in runs]).astype(np.float32)
    cols = np.concatenate([np.arange(x0, x1) for _, x0, x1 in runs]).astype(np.float32)
    cy, cx = float(rows.mean()), float(cols.mean())
    _, vectors = np.linalg.eigh(np.cov(np.vstack([cols - cx, rows - cy])))
    major = vectors[:, 1] if vectors[0, 1] >= 0 else -vectors[:, 1]
    angle = math.atan2(float(major[1]), float(major[0]))
    if abs(math.degrees(angle)) > MAX_ANGLE_DEG:
        return None
    ca, sa = math.cos(angle), math.sin(angle)
    u_lo, u_hi = trimmed_range((cols - cx) * ca + (rows - cy) * sa)
    v_lo, v_hi = trimmed_range(-(cols - cx) * sa + (rows - cy) * ca)
    length, height = u_hi - u_lo + 1, v_hi - v_lo + 1
    aspect, fill = length / max(height, 1.0), area / max(length * height, 1.0)
    if not (4.0 <= aspect <= 14.0 and fill > 0.45 and length > 40):
        return None
    uc, vc = (u_hi + u_lo) / 2, (v_hi + v_lo) / 2
    bx, by = cx + uc * ca - vc * sa, cy + uc * sa + vc * ca
    score = area * min(fill, 0.9) * (1.0 - abs(aspect - 7.5) / 10)
    return Block(score, (bx + 0.5) * f, (by + 0.5) * f, length * f, height * f, angle)


def candidates(frame: Frame, factor: int) -> list[Block]:
    """MRZ-shaped blocks found at a reduction ``factor``, best first."""
    h, w = frame.shape
    wh, ww = h // factor, w // factor
    reduced = Image.fromarray(frame[: wh * factor, : ww * factor]).reduce(factor)
    small = np.asarray(reduced, np.float32)
    found = [_oriented(runs, factor) for runs in components(_block_mask(small))]
    return sorted((b for b in found if b is not None), key=lambda b: -b.score)


def _affine_crop(
    image: Image.Image, block: Block, angle: float, size: tuple[float, float], out: tuple[int, int]
) -> Array:
    """The oriented box (block centre, ``angle``, ``size`` in frame px) as ``out`` pixels."""
    sx, sy = size[0] / out[0], size[1] / out[1]
    ca, sa = math.cos(angle), math.sin(angle)
    a, b, d, e = ca * sx, -sa * sy, sa * sx, ca * sy
    c = block.cx - a * out[0] / 2 - b * out[1] / 2
    f = block.cy - d * out[0] / 2 - e * out[1] / 2
    crop = image.transform(
        out, Image.Transform.AFFINE, (a, b, c, d, e, f), Image.Resampling.BILINEAR, fillcolor=255
    )
    return np.asarray(crop, np.float32)


def ink_map(gray: Array, cell: float) -> Array:
    """0 paper .. 1 ink, from paper (high quantile) and ink (low quantile) levels on a grid of
    ``cell`` px blocks, smoothed and interpolated back: follows glare and shading."""
    h, w = gray.shape
    c = max(2, int(cell))
    gh, gw = max(1, h // c), max(1, w // c)
    blocks = gray[: gh * c, : gw * c].reshape(gh, c, gw, c).transpose(0, 2, 1, 3)
    flat = blocks.reshape(gh, gw, c * c)
    hi = np.percentile(flat, 95, axis=2).astype(np.float32)
    lo = np.percentile(flat, 5, axis=2).astype(np.float32)
    hi = box_mean(dilate(hi, 3, 3), 3, 3)
    lo = box_mean(erode(lo, 3, 3), 3, 3)
    paper = np.asarray(Image.fromarray(hi).resize((w, h), Image.Resampling.BILINEAR))
    ink_level = np.asarray(Image.fromarray(lo).resize((w, h), Image.Resampling.BILINEAR))
    spread = np.maximum(paper - ink_level, 20.0)
    out: Array = np.clip((paper - gray) / spread, 0, 1).astype(np.float32)
    return out


def residual_skew(ink: Array, strips: int = 8) -> float:
    """Skew (radians) from the vertical shifts between the row profiles of strips."""
    h, w = ink.shape
    sw = w // strips
    profiles = [ink[:, i * sw : (i + 1) * sw].sum(1) for i in range(strips)]
    ref = profiles[strips // 2] - profiles[strips // 2].mean()
    reach = max(3, h // 3)
    xs, ys = [], []
    for i, profile in enumerate(profiles):
        p = profile - profile.mean()
        if p.std() < 1e-3:
            continue
        best, shift = -1e18, 0
        for s in range(-reach, reach + 1):
            c = (
                float(np.dot(p[s:], ref[: h - s]))
                if s >= 0
                else float(np.dot(p[: h + s], ref[-s:]))
            )
            if c > best:
                best, shift = c, s
        xs.append((i + 0.5) * sw)
        ys.append(shift)
    if len(xs) < 3:
        return 0.0
    return math.atan(float(np.polyfit(xs, ys, 1)[0]))


def _sharpness(ink: Array) -> float:
    """How well the rows separate into lines and gaps: the spread of the row profile."""
    return float(ink.mean(1).std())


def _runs(on: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
    d = np.diff(np.r_[0, on.view(np.int8), 0])
    return list(zip(np.nonzero(d == 1)[0].tolist(), np.nonzero(d == -1)[0].tolist(), strict=True))


def split_lines(ink: Array) -> list[tuple[int, int]]:
    """The three text bands (top, bottom) of a deskewed MRZ crop; fewer when not found."""
    profile = ink.mean(1)
    smooth = np.convolve(profile, np.ones(3) / 3, mode="same")
    text_rows = smooth[smooth < 0.6]  # solid dark rows (background) do not set the levels
    if len(text_rows) < 6:
        return []
    base, top = np.percentile(text_rows, 10), np.percentile(text_rows, 98)
    bands = [
        b for b in _runs(smooth > base + 0.4 * (top - base)) if profile[b[0] : b[1]].mean() < 0.6
    ]
    if not bands:
        return []
    tallest = max(b - a for a, b in bands)
    bands = [b for b in bands if b[1] - b[0] >= 0.3 * tallest]
    if len(bands) <= 3:
        return bands

    def irregularity(i: int) -> float:  # three consecutive bands: similar heights and gaps
        t = bands[i : i + 3]
        heights = [b - a for a, b in t]
        gaps = [t[1][0] - t[0][0], t[2][0] - t[1][0]]
        return (max(heights) - min(heights)) / max(heights) + abs(gaps[0] - gaps[1]) / max(gaps)

    first = min(range(len(bands) - 2), key=irregularity)
    return bands[first : first + 3]


def ink_extent(band: Array, char_h: float) -> tuple[float, float] | None:
    """(x0, x1) of the text in a band: the longest run of inked columns with no gap wider
    than ~1.3 character heights; solid dark runs (card edge, background) are not text."""
    frac = (box_mean(band, 3, 3) > 0.5).mean(0)
    frac[:2] = 0
    frac[-2:] = 0
    for start, end in _runs(frac > 0.8):
        if end - start > char_h:
            frac[start:end] = 0
    on = np.nonzero(frac > 0.08)[0]
    if len(on) < 10:
        return None
    splits = np.nonzero(np.diff(on) > max(3.0, 1.3 * char_h))[0]
    best: tuple[float, float] | None = None
    for s, e in zip(np.r_[0, splits + 1], np.r_[splits, len(on) - 1], strict=True):
        a, b = int(on[s]), int(on[e]) + 1
        if frac[a:b].mean() <= 0.75 and (best is None or b - a > best[1] - best[0]):
            best = (float(a), float(b))
    return best


def _lines(ink: Array) -> tuple[LineImage, LineImage, LineImage] | None:
    bands = split_lines(ink)
    if len(bands) != 3:
        return None
    found = [ink_extent(ink[top:bottom], bottom - top) for top, bottom in bands]
    extents = shared_extents(found, float(np.median([b - a for a, b in bands])))
    if extents is None:
        return None
    lines = []
    for (top, bottom), (x0, x1) in zip(bands, extents, strict=True):
        height = bottom - top
        pad = max(2, round(height * 0.35))
        t0, b0 = max(0, top - pad), min(ink.shape[0], bottom + pad)
        lines.append(LineImage(ink[t0:b0], float(height), x0, x1, float(top - t0)))
    return lines[0], lines[1], lines[2]


def shared_extents(
    found: list[tuple[float, float] | None], char_h: float
) -> list[tuple[float, float]] | None:
    """The three lines' (x0, x1), or None when they do not make one MRZ. The lines of a TD1
    MRZ start and end in the same columns (30 characters at one pitch): a line whose
    extent lies inside the longest one but falls short by more than half a character at
    either end (glare or shade washed out its first or last characters, a thin glyph
    lost) gets the longest line's extent; spans that still differ by more than 20% are
    not an MRZ."""
    if any(e is None for e in found):
        return None
    extents = [e for e in found if e is not None]
    longest = max(extents, key=lambda e: e[1] - e[0])
    span = longest[1] - longest[0]
    out = []
    for x0, x1 in extents:
        inside = x0 >= longest[0] - char_h / 2 and x1 <= longest[1] + char_h / 2
        short = x0 - longest[0] > 0.6 * char_h or longest[1] - x1 > 0.6 * char_h
        out.append(longest if inside and short else (x0, x1))
    if min(x1 - x0 for x0, x1 in out) < 0.8 * span:
        return None
    return out


def _try_block(image: Image.Image, block: Block) -> MrzGeometry | None:
    char_h = block.height / 4.0  # the block is ~3 line pitches high
    length = block.length
    if length < SHORT_ASPECT * block.height:
        # part of the block is lost to glare or shade at the work scale: the MRZ is ~7.3
        # block heights long, on an unknown side; cut enough for either, the lines' ink
        # extents then find the text
        length += 2 * (TD1_ASPECT * block.height - length)
    size = (length + 2.5 * char_h, block.height + 2.0 * char_h)
    zoom = min(1.0, CROP_CHAR_H / max(char_h, 1.0))
    out = (round(size[0] * zoom), round(size[1] * zoom))
    if out[0] < 60 or out[1] < 12:
        return None
    angle = block.angle
    ink = ink_map(_affine_crop(image, block, angle, size, out), char_h * zoom)
    for _ in range(2):  # the block's angle is off when something touches the block
        skew = residual_skew(ink)
        if abs(skew) < math.radians(0.15):
            break
        turned = ink_map(_affine_crop(image, block, angle + skew, size, out), char_h * zoom)
        # the strips' profiles can match a line pitch away (a line of fillers beside a
        # line of digits): a skew is taken only when the lines come out sharper
        if _sharpness(turned) <= _sharpness(ink):
            break
        angle, ink = angle + skew, turned
    lines = _lines(ink)
    if lines is None:
        return None
    return MrzGeometry(lines, math.degrees(angle), block, zoom)


def find_mrz(frame: Frame) -> MrzGeometry | None:
    """The MRZ's three lines in ``frame`` (uint8 H x W), or None when none is found."""
    image = Image.fromarray(frame)
    factor = max(1, round(frame.shape[1] / WORK_WIDTH))
    for f in [factor, factor - 1] if factor >= 3 else [factor]:
        for block in candidates(frame, f)[:3]:
            geometry = _try_block(image, block)
            if geometry is not None:
                return geometry
    return None
