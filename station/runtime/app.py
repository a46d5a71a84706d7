"""The station's main loop: one asyncio loop owns the flow state and executes its effects.

Device threads (``station.runtime.workers``), the display refresh worker, the button and the
publisher post events into the loop through ``post`` (thread-safe: the inbox of
``station.runtime.inbox``); the loop feeds each to ``station.flow.step`` and executes the
returned effects in order. The record is appended to the durable outbox before the flow is
told (``StoreDone``), so the officer never sees a result that is not on disk.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from station import flow
from station.config import Config
from station.display.screens import Denied, SyncLink
from station.ports import ButtonEvent
from station.record import build_record
from station.runtime.inbox import Inbox
from station.runtime.refresh import RefreshWorker
from station.runtime.wiring import Devices
from station.runtime.workers import CameraWorker, ChipWorker, Posted, QrSighted

if TYPE_CHECKING:
    from station.audit import AuditLog
    from station.runtime.clock import CachedClockState
    from station.runtime.service import ServiceNotifier
    from station.sync.outbox import Outbox
    from station.sync.publisher import Publisher, SyncState

log = logging.getLogger(__name__)

Clock = Callable[[], float]
RecordHook = Callable[[dict[str, Any]], None]


@dataclass
class Services:
    """What the loop needs besides devices: the outbox, the publisher, the audit log."""

    outbox: Outbox
    publisher_factory: Callable[[Callable[[SyncState], None]], Publisher] | None = None
    audit: AuditLog | None = None
    clock_state: CachedClockState | None = None
    on_record: RecordHook | None = None  # called after a record is on disk (demo, tests)
    notifier: ServiceNotifier | None = None
    health_s: float = 30.0  # how often the clock and the store's room are checked again


class Station:
    """The running station. ``await station.run(stop)`` until ``stop`` is set."""

    def __init__(
        self, cfg: Config, devices: Devices, services: Services, *, clock: Clock = time.monotonic
    ) -> None:
        self.cfg = cfg
        self.devices = devices
        self.services = services
        self.clock = clock
        self.state: flow.State | None = None
        self.records = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._events: asyncio.Queue[Posted] = asyncio.Queue()
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._display: RefreshWorker | None = None
        self._camera: CameraWorker | None = None
        self._chip: ChipWorker | None = None
        self._publisher: Publisher | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._inbox: Inbox[Posted] = Inbox()
        # Thread-safe: queue an event for the loop (the device threads' one way in).
        self.post: Callable[[Posted], None] = self._inbox.post

    # -- events in ----------------------------------------------------------------------
    def _deliver(self, events: list[Posted]) -> None:
        """In the loop: the events the device threads posted (``station.runtime.inbox``)."""
        for event in events:
            self._events.put_nowait(event)

    def _on_button(self, event: ButtonEvent) -> None:
        self.post(flow.Button(self.clock(), event.kind))

    def _on_sync(self, state: SyncState) -> None:
        now = self.clock()
        link = SyncLink.ONLINE if state.connected else SyncLink.OFFLINE
        if state.connecting:
            link = SyncLink.CONNECTING
        denied = Denied(self.cfg.station.id, state.identity) if state.denied else None
        self.post(flow.SyncState(now, link, state.pending, state.refused, state.stale_min, denied))
        self.post(flow.StoreState(now, self.services.outbox.is_full_now()))

    # -- lifecycle ----------------------------------------------------------------------
    def _start_workers(self) -> None:
        d = self.devices
        self._display = RefreshWorker(d.display, max_fps=self.cfg.display.max_fps)
        d.button.set_handler(self._on_button)
        self._camera = CameraWorker(d.camera, self.post, self.clock, self.cfg.camera)
        self._camera.start()
        if d.open_reader is not None:
            self._chip = ChipWorker(d.open_reader, self.post, self.clock, self.cfg)
            self._chip.start()
        factory = self.services.publisher_factory
        if factory is not None:
            self._publisher = factory(self._on_sync).start()
        self._post_health()

    def _post_health(self) -> None:
        now = self.clock()
        pending = self.services.outbox.pending_count()
        link = SyncLink.CONNECTING if self._publisher is not None else SyncLink.DISABLED
        self.post(flow.SyncState(now, link, pending, self.services.outbox.refused_count()))
        self._post_store_and_clock()

    def _post_store_and_clock(self) -> None:
        now = self.clock()
        self.post(flow.StoreState(now, self.services.outbox.is_full_now()))
        if self.services.clock_state is not None:
            self.post(flow.ClockState(now, self.services.clock_state.get().clock_set))

    async def _recheck_health(self, stop: asyncio.Event) -> None:
        """Clock and store again every ``health_s``: a clock set later, or room made in the
        store, lifts the refusal of reads without a restart."""
        while True:
            try:
                await asyncio.wait_for(stop.wait(), self.services.health_s)
                return
            except TimeoutError:
                pass
            try:
                await asyncio.to_thread(self._post_store_and_clock)
            except Exception:  # a failing probe must not stop the counter
                log.exception("health check failed")

    async def _stop_workers(self) -> None:
        self.devices.button.set_handler(None)
        if self._camera is not None:
            await asyncio.to_thread(self._camera.stop)
        if self._chip is not None:
            await asyncio.to_thread(self._chip.stop)
        if self._publisher is not None:
            await asyncio.to_thread(self._publisher.stop)
        for handle in self._timers.values():
            handle.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def run(self, stop: asyncio.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._inbox.start(self._loop, self._deliver)
        self.state, effects = flow.initial(flow.Settings.from_config(self.cfg))
        self._start_workers()
        self._execute(effects)
        notifier = self.services.notifier
        if notifier is not None:
            notifier.ready(f"idle, {self.services.outbox.pending_count()} records pending")
        stop_wait = asyncio.ensure_future(stop.wait())
        health = asyncio.ensure_future(self._recheck_health(stop))
        try:
            while not stop.is_set():
                get = asyncio.ensure_future(self._events.get())
                done, _ = await asyncio.wait({get, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
                if get not in done:
                    get.cancel()
                    break
                self._handle(get.result())
        finally:
            stop_wait.cancel()
            health.cancel()
            if notifier is not None:
                notifier.stopping("stopping: finishing the current write")
            # Let a record being written complete before anything shuts down.
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
            self._handle(flow.Stop(self.clock()))
            await self._stop_workers()
            self._inbox.close()
            if self._display is not None:
                await asyncio.to_thread(self._display.wait_idle, 2.0)
                await asyncio.to_thread(self._display.close)

    def _handle(self, event: Posted) -> None:
        assert self.state is not None
        if isinstance(event, QrSighted):
            event = event.event()  # the payload parsed here, off the camera thread
        self.state, effects = flow.step(self.state, event)
        self._execute(effects)

    # -- effects out --------------------------------------------------------------------
    def _execute(self, effects: list[flow.Effect]) -> None:
        for effect in effects:
            try:
                self._execute_one(effect)
            except Exception:  # one failing device must not stop the counter
                log.exception("effect %s failed", type(effect).__name__)

    def _execute_one(self, effect: flow.Effect) -> None:
        d = self.devices
        match effect:
            case flow.ShowScreen(screen):
                assert self._display is not None
                self._display.submit(screen)
            case flow.Play(pattern):
                d.indicators.play(pattern)
            case flow.SetLeds(leds):
                d.indicators.set_leds(leds)
            case flow.StartTimer(name, at):
                self._arm(name, at)
            case flow.StartChipRead(job, qr, mrz):
                if self._chip is None:
                    self.post(flow.ChipFailed(self.clock(), job, flow.ChipFailure.READER_GONE))
                else:
                    self._chip.read(job, qr, mrz)
            case flow.CancelChipRead(job):
                if self._chip is not None:
                    self._chip.cancel(job)
            case flow.StoreRecord():
                self._spawn(self._store(effect))

    def _arm(self, name: str, at: float) -> None:
        assert self._loop is not None
        old = self._timers.pop(name, None)
        if old is not None:
            old.cancel()
        delay = max(0.0, at - self.clock())

        def fire() -> None:
            self._timers.pop(name, None)
            self._events.put_nowait(flow.TimerFired(self.clock(), name))

        self._timers[name] = self._loop.call_later(delay, fire)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- storing ------------------------------------------------------------------------
    def build_record(self, effect: flow.StoreRecord) -> dict[str, Any]:
        synced: bool | None = None
        if self.services.clock_state is not None:
            synced = self.services.clock_state.get().synchronized
        privacy = self.cfg.privacy
        return build_record(
            effect.qr,
            station_id=self.cfg.station.id,
            chip=effect.chip,
            verification=effect.verification,
            chip_failure=effect.chip_failure,
            store_sensitive=privacy.store_sensitive,
            store_face=privacy.store_face,
            clock_synced=synced,
            mrz=effect.mrz,
        )

    async def _store(self, effect: flow.StoreRecord) -> None:
        from station.fingerprint import fingerprint
        from station.record import canonical_bytes
        from station.sync.errors import StoreFull

        try:
            record = self.build_record(effect)
            await asyncio.to_thread(self.services.outbox.append, record)
        except StoreFull as exc:
            log.error("record not stored: %s", exc)
            self._events.put_nowait(flow.StoreFailed(self.clock(), effect.job, True))
            return
        except Exception:
            log.exception("record not stored")
            self._events.put_nowait(flow.StoreFailed(self.clock(), effect.job, False))
            return
        self.records += 1
        fp = fingerprint(canonical_bytes(record))
        log.info("record %s stored (%s, %s)", record["record_id"], record["status"], fp)
        if self.services.audit is not None:
            self.services.audit.write("read", record["record_id"], fp, record["status"])
        self._events.put_nowait(flow.StoreDone(self.clock(), effect.job))
        if self.services.on_record is not None:
            self.services.on_record(record)
