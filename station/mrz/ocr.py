"""Reading one located MRZ line with the OCR-B glyph model (``station.mrz.glyphs``).

    scores = score_line(line)                        # a located LineImage
    text, score, margin = decode(scores, classes)    # the characters a layout allows

1. The 30-cell grid: the pitch from the strongest periodicity of the column ink profile
   (30 glyphs give a sharp spectral peak) or from the ink extent (29 pitches and a glyph),
   then the left edge and a linear change of pitch
   (perspective shrinks one end by up to ~15%) that put the cell boundaries on the columns
   with least ink, both grid ends just outside the ink; every inner boundary is then moved
   to its ink minimum and a quadratic fitted through them.
2. The line is rescaled so one pitch = the template width; every cell window is aligned
   (+-2 px across, +-3 px up and down) by normalised cross-correlation with the templates,
   in one matrix product.
3. At its best alignment each cell gets the discriminant's score for all 37 characters
   (``LineScores.classes``) and its best template correlation (``ncc``, a quality measure).
``decode`` then takes, per position, the best character the layout allows, with the margin
to the runner-up as confidence; positions printed twice (the Vietnamese document number is
also the end of the ID) are decided together, on the sum of both readings' scores.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image

from station.mrz.glyphs import MARGIN, TH, TP, GlyphModel, model
from station.mrz.image import Array
from station.mrz.locate import LineImage
from station.mrz.td1 import CHARSET, CLASSES

CELLS = 30
SHIFT_X = 2
SHIFT_Y = 3
_CHARS = np.array(list(CHARSET))


@dataclass(frozen=True, eq=False)
class LineScores:
    classes: Array  # (30, 37) discriminant score of every character at every position
    ncc: Array  # (30, 37) best template correlation at the cell's alignment
    pitch: float  # mean character pitch in the line image, px
    bounds: npt.NDArray[np.float64]  # the 31 cell boundaries used, line image columns


def _pitch_by_spectrum(profile: Array, x0: float, x1: float) -> float | None:
    segment = profile[int(x0) : int(np.ceil(x1))]
    if len(segment) < 2 * CELLS:
        return None
    segment = (segment - segment.mean()) * np.hanning(len(segment))
    m = 16 * len(segment)  # zero padding: a fine frequency grid
    spectrum = np.abs(np.fft.rfft(segment, m))
    span = x1 - x0
    k_lo = int(np.floor(m / (span / (CELLS - 1.6))))
    k_hi = int(np.ceil(m / (span / (CELLS + 0.2))))
    if k_hi <= k_lo + 2:
        return None
    k = float(k_lo + int(np.argmax(spectrum[k_lo : k_hi + 1])))
    i = int(k)
    if 0 < i < len(spectrum) - 1:  # parabolic peak
        y0, y1, y2 = spectrum[i - 1], spectrum[i], spectrum[i + 1]
        den = y0 - 2 * y1 + y2
        if abs(den) > 1e-9:
            k += 0.5 * float(y0 - y2) / float(den)
    return m / k


def fit_grid(
    ink: Array, x0: float, x1: float, extent_pitch: bool = True
) -> tuple[npt.NDArray[np.float64], float, Array]:
    """Cell boundaries (31) of a uniform-ish grid, the mean pitch, the smoothed profile;
    ``extent_pitch`` False: the spectrum's pitch only (the reader's second pass)."""
    raw = ink.sum(0)
    p0 = _pitch_by_spectrum(raw, x0, x1) or (x1 - x0) / (CELLS - 0.6)
    k = max(3, round(p0 / 2) | 1)  # every inter-glyph gap becomes a V-shaped valley
    profile = np.convolve(raw, np.ones(k) / k, mode="same").astype(np.float32)
    xs = np.arange(len(profile), dtype=np.float64)
    idx = np.arange(CELLS + 1)
    # the spectrum's pitch, and the pitch the ink extent implies (29 pitches and a glyph):
    # glare or shade over part of the line can pull the spectral peak a few % off
    pitches = p0 * np.linspace(0.985, 1.015, 7)
    if extent_pitch:
        pitches = np.r_[pitches, (x1 - x0) / np.linspace(29.95, 29.3, 7)]
    slopes = np.linspace(-0.2, 0.2, 17)  # pitch change from one end to the other
    offsets = np.linspace(-0.05, 0.6, 27)  # left edge = x0 - offset * pitch
    warp = idx[None, :] + slopes[:, None] * (idx * idx - CELLS * idx)[None, :] / (2 * CELLS)
    lefts = x0 - offsets[None, :] * pitches[:, None]
    pos = lefts[:, None, :, None] + pitches[:, None, None, None] * warp[None, :, None, :]
    cost = np.interp(pos, xs, profile, left=0, right=0).sum(3)
    end = (lefts + CELLS * pitches[:, None])[:, None, :]
    pp = pitches[:, None, None]
    cost = np.where((end >= x1 - 0.1 * pp) & (end <= x1 + 0.6 * pp), cost, np.inf)
    if not np.isfinite(cost).any():  # no grid ends at the ink's end: a uniform one
        uniform = x0 - 0.2 * p0 + p0 * idx.astype(np.float64)
        return uniform, p0, profile
    i, j, a = np.unravel_index(int(np.argmin(cost)), cost.shape)
    return pos[i, j, a], float(pitches[i]), profile


def _refined(
    profile: Array, predicted: npt.NDArray[np.float64], pitch: float
) -> list[tuple[int, float, float]]:
    """(index, ink minimum, depth) of every inner boundary within 35% of a pitch."""
    reach, last = 0.35 * pitch, len(profile) - 1
    out = []
    for k in range(1, CELLS):
        lo = int(max(0, np.floor(predicted[k] - reach)))
        hi = int(min(last, np.ceil(predicted[k] + reach)))
        if hi - lo < 3:
            continue
        segment = profile[lo : hi + 1]
        m = int(np.argmin(segment))
        x = float(lo + m)
        if 0 < m < len(segment) - 1:  # sub-pixel vertex
            y0, y1, y2 = segment[m - 1], segment[m], segment[m + 1]
            den = y0 - 2 * y1 + y2
            if den > 1e-6:
                x += 0.5 * float(y0 - y2) / float(den)
        out.append((k, x, float(segment.max() - segment.min()) + 1e-3))
    return out


def boundaries(
    ink: Array, x0: float, x1: float, extent_pitch: bool = True
) -> npt.NDArray[np.float64]:
    """The 31 cell boundaries: the grid, then a quadratic through the ink minima."""
    predicted, pitch, profile = fit_grid(ink, x0, x1, extent_pitch)
    found = _refined(profile, predicted, pitch)
    if len(found) < 8:
        return predicted
    ks = np.array([f[0] for f in found], float)
    xs = np.array([f[1] for f in found])
    ws = np.sqrt(np.array([f[2] for f in found]))
    keep = np.ones(len(ks), bool)
    coeffs = np.polyfit(ks, xs, 2, w=ws)
    for _ in range(3):
        coeffs = np.polyfit(ks[keep], xs[keep], 2, w=ws[keep])
        inliers = np.abs(np.polyval(coeffs, ks) - xs) < 0.15 * pitch
        if inliers.sum() < 8 or (inliers == keep).all():
            break
        keep = inliers
    fitted: npt.NDArray[np.float64] = np.polyval(coeffs, np.arange(CELLS + 1)).astype(np.float64)
    return fitted


def _windows(image: Array, ys: npt.NDArray[np.intp], xs: npt.NDArray[np.intp]) -> Array:
    """(n, TH * TP) windows at the given top-left corners, zero-mean and unit-norm."""
    view = np.lib.stride_tricks.sliding_window_view(image, (TH, TP))
    w = view[ys, xs].reshape(len(ys), TH * TP).astype(np.float32)
    w -= w.mean(axis=1, keepdims=True)
    w /= np.linalg.norm(w, axis=1, keepdims=True) + 1e-6
    return w


def score_line(
    line: LineImage,
    glyphs: GlyphModel | None = None,
    extent_pitch: bool = True,
    bounds: npt.NDArray[np.float64] | None = None,
) -> LineScores:
    """Every position's scores for every character (see the module docstring); ``bounds``
    imposes the cell boundaries (another line's: the lines share their columns)."""
    g = glyphs or model()
    if bounds is None:
        bounds = boundaries(line.ink, line.x0, line.x1, extent_pitch)
    pitch = float(bounds[-1] - bounds[0]) / CELLS
    s = TP / pitch
    h, w = line.ink.shape
    resized = Image.fromarray(line.ink, "F").resize(
        (max(1, round(w * s)), max(1, round(h * s))), Image.Resampling.BILINEAR
    )
    image = np.pad(np.asarray(resized, np.float32), TH)
    cx = np.round((bounds[:-1] + bounds[1:]) / 2 * s - TP / 2).astype(int) + TH
    cy = round(line.top * s - MARGIN) + TH
    grid_x, grid_y = np.meshgrid(np.arange(-SHIFT_X, SHIFT_X + 1), np.arange(-SHIFT_Y, SHIFT_Y + 1))
    gx, gy = grid_x.ravel(), grid_y.ravel()
    ys = np.clip(np.tile(cy + gy, CELLS), 0, image.shape[0] - TH)
    xs = np.clip((cx[:, None] + gx[None, :]).ravel(), 0, image.shape[1] - TP)
    windows = _windows(image, ys, xs).reshape(CELLS, len(gx), TH * TP)
    aligned = (windows @ g.base.T).max(axis=2).argmax(axis=1)
    best = windows[np.arange(CELLS), aligned]
    variants, chars, dims = g.templates.shape
    ncc = (best @ g.templates.reshape(variants * chars, dims).T).reshape(CELLS, variants, chars)
    classes: Array = (best @ g.weights + g.bias).astype(np.float32)
    return LineScores(classes, ncc.max(axis=1).astype(np.float32), pitch, bounds)


_MASKS: dict[str, npt.NDArray[np.bool_]] = {}


def _mask(cls: str) -> npt.NDArray[np.bool_]:
    if cls not in _MASKS:
        allowed = CLASSES.get(cls, cls)
        _MASKS[cls] = np.array([c in allowed for c in CHARSET])
    return _MASKS[cls]


@dataclass(frozen=True, eq=False)
class Decoded:
    text: str
    score: Array  # (30,) template correlation of the character chosen
    margin: Array  # (30,) best minus runner-up score among the allowed characters


def decode(scores: LineScores, classes: str, tied: Sequence[tuple[int, int]] = ()) -> Decoded:
    """The best allowed character per position; each ``tied`` pair of positions gets one
    character, decided on the sum of both positions' scores."""
    masked = np.where(np.stack([_mask(c) for c in classes]), scores.classes, -np.inf)
    for a, b in tied:
        masked[a] = masked[b] = masked[a] + masked[b]
    order = np.argsort(-masked, axis=1)
    first, second = order[:, 0], order[:, 1]
    rows = np.arange(CELLS)
    runner = masked[rows, second]
    margin = np.where(np.isfinite(runner), masked[rows, first] - runner, np.inf)
    text = "".join(_CHARS[first])
    return Decoded(text, scores.ncc[rows, first], margin.astype(np.float32))
