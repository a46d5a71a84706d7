"""The ONE place that picks real or simulated adapters from the config.

``cfg.backend(device)`` resolves ``auto`` to ``station.hardware``; each builder below
imports a hardware library only when its real adapter is chosen, so the whole station
imports and runs off the Pi on simulated parts with the same code path.
"""

from __future__ import annotations

import logging
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from station.config import Config
from station.drivers.camera_sim import ReplayCamera, Scene, SimCamera
from station.drivers.display_sim import SimDisplay
from station.drivers.gpio_sim import FakeButton, FakeIndicators
from station.ports import Button, Camera, Display, Indicators

if TYPE_CHECKING:
    from station.drivers.card_sim import EmulatorTransport
    from station.ports import CardTransport

log = logging.getLogger(__name__)

ReaderOpener = Callable[[], "CardTransport"]


@dataclass
class Devices:
    """Every device the station drives. ``scene``/``field`` are set for simulated parts:
    the demo and tests place cards there (see ``station.sim.counter``)."""

    camera: Camera
    display: Display
    indicators: Indicators
    button: Button
    open_reader: ReaderOpener | None  # None: chip reading disabled
    scene: Scene | None = None
    field: EmulatorTransport | None = None

    def close(self) -> None:
        for device in (self.camera, self.display, self.indicators, self.button):
            try:
                device.close()
            except Exception:  # one failing device must not keep the others open
                log.warning("closing %s failed", type(device).__name__, exc_info=True)


def _terminal_echo(text: str) -> None:
    sys.stdout.write("\033[H" + text + "\n")
    sys.stdout.flush()


def make_camera(cfg: Config) -> tuple[Camera, Scene | None]:
    c = cfg.camera
    if cfg.backend("camera") == "pi":
        from station.drivers.camera_pi import PiCamera

        return PiCamera(c.width, c.height, c.fps), None
    if c.sim_images:
        return ReplayCamera.from_dir(Path(c.sim_images), fps=c.fps), None
    scene = Scene(c.width, c.height)
    return SimCamera(scene, fps=c.fps), scene


def make_display(cfg: Config, echo: Callable[[str], None] | None = None) -> Display:
    if cfg.backend("display") == "pi":
        from station.drivers.display_luma import LumaDisplay

        return LumaDisplay(cfg.display)
    section = cfg.display
    terminal = (echo or _terminal_echo) if section.terminal else None
    columns = shutil.get_terminal_size().columns  # half-blocks need 128, Braille 64
    return SimDisplay(png_dir=section.png_dir or None, echo=terminal, columns=columns)


def make_gpio(cfg: Config) -> tuple[Indicators, Button]:
    if cfg.backend("gpio") == "pi":
        from station.drivers.gpio_rpi import RpiButton, RpiIndicators

        return RpiIndicators(cfg.gpio), RpiButton(cfg.gpio)
    return FakeIndicators(cfg.gpio), FakeButton(cfg.gpio)


def make_reader(cfg: Config) -> tuple[ReaderOpener | None, EmulatorTransport | None]:
    """A function opening the card transport (called again after the reader is unplugged)."""
    if not cfg.reader.enabled:
        return None, None
    if cfg.backend("reader") == "pi":
        name = cfg.reader.name

        def open_pcsc() -> CardTransport:
            from station.drivers.card_pcsc import PcscTransport

            return PcscTransport(name)

        return open_pcsc, None
    from station.drivers.card_sim import EmulatorTransport

    field = EmulatorTransport(None)

    def open_sim() -> CardTransport:
        return field.reopen()  # raises TransportError while the simulated reader is unplugged

    return open_sim, field


def open_devices(cfg: Config, *, echo: Callable[[str], None] | None = None) -> Devices:
    """Build every adapter for ``cfg``; a device that fails to open raises its own error."""
    camera, scene = make_camera(cfg)
    display = make_display(cfg, echo)
    indicators, button = make_gpio(cfg)
    open_reader, field = make_reader(cfg)
    return Devices(camera, display, indicators, button, open_reader, scene, field)
