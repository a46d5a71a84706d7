"""Display adapters (dummy/sim, luma on a no-op bus) and the refresh worker."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from PIL import Image

from station.config import DisplaySection
from station.display.render import render
from station.display.screens import ErrorKind, ErrorScreen, IdleScreen, ReadingScreen
from station.drivers.display_luma import DisplayError, LumaDisplay
from station.drivers.display_sim import SimDisplay, to_halfblocks
from station.runtime.refresh import RefreshWorker


class RecordingDisplay:
    """A display that records frames and can be made slow or failing."""

    def __init__(self) -> None:
        self.frames: list[bytes] = []
        self.gate = threading.Event()
        self.gate.set()
        self.fail_next = False
        self.closed = False

    def show(self, image: Image.Image) -> None:
        self.gate.wait(5)
        if self.fail_next:
            self.fail_next = False
            raise OSError("bus error")
        self.frames.append(image.tobytes())

    def close(self) -> None:
        self.closed = True


def test_halfblocks_shape_and_pixels() -> None:
    img = Image.new("1", (128, 64), 0)
    img.putpixel((0, 0), 1)
    img.putpixel((1, 1), 1)
    img.putpixel((2, 0), 1)
    img.putpixel((2, 1), 1)
    text = to_halfblocks(img)
    lines = text.split("\n")
    assert len(lines) == 32 and all(len(line) == 128 for line in lines)
    assert lines[0][:4] == "▀▄█ "
    assert set(text) <= {" ", "▀", "▄", "█", "\n"}


def test_sim_display_keeps_frame_saves_png_and_echoes(tmp_path: Path) -> None:
    echoed: list[str] = []
    sim = SimDisplay(png_dir=tmp_path / "png", echo=echoed.append)
    image = render(IdleScreen())
    sim.show(image)
    sim.show(render(ErrorScreen(ErrorKind.STORE_FULL)))
    assert sim.frames == 2
    shown = sim.image
    assert (
        shown is not None and shown.tobytes() == render(ErrorScreen(ErrorKind.STORE_FULL)).tobytes()
    )
    pngs = sorted((tmp_path / "png").glob("*.png"))
    assert [p.name for p in pngs] == ["screen-00001.png", "screen-00002.png"]
    with Image.open(pngs[0]) as first:
        assert first.convert("1").tobytes() == image.tobytes()
    assert echoed[0] == to_halfblocks(image)
    sim.close()
    sim.close()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # luma uses Image.getdata
@pytest.mark.parametrize("driver", ["ssd1306", "sh1106"])
def test_luma_adapter_on_noop_bus(driver: str) -> None:
    from luma.core.interface.serial import noop

    section = DisplaySection(driver=driver)  # type: ignore[arg-type]
    display = LumaDisplay(section, serial_interface=noop())
    display.show(render(IdleScreen()))
    display.close()
    display.close()
    with pytest.raises(DisplayError, match="closed"):
        display.show(render(IdleScreen()))


def test_luma_adapter_reports_missing_bus() -> None:
    section = DisplaySection(i2c_port=19, i2c_address=0x3D)
    with pytest.raises(DisplayError, match="i2c-19 0x3d"):
        LumaDisplay(section)


def test_worker_writes_latest_and_skips_unchanged() -> None:
    display = RecordingDisplay()
    worker = RefreshWorker(display, max_fps=60)
    display.gate.clear()  # the bus is stuck: submissions pile up
    worker.submit(IdleScreen(pending=1))
    for i in range(20):
        worker.submit(ReadingScreen(i / 100, 1000))
    display.gate.set()
    assert worker.wait_idle(5)
    last = render(ReadingScreen(19 / 100, 1000)).tobytes()
    assert display.frames[-1] == last
    assert len(display.frames) <= 3  # the first, maybe one in flight, the latest
    writes = worker.writes
    worker.submit(ReadingScreen(19 / 100, 1000))  # same pixels: no bus write
    assert worker.wait_idle(5)
    assert worker.writes == writes
    worker.close()
    assert display.closed


def test_submit_never_blocks_on_a_stuck_bus() -> None:
    display = RecordingDisplay()
    display.gate.clear()
    worker = RefreshWorker(display, max_fps=60)
    done = threading.Event()

    def burst() -> None:
        for i in range(100):
            worker.submit(ReadingScreen(i / 100, 1000))
        done.set()

    threading.Thread(target=burst).start()
    assert done.wait(2)  # returned while show() is blocked
    assert not worker.wait_idle(0.05)
    display.gate.set()
    assert worker.wait_idle(5)
    worker.close()


def test_worker_rate_limit_counts_writes() -> None:
    display = RecordingDisplay()
    now = [0.0]

    def clock() -> float:
        return now[0]

    worker = RefreshWorker(display, max_fps=2, clock=clock)
    worker.submit(ReadingScreen(1 / 100, 1000))
    assert worker.wait_idle(5)
    worker.submit(ReadingScreen(2 / 100, 1000))  # within 0.5 s of the first: must wait
    assert not worker.wait_idle(0.1)
    assert len(display.frames) == 1
    now[0] = 10.0  # the clock moves on: the write may happen
    worker.submit(ReadingScreen(3 / 100, 1000))
    assert worker.wait_idle(5)
    assert display.frames[-1] == render(ReadingScreen(3 / 100, 1000)).tobytes()
    assert len(display.frames) == 2
    worker.close()


def test_worker_survives_a_failing_write() -> None:
    display = RecordingDisplay()
    display.fail_next = True
    worker = RefreshWorker(display, max_fps=60)
    worker.submit(IdleScreen())
    assert worker.wait_idle(5)
    assert worker.failures == 1 and display.frames == []
    worker.submit(IdleScreen(pending=2))
    assert worker.wait_idle(5)
    assert len(display.frames) == 1
    worker.close()


def test_sim_display_from_config_section(tmp_path: Path) -> None:
    from station.config import Config
    from station.runtime.wiring import make_display

    echoed: list[str] = []
    section = DisplaySection(png_dir=str(tmp_path), terminal=False)
    sim = make_display(Config(display=section), echo=echoed.append)
    sim.show(render(IdleScreen()))
    assert echoed == [] and len(list(tmp_path.glob("*.png"))) == 1
    sim = make_display(Config(display=DisplaySection(terminal=True)), echo=echoed.append)
    sim.show(render(IdleScreen()))
    assert len(echoed) == 1


@pytest.mark.hardware
def test_real_oled_on_a_pi() -> None:
    """On a Raspberry Pi with the OLED wired as configured by default (I2C 1, 0x3C)."""
    try:
        display = LumaDisplay(DisplaySection())
    except DisplayError as exc:
        pytest.skip(str(exc))
    display.show(render(IdleScreen()))
    display.close()


def test_luma_adapter_reports_missing_spi() -> None:
    section = DisplaySection(interface="spi", driver="sh1106", spi_port=0, spi_device=1)
    try:
        LumaDisplay(section).close()
    except DisplayError as exc:
        assert "sh1106 OLED on spi0.1" in str(exc)
    else:  # pragma: no cover - a Pi with the panel on SPI
        pytest.skip("an SPI OLED is attached")
