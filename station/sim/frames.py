"""Synthetic camera frames of ID cards, for the simulated camera, tests and benchmarks.

A card is drawn in ID-1 proportions (85.6 x 54 mm) around its QR code (segno, error level
M, the payload as UTF-8 bytes like a real 2021 card) with some printed text, then placed in
a grayscale camera frame (uint8, H x W) with rotation, perspective, blur, noise and glare.
The card is drawn at the scale the QR needs (``module_px`` pixels per module) and may stick
out of the frame; the QR itself is always inside it. Everything is deterministic from
``seed``.

``damage`` makes the frames the station must cope with:

- ``"covered"``: a thumb over half the QR and a finder pattern (does not decode);
- ``"smudged"``: the QR's data smeared and washed out, its finder patterns intact (a QR
  is seen but does not decode);
- ``"url"``: a QR of another kind (a web address) -> unrecognised payload;
- ``"card2024"``: the back of a 2024 card (``station.sim.backs``: the MRZ in OCR-B under
  the QR), its QR with a guessed shape of the undocumented payload -> unrecognised;
- ``"no-qr"``: a card front without any QR code (as on 2024 cards) -> nothing decodes.
"""

from __future__ import annotations

import io
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from station.sim import backs
from station.sim.citizens import SyntheticCitizen, mrz_lines
from station.sim.qrcodes import QUIET_MODULES, qr_image, qr_matrix

Frame = npt.NDArray[np.uint8]
Damage = Literal["covered", "smudged", "url", "card2024", "no-qr"]
DAMAGES: tuple[Damage, ...] = ("covered", "smudged", "url", "card2024", "no-qr")
UNREADABLE: frozenset[str] = frozenset({"covered", "smudged", "no-qr"})

CARD_ASPECT = 85.6 / 53.98
_FONT_DIR = "/usr/share/fonts/truetype/dejavu/"


@dataclass(frozen=True)
class _Card:
    image: Image.Image  # mode "L"
    qr_box: tuple[int, int, int, int]  # left, top, right, bottom in card pixels


@lru_cache(maxsize=64)
def _font(size: int, name: str = "DejaVuSans.ttf") -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.truetype(_FONT_DIR + name, size)
    except OSError:
        return ImageFont.load_default()


def _other_payload(citizen: SyntheticCitizen, damage: Damage | None) -> str | None:
    if damage == "url":
        return f"https://dichvucong.gov.vn/p/home/dvc-tra-cuu-ho-so.html?ma={citizen.can}"
    if damage == "card2024":
        return citizen.qr_payload_2024()
    return None


