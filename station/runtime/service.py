"""Running under systemd: readiness, watchdog, status and clean stops.

The unit (``systemd/station.service``) is ``Type=notify`` with ``WatchdogSec=``; this
module speaks the sd_notify protocol directly over the ``$NOTIFY_SOCKET`` datagram socket
(no systemd-python dependency) and is a no-op when that variable is absent, so the same
code path runs in a terminal, in tests and under systemd.

How the application uses it (an asyncio main loop)::

    notifier = ServiceNotifier.from_env()
    stop = asyncio.Event()
    remove = install_stop_handlers(loop, lambda signame: stop.set(), notifier)
    watchdog = start_watchdog(loop, notifier)      # pings from the loop itself
    ... start workers ...
    notifier.ready("idle, 0 records pending")
    await stop.wait()                              # current write completes first
    ... stop workers, publish offline status, show "stopped" ...
    watchdog.cancel(); remove(); notifier.close()

The watchdog pings are scheduled *on the event loop*, so when the loop blocks (a hung
driver call on the loop thread) the pings stop and systemd restarts the service after
``WatchdogSec``. A plain (non-asyncio) loop calls :meth:`WatchdogPinger.tick` once per
iteration instead.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def _socket_address(raw: str) -> str | None:
    """The address to send to: a path, or an abstract name ('@name' -> '\\0name')."""
    if raw.startswith("@"):
        return "\0" + raw[1:]
    if raw.startswith("/"):
        return raw
    return None


def _clean_status(text: str) -> str:
    """STATUS= is one line: newlines would start a new (bogus) assignment."""
    return " ".join(text.split())[:200]


def watchdog_interval_from_env(env: Mapping[str, str]) -> float | None:
    """Half of $WATCHDOG_USEC in seconds, if the watchdog is meant for this process."""
    usec = env.get("WATCHDOG_USEC", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    pid = env.get("WATCHDOG_PID", "")
    if pid and (not pid.isdigit() or int(pid) != os.getpid()):
        return None
    return int(usec) / 1_000_000 / 2


class ServiceNotifier:
    """Sends sd_notify messages; silently does nothing when not run by systemd."""

    def __init__(self, address: str | None, watchdog_interval: float | None = None) -> None:
        self._address = address
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self.watchdog_interval = watchdog_interval

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ServiceNotifier:
        """Read $NOTIFY_SOCKET / $WATCHDOG_USEC / $WATCHDOG_PID (default: os.environ)."""
        env = os.environ if env is None else env
        raw = env.get("NOTIFY_SOCKET", "")
        address = _socket_address(raw) if raw else None
        if raw and address is None:
            log.warning("ignoring NOTIFY_SOCKET of unsupported form")
        return cls(address, watchdog_interval_from_env(env) if address else None)

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def notify(self, *assignments: str) -> bool:
        """Send ``KEY=value`` lines in one datagram; False if not sent (no socket, error)."""
        if self._address is None:
            return False
        payload = "\n".join(assignments).encode("utf-8")
        with self._lock:
            try:
                if self._sock is None:
                    self._sock = socket.socket(
                        socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC
                    )
                self._sock.sendto(payload, self._address)
            except OSError as exc:
                log.warning("sd_notify failed: %s", exc.strerror or exc)
                return False
        return True

    def ready(self, status: str | None = None) -> bool:
        """Startup finished: systemd considers the unit started."""
        extra = (f"STATUS={_clean_status(status)}",) if status else ()
        return self.notify("READY=1", *extra)

    def watchdog_ping(self) -> bool:
        return self.notify("WATCHDOG=1")

    def stopping(self, status: str | None = None) -> bool:
        """Shutdown has begun (before the last write completes)."""
        extra = (f"STATUS={_clean_status(status)}",) if status else ()
        return self.notify("STOPPING=1", *extra)

    def status(self, text: str) -> bool:
        """Free-form one-line status shown by ``systemctl status station``."""
        return self.notify(f"STATUS={_clean_status(text)}")

    def close(self) -> None:
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None


@dataclass
class WatchdogPinger:
    """Rate-limited pings for a loop that calls :meth:`tick` every iteration.

    ``healthy`` (optional) is asked before each ping: return False when a component the
    loop depends on (a worker thread, say) is stuck, and systemd will restart the service.
    """

    notifier: ServiceNotifier
    healthy: Callable[[], bool] | None = None
    clock: Callable[[], float] = time.monotonic
    _last: float | None = field(default=None, init=False)

    def tick(self) -> bool:
        """Ping if (about) half the watchdog period has passed since the last ping."""
        interval = self.notifier.watchdog_interval
        if interval is None:
            return False
        if self._last is not None and self.clock() - self._last < 0.9 * interval:
            return False
        return self.ping()

    def ping(self) -> bool:
        """Ping now, unless the health check says a component is stuck."""
        if self.notifier.watchdog_interval is None:
            return False
        if self.healthy is not None and not self.healthy():
            log.error("watchdog: health check failed, not pinging (systemd will restart us)")
            return False
        self._last = self.clock()
        return self.notifier.watchdog_ping()


class WatchdogHandle:
    """Periodic pings scheduled on an asyncio loop; :meth:`cancel` stops them."""

    def __init__(self, loop: asyncio.AbstractEventLoop, pinger: WatchdogPinger) -> None:
        self._loop = loop
        self._pinger = pinger
        self._timer: asyncio.Handle | None = None
        self._cancelled = False

    def _fire(self) -> None:
        if self._cancelled:
            return
        self._pinger.ping()  # the timer sets the pace; a blocked loop never gets here
        interval = self._pinger.notifier.watchdog_interval or 1.0
        self._timer = self._loop.call_later(interval, self._fire)

    def start(self) -> WatchdogHandle:
        if self._pinger.notifier.watchdog_interval is not None:
            self._timer = self._loop.call_soon(self._fire)
        return self

    def cancel(self) -> None:
        self._cancelled = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def start_watchdog(
    loop: asyncio.AbstractEventLoop,
    notifier: ServiceNotifier,
    healthy: Callable[[], bool] | None = None,
) -> WatchdogHandle:
    """Ping the watchdog from ``loop`` every half period (nothing if no watchdog is set)."""
    return WatchdogHandle(loop, WatchdogPinger(notifier, healthy)).start()


def install_stop_handlers(
    loop: asyncio.AbstractEventLoop | None,
    stop_callback: Callable[[str], None],
    notifier: ServiceNotifier | None = None,
) -> Callable[[], None]:
    """On the first SIGTERM/SIGINT: send STOPPING=1 and call ``stop_callback(signal name)``.

    The callback should only *request* the stop (set an event/flag): the loop finishes
    the step it is in (an outbox write completes) and then shuts down. Later signals are
    logged and ignored; systemd's TimeoutStopSec= is the backstop. With ``loop`` the
    handlers run on the loop (``loop.add_signal_handler``), else plain ``signal.signal``
    handlers are installed (call from the main thread). Returns a function that restores
    the previous handlers.
    """
    fired: list[str] = []

    def handle(signum: int) -> None:
        name = signal.Signals(signum).name
        if fired:
            log.warning("%s received again: still stopping (finishing the current step)", name)
            return
        fired.append(name)
        log.info("%s received: stopping after the current step", name)
        if notifier is not None:
            notifier.stopping(f"stopping ({name})")
        stop_callback(name)

    if loop is not None:
        for sig in _STOP_SIGNALS:
            loop.add_signal_handler(sig, handle, int(sig))

        def restore_loop() -> None:
            for sig in _STOP_SIGNALS:
                loop.remove_signal_handler(sig)

        return restore_loop

    previous = {sig: signal.getsignal(sig) for sig in _STOP_SIGNALS}
    for sig in _STOP_SIGNALS:
        signal.signal(sig, lambda signum, _frame: handle(signum))

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)

    return restore


__all__ = [
    "ServiceNotifier",
    "WatchdogHandle",
    "WatchdogPinger",
    "install_stop_handlers",
    "start_watchdog",
    "watchdog_interval_from_env",
]
