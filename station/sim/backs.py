"""Synthetic card backs with the TD1 MRZ printed in OCR-B, as the camera sees them.

    frame = back_frame(mrz_lines(citizen), (640, 480), char_h=14, look=random_look(rng))

Both generations (ID-1 card, 85.6 x 54 mm, MRZ at the bottom, 2.54 mm pitch, 2.4 mm cap
height): the 2021 back with two fingerprint boxes, the 2024 back with its 18 x 18 mm QR code
(a real, decodable QR of ``qr_payload``) above the MRZ; Vietnamese text, guilloche, a
signature. The MRZ is drawn character by character at its pitch with Debian's OCR-B
(``fonts-ocr-b``: the Regular or the Sharp cut), in a thin, normal or bold print weight.

``back_frame`` draws the card at twice the frame scale, warps it by rotation and keystone
perspective onto a desk, reduces it 2:1 and applies the camera: an illumination gradient,
low light (gain and more noise), a glare blob, blur and noise (``Look``; ``random_look``
draws them like the MRZ benchmark does). ``char_h`` is the MRZ character height in frame
pixels; the MRZ is always inside the frame (the rest of the card may not be).

The ICAO 9303 part 5 TD1 specimen (``ICAO_SPECIMEN``) renders the same way.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from station.sim.qrcodes import qr_image, qr_matrix

Frame = npt.NDArray[np.uint8]
Generation = Literal[2021, 2024]
Weight = Literal["thin", "normal", "bold"]

OCRB_DIR = Path("/usr/share/fonts/opentype/ocr-b")
DEJAVU = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
CARD_W_MM, CARD_H_MM = 85.6, 54.0
PITCH_MM, CHAR_H_MM, CAP_PER_EM = 2.54, 2.40, 0.75
MRZ_LEFT_MM, BOTTOM_BASELINE_MM = 4.7, 4.2
QR_MM = 18.0
ICAO_SPECIMEN = (
    "I<UTOD231458907<<<<<<<<<<<<<<<",
    "7408122F1204159UTO<<<<<<<<<<<6",
    "ERIKSSON<<ANNA<MARIA<<<<<<<<<<",
)  # ICAO Doc 9303 part 5, appendix A (the TD1 specimen)
TEXTS = (
    "Đặc điểm nhân dạng:",
    "Nốt ruồi C:2cm trên sau mép trái",
    "Ngày, tháng, năm:",
    "CỤC TRƯỞNG CỤC CẢNH SÁT",
    "QUẢN LÝ HÀNH CHÍNH VỀ TRẬT TỰ XÃ HỘI",
    "Nơi cư trú: Số 12 đường Lê Lợi, Phường Bến Nghé",
    "Nơi đăng ký khai sinh: Hà Nội",
)


@dataclass(frozen=True)
class Look:
    """How the card lies under the camera and what the camera makes of it."""

    angle_deg: float = 0.0
    keystone: float = 0.0  # corner displacement, fraction of the card width (perspective)
    blur: float = 0.6  # Gaussian sigma, frame px
    noise: float = 2.0  # Gaussian sigma, grey levels
    gain: float = 1.0  # < 0.6: low light
    glare: float = 0.0  # amplitude of a glare blob over the MRZ, grey levels
    gradient: tuple[float, float] = (0.0, 0.0)  # illumination slope across x and y
    weight: Weight = "normal"
    font: str = "OCRB.otf"  # or "OCRBS.otf" (the Sharp cut)


def random_look(rng: random.Random, *, hard: bool = True) -> Look:
    """The benchmark's conditions: +-5 degrees, keystone up to 4%, blur 0.3-1.2 px, glare in
    30% and low light in 25% of frames (``hard``), both OCR-B cuts, three print weights."""
    low_light = hard and rng.random() < 0.25
    return Look(
        angle_deg=rng.uniform(-5, 5),
        keystone=rng.uniform(0, 0.04),
        blur=rng.uniform(0.3, 1.2),
        noise=rng.uniform(3, 9) if low_light else rng.uniform(1, 5),
        gain=rng.uniform(0.35, 0.6) if low_light else rng.uniform(0.8, 1.15),
        glare=rng.uniform(60, 160) if hard and rng.random() < 0.3 else 0.0,
        gradient=(rng.uniform(-0.25, 0.25), rng.uniform(-0.25, 0.25)),
        weight=rng.choice(("thin", "normal", "normal", "bold")),
        font=rng.choice(("OCRB.otf", "OCRBS.otf")),
    )


@lru_cache(maxsize=64)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


def _guilloche(w: int, h: int, rng: random.Random, lo: float, hi: float) -> npt.NDArray[np.float32]:
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    f = np.zeros((h, w), np.float32)
    for _ in range(3):
        fx, fy, phase = rng.uniform(0.004, 0.03), rng.uniform(0.004, 0.03), rng.uniform(0, 6.28)
        f += np.sin(x * fx + y * fy + 3 * np.sin(y * fy * 0.5 + phase))
    f = (f - f.min()) / (np.ptp(f) + 1e-6)
    out: npt.NDArray[np.float32] = (lo + (hi - lo) * f).astype(np.float32)
    return out


def _fingerprints(draw: ImageDraw.ImageDraw, ppm: float, dark: int, rng: random.Random) -> None:
    small = _font(DEJAVU, max(6, int(1.5 * ppm)))
    for k in range(2):
        x0, y0 = (52 + k * 17) * ppm, 4 * ppm
        draw.rectangle(
            (x0, y0, x0 + 15 * ppm, y0 + 20 * ppm), outline=dark, width=max(1, int(0.2 * ppm))
        )
        cx, cy = x0 + 7.5 * ppm, y0 + 10 * ppm
        for r in np.arange(0.6, 7, 0.55):
            box = (cx - r * ppm * 0.8, cy - r * ppm, cx + r * ppm * 0.8, cy + r * ppm)
            draw.ellipse(box, outline=int(rng.uniform(60, 120)), width=max(1, int(0.25 * ppm)))
        label = "Ngón trỏ " + ("trái" if k == 0 else "phải")
        draw.text((x0 + ppm, y0 + 20.5 * ppm), label, dark, small)


def _qr(card: Image.Image, payload: bytes, ppm: float) -> tuple[int, int, int, int]:
    """Paste a real QR of ``payload`` (18 mm, whole-pixel modules) at the top right."""
    modules = len(qr_matrix(payload))
    module_px = max(1, round(QR_MM * ppm / modules))
    image = qr_image(payload, module_px, quiet=1)
    left, top = int(63 * ppm), int(3.5 * ppm)
    card.paste(image, (left, top))
    return left, top, left + image.width, top + image.height


def _mrz(
    card: Image.Image, lines: tuple[str, ...], ppm: float, look: Look, rng: random.Random
) -> None:
    w, h = card.size
    char_h = CHAR_H_MM * rng.uniform(0.95, 1.05)
    font = _font(str(OCRB_DIR / look.font), int(char_h / CAP_PER_EM * ppm))
    top_offset = font.getbbox("H")[1]
    pitch_y, left = rng.uniform(3.4, 4.0), MRZ_LEFT_MM + rng.uniform(-0.6, 0.6)
    mask = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(mask)
    for index, text in enumerate(lines):
        top = (CARD_H_MM - BOTTOM_BASELINE_MM - (2 - index) * pitch_y - char_h) * ppm
        for position, ch in enumerate(text):
            cx = (left + (position + 0.5) * PITCH_MM + rng.gauss(0, 0.03)) * ppm
            y = top - top_offset + rng.gauss(0, 0.03) * ppm
            draw.text((cx - font.getlength(ch) / 2, y), ch, 255, font)
    if look.weight != "normal":  # +-~0.05 mm per stroke side
        level = 70 if look.weight == "bold" else 185
        mask = mask.filter(ImageFilter.GaussianBlur(0.06 * ppm)).point(
            lambda v: 255 if v > level else 0
        )
    ink = Image.new("L", (w, h), int(rng.uniform(0, 50)))
    card.paste(ink, (0, 0), mask)


def draw_back(
    lines: tuple[str, ...],
    ppm: float,
    rng: random.Random,
    *,
    look: Look = Look(),
    generation: Generation = 2024,
    qr_payload: bytes | None = None,
) -> tuple[Image.Image, tuple[int, int, int, int] | None]:
    """The back at ``ppm`` pixels per mm, and the QR box in card pixels (2024 only)."""
    w, h = round(CARD_W_MM * ppm), round(CARD_H_MM * ppm)
    paper = rng.uniform(185, 215)
    base = _guilloche(w, h, rng, paper, paper + rng.uniform(8, 30))
    card = Image.fromarray(base.clip(0, 255).astype(np.uint8), "L")
    draw = ImageDraw.Draw(card)
    text = _font(DEJAVU, max(6, int(1.9 * ppm)))
    dark = int(rng.uniform(30, 80))
    qr_box = None
    if generation == 2021:
        _fingerprints(draw, ppm, dark, rng)
        rows = list(zip((4, 7, 10, 16, 19.5), TEXTS, strict=False))
        signature_x = 8
    else:
        qr_box = _qr(card, qr_payload, ppm) if qr_payload is not None else None
        rows = list(zip((4, 7.5, 11, 14.5, 18, 21.5), TEXTS[5:] + TEXTS[:4], strict=False))
        signature_x = 35
    for y, line in rows:
        draw.text((4 * ppm, y * ppm), line, dark, text)
    points = [
        (signature_x * ppm + i * ppm, 27 * ppm + 2 * ppm * math.sin(i * 1.3)) for i in range(18)
    ]
    draw.line(points, fill=dark, width=max(1, int(0.3 * ppm)))
    _mrz(card, lines, ppm, look, rng)
    return card, qr_box


def _homography(src: list[tuple[float, float]], dst: list[tuple[float, float]]) -> list[float]:
    """PIL PERSPECTIVE coefficients mapping ``src`` points to ``dst`` points."""
    rows: list[list[float]] = []
    rhs: list[float] = []
    for (x, y), (u, v) in zip(src, dst, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs += [u, v]
    solved = np.linalg.solve(np.array(rows, float), np.array(rhs, float))
    return [float(c) for c in solved]


def _mapped(coeffs: list[float], points: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    m = np.array([*coeffs, 1.0]).reshape(3, 3)
    p = np.c_[points, np.ones(len(points))] @ m.T
    out: npt.NDArray[np.float64] = p[:, :2] / p[:, 2:]
    return out


def _pose(
    card: tuple[int, int], frame: tuple[int, int], ppm: float, look: Look, rng: random.Random
) -> list[tuple[float, float]] | None:
    """Frame corners of the card such that its MRZ lies inside the frame (None: no room)."""
    cw, ch = card
    mrz = np.array([[3.5, CARD_H_MM - 14.5], [82.1, CARD_H_MM - 14.5],
                    [82.1, CARD_H_MM - 2.5], [3.5, CARD_H_MM - 2.5]]) * ppm  # fmt: skip
    corners = np.array([[0, 0], [cw, 0], [cw, ch], [0, ch]], float)
    a = math.radians(look.angle_deg)
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    jitter = np.array([[rng.uniform(-1, 1), rng.uniform(-1, 1)] for _ in range(4)])
    jitter *= look.keystone * cw
    margin = 12
    centre = np.array(frame, float) / 2
    dst = (corners - [cw / 2, ch / 2]) @ rot.T + centre + jitter
    box = _mapped(_homography([tuple(p) for p in corners], [tuple(p) for p in dst]), mrz)
    slack = np.array(frame, float) - (box.max(axis=0) - box.min(axis=0)) - 2 * margin
    if (slack < 0).any():
        return None
    # a translation of the corners moves the mapped MRZ by the same amount
    target = margin + np.array([rng.uniform(0, slack[0]), rng.uniform(0, slack[1])])
    dst = dst + (target - box.min(axis=0))
    return [(float(x), float(y)) for x, y in dst]


def _desk(size: tuple[int, int], rng: random.Random) -> Image.Image:
    w, h = size
    desk = _guilloche(w // 4, h // 4, rng, rng.uniform(30, 90), rng.uniform(100, 160))
    return Image.fromarray(desk.clip(0, 255).astype(np.uint8)).resize(
        (w, h), Image.Resampling.BILINEAR
    )


def _camera(frame: npt.NDArray[np.float32], look: Look, mrz_centre: tuple[float, float],
            rng: random.Random) -> Frame:  # fmt: skip
    h, w = frame.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    gx, gy = look.gradient
    frame = frame * (1 + gx * (xx / w - 0.5) + gy * (yy / h - 0.5)) * look.gain
    if look.glare:
        cx = mrz_centre[0] + rng.uniform(-0.3, 0.3) * w * 0.5
        cy = mrz_centre[1] + rng.uniform(-0.5, 0.2) * h * 0.2
        sigma = rng.uniform(0.04, 0.12) * w
        frame = frame + look.glare * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * sigma**2))
    image = Image.fromarray(frame.clip(0, 255).astype(np.uint8))
    blurred = np.asarray(image.filter(ImageFilter.GaussianBlur(look.blur)), np.float32)
    noise = np.random.default_rng(rng.getrandbits(32)).normal(0, look.noise, blurred.shape)
    out: Frame = (blurred + noise).clip(0, 255).astype(np.uint8)
    return out


def back_frame(
    lines: tuple[str, ...],
    size: tuple[int, int] = (640, 480),
    char_h: float = 14.0,
    *,
    look: Look = Look(),
    seed: int = 0,
    shot: int = 0,
    generation: Generation = 2024,
    qr_payload: bytes | None = None,
) -> Frame:
    """A grayscale camera frame (``size`` = (width, height)) of the card back with these MRZ
    ``lines``, characters ``char_h`` px high; ValueError when they cannot fit the frame.
    ``seed`` draws the card; ``shot`` another frame of the same card (placement, glare and
    noise drawn anew: consecutive frames)."""
    ss = 2  # drawn at twice the scale, reduced by area averaging
    ppm = char_h / CHAR_H_MM * ss
    card, _ = draw_back(
        lines, ppm, random.Random(seed), look=look, generation=generation, qr_payload=qr_payload
    )
    rng = random.Random(f"{seed}/{shot}")
    big = (size[0] * ss, size[1] * ss)
    dst = _pose(card.size, big, ppm, look, rng)
    if dst is None:
        raise ValueError(f"characters of {char_h} px do not fit a {size[0]}x{size[1]} frame")
    cw, ch = card.size
    coeffs = _homography(dst, [(0, 0), (cw, 0), (cw, ch), (0, ch)])
    warped = card.transform(big, Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BILINEAR)
    cover = Image.new("L", card.size, 255).transform(big, Image.Transform.PERSPECTIVE, coeffs)
    composed = Image.composite(warped, _desk(big, rng), cover).reduce(ss)
    centre = ((dst[2][0] + dst[3][0]) / 2 / ss, (dst[2][1] + dst[3][1]) / 2 / ss)
    return _camera(np.asarray(composed, np.float32), look, centre, rng)
