"""`station doctor` device checks: camera, PC/SC reader, OLED, GPIO.

Each check opens its device through the station's own adapters (imported lazily, so
device libraries stay inside them) and takes the opener as an argument for tests.
With a simulated backend the check exercises the simulated device the same way.
The camera can only be opened by one process: stop the service to check it.
"""

from __future__ import annotations

import errno
import fcntl
import glob
import os
import struct
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from station.config import Config
from station.doctor.results import CheckResult, fail, ok, warn

if TYPE_CHECKING:
    from station.ports import Camera, CardTransport

FRAMES = 3
FRAME_TIMEOUT_S = 5.0
SELECT_EMRTD = bytes.fromhex("00A4040C07A0000002471001")
I2C_SLAVE = 0x0703
I2C_SMBUS = 0x0720
# struct i2c_smbus_ioctl_data {u8 read_write; u8 command; u32 size; void *data}:
# an SMBus "quick write" (address + W, no data), what `i2cdetect -y` sends to 0x3C.
# The SSD1306 does not answer I2C reads, so a read would wrongly find nothing.
SMBUS_QUICK_WRITE = struct.pack("@BBIP", 0, 0, 0, 0)
STOP_SERVICE = "if the station service is running it holds the device: sudo systemctl stop station"


# --- camera -------------------------------------------------------------------------


def open_camera(cfg: Config) -> Camera:
    """The camera the station would use (not started), from the one adapter factory."""
    from station.runtime.wiring import make_camera

    return make_camera(cfg)[0]


def _grab(camera: Camera, count: int) -> list[Any]:
    camera.start()
    return [camera.capture_gray() for _ in range(count)]


def check_camera(
    cfg: Config, opener: Callable[[Config], Camera] = open_camera, timeout: float = FRAME_TIMEOUT_S
) -> CheckResult:
    from station.ports import CameraError

    kind = "simulated camera" if cfg.backend("camera") == "sim" else "camera"
    result: list[Any] = []
    error: list[BaseException] = []
    try:
        camera = opener(cfg)
    except (CameraError, OSError) as exc:
        return fail("camera", f"cannot open the {kind}: {exc}", _camera_fix(cfg))

    def grab() -> None:
        try:
            result.extend(_grab(camera, FRAMES))
        except (CameraError, OSError, RuntimeError) as exc:
            error.append(exc)

    worker = threading.Thread(target=grab, name="doctor-camera", daemon=True)
    worker.start()
    worker.join(timeout)
    try:
        if worker.is_alive():
            return fail("camera", f"no frame from the {kind} within {timeout:g} s", STOP_SERVICE)
        if error:
            return fail("camera", f"the {kind} failed: {error[0]}", _camera_fix(cfg))
    finally:
        camera.close()
    shape: tuple[int, ...] = tuple(getattr(result[-1], "shape", ()))
    if len(shape) != 2 or min(shape) == 0:
        return fail("camera", f"the {kind} delivers malformed frames {shape}", _camera_fix(cfg))
    return ok("camera", f"{kind} delivers {shape[1]}x{shape[0]} grayscale frames")


def _camera_fix(cfg: Config) -> str:
    if cfg.backend("camera") == "sim":
        return "check camera.sim_images (a folder of PNG/JPEG frames) or leave it empty"
    return (
        "check the ribbon cable and `rpicam-hello --list-cameras`; install python3-picamera2; "
        + STOP_SERVICE
    )


# --- PC/SC reader -------------------------------------------------------------------


def _pcsc_list() -> list[tuple[str, bool]]:
    from station.drivers.card_pcsc import list_readers

    return list_readers()


def _pcsc_open(name: str) -> CardTransport:
    from station.drivers.card_pcsc import PcscTransport

    return PcscTransport(name)


def check_reader(
    cfg: Config,
    lister: Callable[[], Sequence[tuple[str, bool]]] = _pcsc_list,
    opener: Callable[[str], CardTransport] = _pcsc_open,
) -> CheckResult:
    from station.ports import TransportError

    if not cfg.reader.enabled:
        return ok("reader", "chip reading disabled (reader.enabled = false)")
    if cfg.backend("reader") == "sim":
        return ok("reader", "simulated reader (in-process card emulator)")
    pcscd = "sudo systemctl enable --now pcscd.socket; `pcsc_scan` lists readers"
    try:
        readers = list(lister())
    except TransportError as exc:
        return fail("reader", f"PC/SC unavailable: {exc}", pcscd)
    wanted = cfg.reader.name
    matching = [(n, card) for n, card in readers if wanted.lower() in n.lower()]
    if not matching:
        seen = ", ".join(n for n, _ in readers) or "none"
        what = f"no reader matching reader.name = {wanted!r}" if wanted else "no PC/SC reader"
        return fail(
            "reader",
            f"{what} (readers: {seen})",
            "plug in the NFC reader (USB); check reader.name; " + pcscd,
        )
    name, card = matching[0]
    if not card:
        return ok("reader", f"{name} present, no card on it")
    return _check_card(name, opener)


