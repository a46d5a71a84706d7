"""QR benchmark: the station's frame -> record pipeline vs zxing-cpp's bare decode call.

Run: ``.venv/bin/python bench/qr.py [--frames N] [--reps R]``

On the same generated frames (synthetic cards at 3-6 px per module with rotation, blur,
noise, perspective and glare; and frames without any QR code), at 640x480 and 1280x720,
in one run. ``zxing bare`` and ``pipeline`` are timed in interleaved repetitions (each frame
goes through both in turn, the order alternating per repetition); a method's time is, for
each frame, the median over repetitions, averaged over the frames. zxing-cpp's defaults
are timed apart (they are slow and would disturb the pair's caches):

- ``zxing default``: ``zxingcpp.read_barcodes(frame)`` with zxing-cpp's defaults (all formats);
- ``zxing bare``: ``zxingcpp.read_barcodes(frame, formats=QRCode, <station options>)`` and
  ``.bytes`` of the results, i.e. the decode call the station makes;
- ``pipeline``: ``QrReader.process`` (decode + de-dup + parse) and ``qr_record`` for each
  event. In the "new card" rows every frame shows a different citizen, so every frame is
  an event (worst case: parse and record build on every frame); in the "card held" rows
  each card stays in view for several frames, as at the counter (one event per card).
- ``camera path``: what the station's camera thread does per frame with the MRZ path in
  place (``CameraWorker._frame``: the pipeline, then a frame without a 2021 QR offered to
  the MRZ worker), while that worker's thread analyses the offered frames at the default
  ``camera.mrz_fps`` beside it. It runs in its own block (the MRZ thread would slow the other
  methods too) and is compared with the bare decode measured without that thread. The
  "2024 back" rows show the back of a 2024 card (its QR of another kind and its MRZ), so the
  MRZ worker does its whole work on every analysed frame.

Targets: pipeline / bare <= 1.15, and camera path (MRZ path in place) / bare <= 1.15.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np
import zxingcpp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from station import config
from station.drivers.camera_sim import Scene, SimCamera
from station.qr.decoder import QrDecoder
from station.qr.reader import QrReader
from station.record import qr_record
from station.runtime.workers import CameraWorker
from station.sim import backs
from station.sim.citizens import generate_many, mrz_lines
from station.sim.frames import card_frame, empty_frame

SIZES = ((640, 480), (1280, 720))
TODAY = date(2024, 6, 30)


HELD = 6  # frames a card stays in view in the "held" rows
MRZ_FPS = config.from_mapping({}).camera.mrz_fps


def make_frames(size: tuple[int, int], count: int, seed: int) -> dict[str, list[np.ndarray]]:
    """Three sets of ``count`` frames: a new card in every frame (worst case: every frame
    is an event), cards held for ``HELD`` frames each (moving a little), no QR at all."""
    rng = random.Random(seed)
    citizens = generate_many(seed, count, today=TODAY)
    looks = [
        {
            "module_px": rng.choice((3, 4, 5, 6)),
            "angle": rng.uniform(-40, 40),
            "blur": rng.choice((0.0, 0.0, 0.8)),
            "noise": rng.choice((0.0, 4.0, 8.0)),
            "perspective": rng.choice((0.0, 0.0, 0.3)),
            "glare": rng.random() < 0.3,
        }
        for _ in range(count)
    ]
    new = [card_frame(c, size, seed=seed + i, **looks[i]) for i, c in enumerate(citizens)]
    held = []
    for i in range(count):
        look = dict(looks[i // HELD], module_px=4 + i // HELD % 3)
        look["angle"] = float(look["angle"]) + (i % HELD)
        held.append(card_frame(citizens[i // HELD], size, seed=seed + i, **look))
    empties = [empty_frame(size, seed + i) for i in range(count)]
    backs_2024 = []
    for i, c in enumerate(citizens):
        look, payload = backs.random_look(rng, hard=False), c.qr_payload_2024().encode()
        backs_2024.append(
            backs.back_frame(mrz_lines(c), size, 16.0, look=look, seed=seed + i, qr_payload=payload)
        )
    return {"new card": new, f"card held {HELD}": held, "no QR": empties, "2024 back": backs_2024}


def camera_path(frames: list[np.ndarray], reps: int) -> tuple[float, int]:
    """Milliseconds per frame of the camera thread's work with the MRZ worker running
    (per frame the median over ``reps`` passes, averaged), and the MRZ analyses it made."""
    section = config.from_mapping({}).camera
    times: list[list[float]] = [[] for _ in frames]
    analysed = 0
    for _ in range(reps):
        worker = CameraWorker(SimCamera(Scene(64, 48)), lambda e: None, time.monotonic, section)
        assert worker.mrz is not None  # on by default
        worker.mrz.start()
        visible, unreadable = False, 0
        try:
            for index, frame in enumerate(frames):
                start = time.perf_counter()
                visible, unreadable = worker._frame(frame, visible, unreadable)
                times[index].append(time.perf_counter() - start)
                time.sleep(0.02)  # the camera's wait for its next frame, as at 30 fps
        finally:
            worker.mrz.stop()
        analysed += worker.mrz.analysed
    return 1000 * sum(statistics.median(t) for t in times) / len(frames), analysed


def methods() -> dict[str, Callable[[np.ndarray, int], int]]:
    """Fresh methods for one repetition (the pipeline's reader keeps state across frames)."""
    decoder = QrDecoder()
    reader = QrReader(decoder, today=lambda: TODAY)
    bare_kwargs = decoder.zxing_kwargs()  # the exact call the station makes

    def zxing_default(frame: np.ndarray, index: int) -> int:
        return len(zxingcpp.read_barcodes(frame))

    def zxing_bare(frame: np.ndarray, index: int) -> int:
        return len([r.bytes for r in zxingcpp.read_barcodes(frame, **bare_kwargs)])

    def pipeline(frame: np.ndarray, index: int) -> int:
        records = [qr_record(r, station_id="bench") for r in reader.process(frame, index * 0.1)]
        return len(records)

    return {"zxing default": zxing_default, "zxing bare": zxing_bare, "pipeline": pipeline}


def measure(
    frames: list[np.ndarray], names: list[str], reps: int
) -> tuple[dict[str, float], dict[str, int]]:
    """Milliseconds per frame for each method: for every frame the median over ``reps``
    interleaved repetitions (order rotating each repetition), averaged over the frames;
    and frames found / records made in one repetition."""
    times: dict[str, list[list[float]]] = {n: [[] for _ in frames] for n in names}
    hits = dict.fromkeys(names, 0)
    for rep in range(reps):
        funcs = methods()
        order = names[rep % len(names) :] + names[: rep % len(names)]
        for index, frame in enumerate(frames):
            for name in order:
                start = time.perf_counter()
                found = funcs[name](frame, index)
                times[name][index].append(time.perf_counter() - start)
                hits[name] += found if rep == 0 else 0
    ms = {n: 1000 * sum(statistics.median(t) for t in times[n]) / len(frames) for n in names}
    return ms, hits


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=24, help="frames per kind and size")
    parser.add_argument("--reps", type=int, default=15, help="interleaved repetitions")
    args = parser.parse_args()
    print(
        f"{args.frames} frames per row; bare vs pipeline: {args.reps} interleaved repetitions, "
        "median; zxing defaults: 3 repetitions, median"
    )
    header = (
        f"{'frames':<22}{'default ms':>11}{'bare ms':>9}{'pipe ms':>9}{'pipe/bare':>10}"
        f"{'pipe/default':>13}{'pipe fps':>10}{'decoded':>10}{'records':>9}"
        f"{'cam+mrz ms':>11}{'cam/bare':>9}{'mrz runs':>9}"
    )
    print(header)
    print("-" * len(header))
    worst = worst_cam = 0.0
    for size in SIZES:
        for kind, frames in make_frames(size, args.frames, seed=size[0]).items():
            pair, hits = measure(frames, ["zxing bare", "pipeline"], args.reps)
            default, _ = measure(frames, ["zxing default"], 3)
            n = len(frames)
            bare_ms, pipe_ms = pair["zxing bare"], pair["pipeline"]
            default_ms = default["zxing default"]
            ratio = pipe_ms / bare_ms
            worst = max(worst, ratio)
            cam_ms, analysed = camera_path(frames, max(3, args.reps // 3))
            worst_cam = max(worst_cam, cam_ms / bare_ms)
            print(
                f"{f'{size[0]}x{size[1]} {kind}':<22}{default_ms:>11.2f}{bare_ms:>9.2f}"
                f"{pipe_ms:>9.2f}{ratio:>10.3f}{pipe_ms / default_ms:>13.3f}"
                f"{1000 / pipe_ms:>10.1f}{hits['zxing bare']:>6}/{n:<3}{hits['pipeline']:>9}"
                f"{cam_ms:>11.2f}{cam_ms / bare_ms:>9.3f}{analysed:>9}"
            )
    print("ms = per-frame median over repetitions, averaged over frames")
    print(f"mrz runs = MRZ analyses made beside the camera path (at most {MRZ_FPS:g} a second)")
    for name, value in (("pipeline", worst), ("camera path with the MRZ path", worst_cam)):
        verdict = "OK" if value <= 1.15 else "MISSED"
        print(f"target {name} <= 1.15 x bare decode: worst {value:.3f}, {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
