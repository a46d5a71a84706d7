"""The OCR-B glyph model the MRZ reader classifies with, and its generator.

Two parts, both made from Debian's ``fonts-ocr-b`` (the Regular and the Sharp cut):

- ``templates``: the 37 MRZ characters rendered into one character cell (TP x TH pixels),
  in a few print weights and blurs, zero-mean and unit-norm: normalised cross-correlation
  with them aligns a cell and scores how much it looks like a character at all;
- ``weights`` / ``bias``: a linear discriminant (class means + pooled covariance, shrunk)
  learned from ~12,000 augmented renders (neighbouring glyphs, print weight, sub-pixel shift,
  blur, contrast, noise). Plain template matching confuses H/M, O/D/Q, G/Q, U/W at 10-14 px;
  the discriminant weighs the pixels that separate them.

The model is shipped as ``ocrb.npz`` (about 100 KB) so the station needs neither the font nor
the ~20 s of training at start-up. Regenerate it, after a change here or to the font, with

    .venv/bin/python -m station.mrz.glyphs            # writes station/mrz/ocrb.npz
    .venv/bin/python -m station.mrz.glyphs --check    # exit 1 if the shipped file differs

(``tests/mrz/test_glyphs.py`` runs the check). Real cards' OCR-B may differ from Debian's:
the training takes any font, and real glyph crops can be added the same way.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from station.mrz.td1 import CHARSET

FloatArray = npt.NDArray[np.float32]

FONT_DIR = Path("/usr/share/fonts/opentype/ocr-b")
FONTS = ("OCRB.otf", "OCRBS.otf")  # Regular and Sharp: real cards' glyphs differ again
DATA = Path(__file__).with_name("ocrb.npz")

PITCH_OVER_CAP = 2.54 / 2.40  # MRZ: 10 characters per inch, cap height 2.4 mm
TP = 16  # template cell width (one character pitch), px
TCAP = TP / PITCH_OVER_CAP  # template cap height, ~15.1 px
MARGIN = 3  # rows above and below the cap height in a cell window
TH = round(TCAP) + 2 * MARGIN
CAP_PER_EM = 0.75  # OCR-B cap height / font size
VARIANTS = tuple((bold, blur) for bold in (False, True) for blur in (0.5, 1.0, 1.5))
BASE_VARIANT = VARIANTS.index((False, 1.0))
SAMPLES_PER_CLASS = 160  # per font
SHRINK = 0.05
SEED = 0


@dataclass(frozen=True, eq=False)
class GlyphModel:
    templates: FloatArray  # (variants, 37, TH * TP), zero-mean unit-norm
    weights: FloatArray  # (TH * TP, 37) linear discriminant
    bias: FloatArray  # (37,)

    @property
    def base(self) -> FloatArray:
        """The normal-weight, medium-blur templates (37, TH * TP): used to align cells."""
        base: FloatArray = self.templates[BASE_VARIANT]
        return base

    def save(self, path: Path) -> None:
        with path.open("wb") as out:
            np.savez_compressed(
                out,
                templates=self.templates.astype(np.float16),
                weights=self.weights,
                bias=self.bias,
            )

    @classmethod
    def load(cls, path: Path = DATA) -> GlyphModel:
        with np.load(path) as data:
            templates = data["templates"].astype(np.float32)
            weights, bias = data["weights"].astype(np.float32), data["bias"].astype(np.float32)
        if templates.shape != (len(VARIANTS), len(CHARSET), TH * TP) or weights.shape != (
            TH * TP,
            len(CHARSET),
        ):
            raise ValueError(f"{path.name}: glyph model of the wrong shape (regenerate it)")
        return cls(templates, weights, bias)


@cache
def model() -> GlyphModel:
    """The shipped model, loaded once per process."""
    return GlyphModel.load()


def _font(path: Path, cap_px: float) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(path), round(cap_px / CAP_PER_EM))


def _cap_top(font: ImageFont.FreeTypeFont) -> int:
    return int(font.getbbox("H")[1])  # offset of the cap top below the drawing origin


def _normalised(pixels: npt.NDArray[np.floating[Any]]) -> FloatArray:
    flat = pixels.ravel() - pixels.mean()
    out: FloatArray = (flat / (np.linalg.norm(flat) + 1e-6)).astype(np.float32)
    return out


def render_templates(font_path: Path) -> FloatArray:
    """(variants, 37, TH * TP) templates of one font, drawn 8x supersampled."""
    hi = 8
    font = _font(font_path, TCAP * hi)
    top = _cap_top(font)
    out = np.zeros((len(VARIANTS), len(CHARSET), TH * TP), np.float32)
    for v, (bold, blur) in enumerate(VARIANTS):
        for k, ch in enumerate(CHARSET):
            image = Image.new("L", (TP * hi, TH * hi), 0)
            draw = ImageDraw.Draw(image)
            draw.text((TP * hi / 2 - font.getlength(ch) / 2, MARGIN * hi - top), ch, 255, font)
            if bold:
                image = image.filter(ImageFilter.GaussianBlur(0.06 * TCAP * hi / 2.4))
                image = image.point(lambda x: 255 if x > 70 else 0)
            image = image.resize((TP, TH), Image.Resampling.BOX)
            image = image.filter(ImageFilter.GaussianBlur(blur))
            out[v, k] = _normalised(np.asarray(image, np.float32) / 255)
    return out


def _sample(
    rng: np.random.Generator, font: ImageFont.FreeTypeFont, top: int, chars: str
) -> FloatArray:
    """One training window: ``chars[1]`` between two neighbours, augmented."""
    hi = 4
    width, height = 3 * TP * hi, (TH + 4) * hi
    image = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(image)
    pitch = TP * hi * rng.uniform(0.95, 1.05)
    for j, ch in enumerate(chars):
        centre = width / 2 + (j - 1) * pitch
        draw.text((centre - font.getlength(ch) / 2, (MARGIN + 2) * hi - top), ch, 255, font)
    level = rng.uniform(60, 200)  # print weight: re-threshold a blurred glyph
    image = image.filter(ImageFilter.GaussianBlur(0.06 * TCAP * hi / 2.4))
    image = image.point(lambda v: 255 if v > level else 0)
    # placement, size and slant as a located line gives them: the cell is cut at the measured
    # pitch, so the cap height varies with the print (+-5%) and the keystone, and a residual
    # skew of a degree or so slants the glyph
    dx, dy = rng.uniform(-1, 1) * hi, rng.uniform(-1, 1) * hi
    scale = rng.uniform(0.93, 1.07)
    sx, sy = scale * rng.uniform(0.97, 1.03), scale
    shear = rng.uniform(-0.03, 0.03)
    cx, cy = width / 2, (MARGIN + 2 + TCAP / 2) * hi
    coeffs = (1 / sx, shear, cx - cx / sx - shear * cy + dx, 0, 1 / sy, cy - cy / sy + dy)
    image = image.transform(image.size, Image.Transform.AFFINE, coeffs, Image.Resampling.BILINEAR)
    image = image.resize((width // hi, height // hi), Image.Resampling.BOX)
    image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.8)))
    pixels = np.asarray(image, np.float32) / 255 * rng.uniform(0.5, 1.0)
    pixels = pixels + rng.normal(0, rng.uniform(0, 0.08), pixels.shape).astype(np.float32)
    x0 = (width // hi - TP) // 2
    return _normalised(pixels[2 : 2 + TH, x0 : x0 + TP])


def training_set(
    rng: np.random.Generator, font_path: Path, per_class: int
) -> tuple[FloatArray, npt.NDArray[np.int64]]:
    font = _font(font_path, TCAP * 4)
    top = _cap_top(font)
    x = np.zeros((len(CHARSET) * per_class, TH * TP), np.float32)
    y = np.repeat(np.arange(len(CHARSET)), per_class)
    for n, k in enumerate(y):
        left, right = CHARSET[rng.integers(37)], CHARSET[rng.integers(37)]
        x[n] = _sample(rng, font, top, left + CHARSET[k] + right)
    return x, y


def train(x: FloatArray, y: npt.NDArray[np.int64]) -> tuple[FloatArray, FloatArray]:
    """Linear discriminant: class means, pooled covariance shrunk towards its trace."""
    means = np.stack([x[y == k].mean(0) for k in range(len(CHARSET))])
    residual = x - means[y]
    cov = residual.T @ residual / len(x)
    cov = (1 - SHRINK) * cov + SHRINK * np.trace(cov) / cov.shape[0] * np.eye(cov.shape[0])
    weights = (np.linalg.inv(cov) @ means.T).astype(np.float32)
    bias = (-0.5 * np.einsum("kd,dk->k", means, weights)).astype(np.float32)
    return weights, bias


def build(font_dir: Path = FONT_DIR) -> GlyphModel:
    """Train the model from the fonts (deterministic: a fixed seed)."""
    rng = np.random.default_rng(SEED)
    paths = [font_dir / name for name in FONTS]
    parts = [training_set(rng, path, SAMPLES_PER_CLASS) for path in paths]
    weights, bias = train(
        np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    )
    return GlyphModel(render_templates(paths[0]), weights, bias)


def same(a: GlyphModel, b: GlyphModel) -> bool:
    """Equal up to float16 storage and float rounding across machines."""
    scale = float(np.abs(a.weights).max())
    return (
        np.allclose(a.templates, b.templates, atol=2e-3)
        and np.allclose(a.weights, b.weights, atol=1e-4 * scale)
        and np.allclose(a.bias, b.bias, atol=1e-4 * float(np.abs(a.bias).max()))
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="build the MRZ reader's OCR-B glyph model")
    parser.add_argument("--out", type=Path, default=DATA, help="where to write it")
    parser.add_argument("--check", action="store_true", help="compare with --out, write nothing")
    args = parser.parse_args(argv)
    built = build()
    if args.check:
        ok = same(built, GlyphModel.load(args.out))
        print(f"{args.out}: {'up to date' if ok else 'DIFFERS from the fonts: regenerate it'}")
        return 0 if ok else 1
    built.save(args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
