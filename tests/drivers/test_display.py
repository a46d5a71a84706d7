"""Display adapters: the simulated panel (luma.core dummy) and luma.oled on a no-op bus."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from station.config import DisplaySection
from station.display.render import render
from station.display.screens import ErrorKind, ErrorScreen, IdleScreen
from station.drivers.display_luma import DisplayError, LumaDisplay
from station.drivers.display_sim import SimDisplay, to_halfblocks


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


def test_terminal_view_fits_the_terminal() -> None:
    from station.drivers.display_sim import terminal_text, to_braille

    image = render(IdleScreen())
    narrow = terminal_text(image, 80)
    lines = narrow.split("\n")
    assert narrow == to_braille(image)
    assert len(lines) == 16 and all(len(line) == 64 for line in lines)  # 2:1 like the panel
    assert all(0x2800 <= ord(ch) <= 0x28FF for ch in narrow.replace("\n", ""))
    assert terminal_text(image, 128) == to_halfblocks(image)
    # every lit pixel is a dot: the same count of dots as pixels
    dots = sum(bin(ord(ch) - 0x2800).count("1") for ch in narrow.replace("\n", ""))
    assert dots == int(np.count_nonzero(np.array(image.convert("1"))))