def _check_card(name: str, opener: Callable[[str], CardTransport]) -> CheckResult:
    from station.ports import TransportError

    try:
        transport = opener(name)
        try:
            response = transport.transmit(SELECT_EMRTD)
        finally:
            transport.close()
    except TransportError as exc:
        return warn(
            "reader",
            f"{name}: a card is on it but does not answer ({exc})",
            "place the ID card flat on the reader, or remove what is on it",
        )
    sw = response[-2:].hex().upper()
    if sw == "9000":
        return ok("reader", f"{name} present; the card on it answers as an ICAO eMRTD chip")
    return warn(
        "reader",
        f"{name}: the card on it is not an ID card chip (SELECT: {sw})",
        "remove the card, or place a chip ID card (CCCD) to test the reader",
    )


# --- OLED ---------------------------------------------------------------------------


def i2c_probe(port: int, address: int) -> str | None:
    """None if a device acknowledges ``address`` on /dev/i2c-<port>, else why not."""
    try:
        fd = os.open(f"/dev/i2c-{port}", os.O_RDWR)
    except FileNotFoundError:
        return f"I2C bus {port} does not exist (/dev/i2c-{port})"
    except PermissionError:
        return f"no permission on /dev/i2c-{port}"
    try:
        fcntl.ioctl(fd, I2C_SLAVE, address)
        fcntl.ioctl(fd, I2C_SMBUS, SMBUS_QUICK_WRITE)
    except OSError as exc:
        if exc.errno == errno.EBUSY:
            return f"a kernel driver owns address 0x{address:02X} (remove its dtoverlay)"
        return f"nothing answers at address 0x{address:02X}"
    finally:
        os.close(fd)
    return None


def check_display(
    cfg: Config,
    probe: Callable[[int, int], str | None] = i2c_probe,
    spi_path: Callable[[int, int], str] = lambda p, d: f"/dev/spidev{p}.{d}",
) -> CheckResult:
    d = cfg.display
    if cfg.backend("display") == "sim":
        return ok("display", "simulated display")
    if d.interface == "spi":
        path = spi_path(d.spi_port, d.spi_device)
        if not os.path.exists(path):
            return fail(
                "display",
                f"{path} missing: SPI is off",
                "sudo raspi-config nonint do_spi 0 and reboot",
            )
        if not os.access(path, os.R_OK | os.W_OK):
            return fail("display", f"no permission on {path}", "add user station to group spi")
        return ok("display", f"{path} ready (SPI cannot tell whether the panel is connected)")
    problem = probe(d.i2c_port, d.i2c_address)
    if problem is None:
        return ok("display", f"{d.driver} answers at 0x{d.i2c_address:02X} on I2C bus {d.i2c_port}")
    if "does not exist" in problem:
        fix = "enable I2C: sudo raspi-config nonint do_i2c 0, then reboot"
    elif "permission" in problem:
        fix = "add user station to group i2c (sudo ./setup.sh install does)"
    else:
        fix = (
            f"check the OLED wiring (SDA, SCL, 3.3 V, GND) and display.i2c_address; "
            f"`i2cdetect -y {d.i2c_port}` lists what answers"
        )
    return fail("display", problem, fix)


# --- GPIO ---------------------------------------------------------------------------


def _import_gpio() -> Any:
    from station.drivers.gpio_rpi import import_gpio

    return import_gpio()


def check_gpio(
    cfg: Config,
    importer: Callable[[], Any] = _import_gpio,
    devices: Callable[[], list[str]] = lambda: sorted(
        glob.glob("/dev/gpiochip*") + glob.glob("/dev/gpiomem*")
    ),
) -> CheckResult:
    from station.drivers.gpio_rpi import GpioError

    if cfg.backend("gpio") == "sim":
        return ok("gpio", "simulated buzzer, LEDs and button")
    try:
        module = importer()
    except GpioError as exc:
        return fail("gpio", str(exc), "sudo ./setup.sh install (picks rpi-lgpio on a Pi 5)")
    nodes = devices()
    usable = [n for n in nodes if os.access(n, os.R_OK | os.W_OK)]
    if not usable:
        seen = ", ".join(nodes) or "no GPIO device nodes"
        return fail(
            "gpio",
            f"no usable GPIO device ({seen})",
            "add user station to group gpio (sudo ./setup.sh install does)",
        )
    version = getattr(module, "VERSION", "?")
    return ok("gpio", f"RPi.GPIO API {version}; {', '.join(usable)} accessible")


__all__ = ["check_camera", "check_display", "check_gpio", "check_reader", "i2c_probe"]