@lru_cache(maxsize=32)  # a simulated camera shows the same card for many frames
def _render_card(
    citizen: SyntheticCitizen, payload: str | bytes, module_px: int, damage: Damage | None
) -> _Card:
    """Draw the card around a QR at ``module_px``; the QR box is in card pixels."""
    modules = len(qr_matrix(payload))
    side = modules * module_px
    if damage == "card2024":  # the 2024 back: QR (18 mm) above the MRZ, in OCR-B
        data = payload.encode("utf-8") if isinstance(payload, str) else payload
        ppm = side / backs.QR_MM
        image, qr_box = backs.draw_back(
            mrz_lines(citizen), ppm, random.Random(citizen.id_number), qr_payload=data
        )
        assert qr_box is not None
        return _Card(image, qr_box)
    height = int(side / 0.62)
    width = int(height * CARD_ASPECT)
    card = Image.new("L", (width, height), 232)
    draw = ImageDraw.Draw(card)
    draw.rectangle((0, 0, width - 1, int(height * 0.17)), fill=214)  # printed header band
    left = width - side - max(QUIET_MODULES * module_px, int(width * 0.05))
    top = int(height * 0.22)
    if damage == "no-qr":
        draw.ellipse((left, top, left + side, top + side), outline=120, width=max(2, side // 40))
    else:
        qr = qr_image(payload, module_px, quiet=0)
        card.paste(qr, (left, top))
    _draw_text(draw, citizen, "CĂN CƯỚC CÔNG DÂN", (width, height), left)
    return _Card(card, (left, top, left + side, top + side))


def _draw_text(
    draw: ImageDraw.ImageDraw,
    citizen: SyntheticCitizen,
    title: str,
    size: tuple[int, int],
    text_right: int,
) -> None:
    width, height = size
    small = _font(max(8, height // 28))
    draw.text((width // 2, height * 0.02), "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", 40, small, "ma")
    draw.text(
        (width // 2, height * 0.09),
        title,
        30,
        _font(max(9, height // 20), "DejaVuSans-Bold.ttf"),
        "ma",
    )
    photo = (int(width * 0.04), int(height * 0.3), int(width * 0.2), int(height * 0.78))
    draw.rectangle(photo, fill=180, outline=90)
    cx, cy = (photo[0] + photo[2]) // 2, (photo[1] + photo[3]) // 2
    r = (photo[2] - photo[0]) // 4
    draw.ellipse((cx - r, cy - 2 * r, cx + r, cy), fill=110)
    draw.pieslice((cx - 2 * r, cy + r // 2, cx + 2 * r, photo[3] + 3 * r), 180, 360, fill=110)
    lines = (
        f"Số / No.: {citizen.id_number}",
        "Họ và tên / Full name:",
        citizen.full_name.upper(),
        f"Ngày sinh: {citizen.date_of_birth:%d/%m/%Y}",
        f"Giới tính: {citizen.sex}   Quốc tịch: {citizen.nationality}",
        f"Nơi thường trú: {citizen.place_of_residence or ''}",
    )
    x = int(width * 0.23)
    box = Image.new("L", (max(1, text_right - x - height // 30), int(height * 0.7)), 0)
    box_draw = ImageDraw.Draw(box)
    step = box.height / (len(lines) + 1)
    for i, line in enumerate(lines):
        box_draw.text((0, i * step), line, 255, small)
    draw.bitmap((x, int(height * 0.25)), box, fill=35)


def _homography(src: npt.NDArray[np.float64], dst: npt.NDArray[np.float64]) -> tuple[float, ...]:
    """Coefficients mapping ``src`` points to ``dst`` points (8 unknowns, 4 point pairs)."""
    rows: list[list[float]] = []
    rhs: list[float] = []
    for (x, y), (u, v) in zip(src.tolist(), dst.tolist(), strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs.extend((u, v))
    coeffs = np.linalg.solve(np.array(rows, dtype=np.float64), np.array(rhs, dtype=np.float64))
    return tuple(float(c) for c in coeffs)


def _placement(
    card: _Card,
    size: tuple[int, int],
    angle: float,
    perspective: float,
    rng: random.Random,
) -> npt.NDArray[np.float64]:
    """Frame positions of the card's four corners: QR near the frame centre, fully inside."""
    w, h = card.image.size
    left, top, right, bottom = card.qr_box
    qx, qy = (left + right) / 2, (top + bottom) / 2
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float64) - (qx, qy)
    theta = math.radians(angle)
    rot = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    placed: npt.NDArray[np.float64] = corners @ rot.T
    reach = (right - left) * 0.75 * (1 + perspective)
    slack_x = max(0.0, size[0] / 2 - reach - 4)
    slack_y = max(0.0, size[1] / 2 - reach - 4)
    centre = (
        size[0] / 2 + rng.uniform(-0.5, 0.5) * slack_x,
        size[1] / 2 + rng.uniform(-0.5, 0.5) * slack_y,
    )
    placed += centre
    if perspective:
        jitter = perspective * 0.12 * max(w, h)
        placed += np.array([[rng.uniform(-jitter, jitter) for _ in range(2)] for _ in range(4)])
    return placed


def _background(size: tuple[int, int], nrng: np.random.Generator) -> Image.Image:
    """A desk: smooth uneven shading plus fine texture, never a barcode."""
    w, h = size
    coarse = nrng.uniform(60, 140, size=(h // 40 + 2, w // 40 + 2)).astype(np.uint8)
    desk = Image.fromarray(coarse, mode="L").resize((w, h), Image.Resampling.BICUBIC)
    grain = nrng.standard_normal(size=(h, w), dtype=np.float32) * np.float32(6)
    return Image.fromarray(
        np.clip(np.asarray(desk, dtype=np.float32) + grain, 0, 255).astype(np.uint8), mode="L"
    )


def _qr_region_mask(card: _Card, fill_box: tuple[float, float, float, float]) -> Image.Image:
    mask = Image.new("L", card.image.size, 0)
    left, top, right, _ = card.qr_box
    side = right - left
    fx0, fy0, fx1, fy1 = fill_box
    ImageDraw.Draw(mask).ellipse(
        (left + fx0 * side, top + fy0 * side, left + fx1 * side, top + fy1 * side), fill=255
    )
    return mask


def _damage_card(card: _Card, damage: Damage | None, module_px: int) -> Image.Image:
    image = card.image
    if damage == "covered":  # a thumb from the lower left: half the QR and a finder pattern
        thumb = Image.new("L", image.size, 150)
        return Image.composite(thumb, image, _qr_region_mask(card, (-0.35, 0.25, 0.6, 1.45)))
    if damage == "smudged":  # a greasy thumb across the data: the finder patterns survive
        left, top, right, bottom = card.qr_box
        side = right - left
        smeared = image.filter(ImageFilter.BoxBlur(module_px * 3)).point(lambda v: 150 + v // 3)
        mask = Image.new("L", image.size, 0)
        band = (left + side * 0.28, top + side * 0.28, right - side * 0.08, bottom - side * 0.08)
        ImageDraw.Draw(mask).ellipse(band, fill=255)
        return Image.composite(smeared, image, mask)
    return image


def _glare(frame: npt.NDArray[np.float32], centre: tuple[float, float], radius: float) -> None:
    h, w = frame.shape
    ys, xs = np.ogrid[:h, :w]
    d2 = ((xs - centre[0]) ** 2).astype(np.float32) + ((ys - centre[1]) ** 2).astype(np.float32)
    frame += np.float32(140.0) * np.exp(d2 * np.float32(-0.5 / radius**2))


def card_frame(
    citizen: SyntheticCitizen,
    size: tuple[int, int] = (640, 480),
    *,
    module_px: int = 4,
    angle: float = 0.0,
    blur: float = 0.0,
    noise: float = 0.0,
    perspective: float = 0.0,
    glare: bool = False,
    damage: Damage | None = None,
    payload: str | bytes | None = None,
    seed: int = 0,
) -> Frame:
    """A grayscale camera frame (``size`` = (width, height)) showing ``citizen``'s card.

    ``payload`` overrides the QR content (default: ``citizen.qr_payload()``); ``blur`` is a
    Gaussian radius in pixels, ``noise`` a Gaussian sigma in gray levels, ``perspective``
    0..1 the strength of a random tilt, ``angle`` degrees of rotation.
    """
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    content = _other_payload(citizen, damage) or (
        payload if payload is not None else citizen.qr_payload()
    )
    card = _render_card(citizen, content, module_px, damage)
    card_image = _damage_card(card, damage, module_px)
    w, h = card.image.size
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float64)
    dst = _placement(card, size, angle, perspective, rng)
    coeffs = _homography(dst, src)  # PIL maps output (frame) pixels back to the card
    warped = card_image.transform(
        size, Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BILINEAR
    )
    mask = Image.new("L", card_image.size, 255).transform(
        size, Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BILINEAR
    )
    image = Image.composite(warped, _background(size, nrng), mask)
    if blur:
        image = image.filter(ImageFilter.GaussianBlur(blur))
    out = np.asarray(image, dtype=np.float32) * np.float32(rng.uniform(0.85, 1.05))
    if glare:
        qr_centre = dst.mean(axis=0) if damage == "no-qr" else _qr_centre_in_frame(card, coeffs)
        radius = (card.qr_box[2] - card.qr_box[0]) * 0.3
        _glare(
            out,
            (
                qr_centre[0] + rng.uniform(-1, 1) * radius,
                qr_centre[1] + rng.uniform(-1, 1) * radius,
            ),
            radius,
        )
    if noise:
        out += nrng.standard_normal(size=out.shape, dtype=np.float32) * np.float32(noise)
    frame: Frame = np.clip(out, 0, 255).astype(np.uint8)
    return frame


def _qr_centre_in_frame(card: _Card, coeffs: tuple[float, ...]) -> tuple[float, float]:
    """Where the QR centre lands in the frame (inverse of the frame -> card mapping)."""
    a, b, c, d, e, f, g, h = coeffs
    matrix = np.linalg.inv(np.array([[a, b, c], [d, e, f], [g, h, 1.0]]))
    left, top, right, bottom = card.qr_box
    x, y, z = matrix @ np.array([(left + right) / 2, (top + bottom) / 2, 1.0])
    return float(x / z), float(y / z)


def empty_frame(size: tuple[int, int] = (640, 480), seed: int = 0) -> Frame:
    """A frame without any QR code: desk, sometimes papers with printed text and lines."""
    rng = random.Random(seed)
    image = _background(size, np.random.default_rng(seed))
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randint(0, 3)):
        x0, y0 = rng.randrange(size[0]), rng.randrange(size[1])
        x1, y1 = x0 + rng.randint(80, 300), y0 + rng.randint(60, 250)
        draw.rectangle((x0, y0, x1, y1), fill=rng.randint(200, 245))
        font = _font(rng.randint(10, 18))
        for row in range(y0 + 8, y1 - 10, 22):
            draw.text((x0 + 6, row), "Phường Bến Nghé - Hồ sơ số 1234/2024 ||| ▌▌ ▐", 40, font)
    return np.asarray(image, dtype=np.uint8).copy()


def card_png(
    citizen: SyntheticCitizen,
    *,
    module_px: int = 4,
    damage: Damage | None = None,
    payload: str | bytes | None = None,
    fmt: str = "PNG",
) -> bytes:
    """The card alone, as a scanner would give it (PNG or JPEG bytes)."""
    content = _other_payload(citizen, damage) or (
        payload if payload is not None else citizen.qr_payload()
    )
    card = _render_card(citizen, content, module_px, damage)
    buffer = io.BytesIO()
    _damage_card(card, damage, module_px).save(buffer, format=fmt)
    return buffer.getvalue()


@dataclass(frozen=True)
class ScriptFrame:
    """One frame of a simulated camera session and what it shows (for checking results)."""

    frame: Frame
    citizen: SyntheticCitizen | None  # None: nothing in view
    damage: Damage | None
    index: int  # which presentation (card) this frame belongs to


def camera_script(
    citizens: list[SyntheticCitizen],
    size: tuple[int, int] = (640, 480),
    *,
    frames_per_card: int = 6,
    gap_frames: int = 8,
    damaged_every: int = 4,
    seed: int = 0,
) -> Iterator[ScriptFrame]:
    """Frames of a counter session: each citizen's card held under the camera for
    ``frames_per_card`` frames (moving a little), then ``gap_frames`` empty frames.
    Every ``damaged_every``-th card (0 = none) gets a damage from ``DAMAGES`` in turn."""
    rng = random.Random(seed)
    for index, citizen in enumerate(citizens):
        damage: Damage | None = None
        if damaged_every and index % damaged_every == damaged_every - 1:
            damage = DAMAGES[(index // damaged_every) % len(DAMAGES)]
        module_px, angle = rng.choice((4, 5)), rng.uniform(-30, 30)
        for i in range(frames_per_card):
            frame = card_frame(
                citizen,
                size,
                module_px=module_px,
                angle=angle + rng.uniform(-3, 3),
                noise=3.0,
                perspective=rng.choice((0.0, 0.2)),
                damage=damage,
                seed=seed * 10_000 + index * 100 + i,
            )
            yield ScriptFrame(frame, citizen, damage, index)
        for i in range(gap_frames):
            yield ScriptFrame(empty_frame(size, seed + index * 100 + i), None, None, index)
