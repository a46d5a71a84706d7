"""Real OLED: luma.oled SSD1306 / SH1106 over I2C or SPI, chosen by ``[display]``.

luma's serial interfaces pull in smbus2 / spidev / RPi.GPIO, so everything is
imported when a ``LumaDisplay`` is made, never at module import.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from PIL import Image

log = logging.getLogger(__name__)


class OledSettings(Protocol):
    """What the adapter reads of the config's ``[display]`` section."""

    @property
    def driver(self) -> str: ...
    @property
    def interface(self) -> str: ...
    @property
    def i2c_port(self) -> int: ...
    @property
    def i2c_address(self) -> int: ...
    @property
    def spi_port(self) -> int: ...
    @property
    def spi_device(self) -> int: ...
    @property
    def spi_dc_pin(self) -> int: ...
    @property
    def spi_reset_pin(self) -> int: ...
    @property
    def rotate(self) -> int: ...
    @property
    def contrast(self) -> int: ...


class DisplayError(RuntimeError):
    """The OLED cannot be opened or written."""


def _serial(section: OledSettings) -> Any:
    from luma.core.interface import serial

    if section.interface == "i2c":
        return serial.i2c(port=section.i2c_port, address=section.i2c_address)
    return serial.spi(
        port=section.spi_port,
        device=section.spi_device,
        gpio_DC=section.spi_dc_pin,
        gpio_RST=section.spi_reset_pin,
    )


class LumaDisplay:
    """A 128x64 SSD1306/SH1106 panel (implements ``station.ports.Display``)."""

    def __init__(self, section: OledSettings, serial_interface: Any = None) -> None:
        """``serial_interface`` overrides the bus (tests pass luma's ``noop()``)."""
        try:
            from luma.oled import device as oled

            driver = oled.ssd1306 if section.driver == "ssd1306" else oled.sh1106
            bus = serial_interface if serial_interface is not None else _serial(section)
            self._device: Any = driver(bus, width=128, height=64, rotate=section.rotate)
            self._device.contrast(section.contrast)
        except Exception as exc:  # luma raises DeviceNotFoundError, OSError, ImportError...
            where = (
                f"i2c-{section.i2c_port} 0x{section.i2c_address:02x}"
                if section.interface == "i2c"
                else f"spi{section.spi_port}.{section.spi_device}"
            )
            raise DisplayError(
                f"cannot open {section.driver} OLED on {where}: {type(exc).__name__}: {exc}"
            ) from exc
        log.info("OLED %s on %s ready", section.driver, section.interface)

    def show(self, image: Image.Image) -> None:
        if self._device is None:
            raise DisplayError("OLED already closed")
        try:
            self._device.display(image.convert("1"))
        except OSError as exc:
            raise DisplayError(f"OLED write failed: {exc}") from exc

    def close(self) -> None:
        """Blank the panel and release the bus (safe to call twice)."""
        device, self._device = self._device, None
        if device is not None:
            device.cleanup()


__all__ = ["DisplayError", "LumaDisplay", "OledSettings"]
