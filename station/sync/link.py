"""One MQTT 5 connection driven by its owner's thread (paho-mqtt 2.x, no paho thread).

``Link.step(timeout)`` does everything: (re)connect when due, run paho's network
loop once, and deliver paho callbacks in the calling thread, so the publisher and
the ward receiver each own their state without locks. Reconnects use our own
capped exponential backoff with jitter (:class:`Backoff`), never paho's.
Sessions are persistent (clean_start False + session expiry), TLS pins the
configured CA and may present a client certificate; user name + password are
optional. A QoS 1 publish the broker refuses (MQTT 5 PUBACK reason code, e.g.
"Not authorized" when its ACL drops the topic) is reported to ``on_publish_result``
with the topic, like every accepted one. Nothing here knows about records.
"""

from __future__ import annotations

import logging
import random
import select
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from station.config import TLS_KEY, Config
from station.sync.errors import SyncError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LinkSettings:
    """Where and how to connect."""

    host: str
    port: int
    client_id: str
    tls: bool = False
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    username: str = ""
    password: str = field(default="", repr=False)
    keepalive_s: int = 30
    session_expiry_s: int = 7 * 24 * 3600
    reconnect_min_s: float = 0.2
    reconnect_max_s: float = 30.0

    @classmethod
    def from_config(cls, cfg: Config, *, client_id: str | None = None) -> LinkSettings:
        m = cfg.mqtt
        password = ""
        if m.password_file:
            try:
                password = Path(m.password_file).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise SyncError(f"mqtt.password_file: cannot read: {exc.strerror}") from exc
        return cls(
            host=m.host,
            port=m.port,
            client_id=client_id or f"station-{cfg.station.id}",
            tls=m.tls,
            ca_file=m.ca_file,
            cert_file=m.cert_file,
            key_file=str(cfg.key_file(TLS_KEY)) if cfg.key_sealed(TLS_KEY) else m.key_file,
            username=m.username,
            password=password,
            keepalive_s=m.keepalive_s,
            reconnect_max_s=m.reconnect_max_s,
            session_expiry_s=m.session_expiry_s,
        )

    @classmethod
    def from_url(cls, url: str, *, client_id: str, **kw: Any) -> LinkSettings:
        """``mqtt://host:port`` or ``mqtts://host:port`` (+ keyword overrides)."""
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise SyncError(f"broker URL must be mqtt://HOST:PORT or mqtts://HOST:PORT: {url!r}")
        tls = parts.scheme == "mqtts"
        port = parts.port or (8883 if tls else 1883)
        return cls(host=parts.hostname, port=port, client_id=client_id, tls=tls, **kw)

    def ssl_context(self) -> ssl.SSLContext:
        """The TLS context; SyncError names the file that cannot be used and why."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        files = [("CA certificate", self.ca_file), ("client certificate", self.cert_file)]
        files.append(("client key", self.key_file))
        for what, name in files:
            if name and not Path(name).is_file():
                why = "is a folder" if Path(name).is_dir() else "no such file"
                raise SyncError(f"TLS: {what} {name}: {why}")
        if self.key_file and not self.cert_file:
            raise SyncError(f"TLS: client key {self.key_file} given without its certificate")
        try:
            if self.ca_file:
                ctx.load_verify_locations(self.ca_file)  # pinned: only this CA
            else:
                ctx.load_default_certs()
        except (OSError, ssl.SSLError) as exc:
            raise SyncError(f"TLS: CA certificate {self.ca_file}: {_tls_why(exc)}") from exc
        try:
            if self.cert_file:
                ctx.load_cert_chain(self.cert_file, self.key_file or None)
        except (OSError, ssl.SSLError) as exc:
            pair = f"{self.cert_file}" + (f" with key {self.key_file}" if self.key_file else "")
            raise SyncError(
                f"TLS: client certificate {pair}: {_tls_why(exc)} (PEM files; the key must "
                "belong to the certificate)"
            ) from exc
        return ctx


def _tls_why(exc: BaseException) -> str:
    if isinstance(exc, PermissionError):
        return "permission denied (the service user must be able to read it)"
    if isinstance(exc, ssl.SSLError):
        return f"not usable ({exc.reason or exc})"
    return str(getattr(exc, "strerror", None) or exc)


class Backoff:
    """Capped exponential backoff with jitter: delay in [base/2, base], base doubles."""

    def __init__(self, low: float, cap: float, rng: random.Random | None = None) -> None:
        self.low, self.cap = low, max(cap, low)
        self._rng = rng or random.Random()
        self._attempt = 0

    def next_delay(self) -> float:
        base = min(self.cap, self.low * (2**self._attempt))
        self._attempt = min(self._attempt + 1, 30)
        return self._rng.uniform(base / 2, base)

    def reset(self) -> None:
        self._attempt = 0


MessageHandler = Callable[[str, bytes], None]
ConnectHandler = Callable[[bool], None]
PublishResult = Callable[[str, str | None], None]  # (topic, None or the refusal reason)


class Link:
    """A paho client plus reconnect policy; call :meth:`step` from one thread only."""

    def __init__(
        self,
        settings: LinkSettings,
        *,
        on_connect: ConnectHandler,
        on_message: MessageHandler,
        will: tuple[str, bytes] | None = None,
        max_inflight: int = 100,
        on_subscribed: Callable[[], None] | None = None,
        on_publish_result: PublishResult | None = None,
    ) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        self.settings = settings
        self._on_connect_cb = on_connect
        self._on_message_cb = on_message
        self._backoff = Backoff(settings.reconnect_min_s, settings.reconnect_max_s)
        self._next_attempt = 0.0
        self._connecting = False
        self.connected = False
        self.answered = False  # a connection attempt has had its answer (accepted or not)
        self._on_publish_result = on_publish_result
        self._topics: dict[int, str] = {}  # mid -> topic of a QoS 1 publish awaiting PUBACK
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=settings.client_id,
            protocol=mqtt.MQTTv5,
        )
        client.max_inflight_messages_set(max_inflight)
        client.max_queued_messages_set(0)
        if settings.tls:
            client.tls_set_context(settings.ssl_context())
        if settings.username:
            client.username_pw_set(settings.username, settings.password or None)
        if will is not None:
            client.will_set(will[0], will[1], qos=1, retain=True)
        client.on_connect = self._handle_connect
        client.on_disconnect = self._handle_disconnect
        client.on_message = self._handle_message
        client.on_publish = self._handle_publish
        if on_subscribed is not None:
            client.on_subscribe = lambda c, u, mid, codes, props: on_subscribed()
        self._props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        self._props.SessionExpiryInterval = settings.session_expiry_s
        self._client = client

    # -- paho callbacks (run inside step(), in the owner's thread) ------------------
    def _handle_connect(self, client: Any, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        self._connecting = False
        self.answered = True
        if rc.is_failure:
            log.warning("broker %s:%d refused connection: %s", *self._where(), rc)
            self._schedule_retry()
            return
        self.connected = True
        self._backoff.reset()
        log.info("connected to %s:%d (session present: %s)", *self._where(), flags.session_present)
        self._on_connect_cb(bool(flags.session_present))

    def _handle_disconnect(self, client: Any, userdata: Any, flags: Any, rc: Any, p: Any) -> None:
        was = self.connected
        self.connected = False
        self._connecting = False
        self.answered = True
        if was and rc.is_failure:
            log.warning("disconnected from %s:%d: %s", *self._where(), rc)
        self._schedule_retry()

    def _handle_message(self, client: Any, userdata: Any, message: Any) -> None:
        self._on_message_cb(str(message.topic), bytes(message.payload))

    def _handle_publish(self, client: Any, userdata: Any, mid: int, rc: Any, props: Any) -> None:
        topic = self._topics.pop(mid, None)
        if topic is None or self._on_publish_result is None:
            return
        self._on_publish_result(topic, str(rc) if rc.is_failure else None)

    def _where(self) -> tuple[str, int]:
        return self.settings.host, self.settings.port

    def _schedule_retry(self) -> None:
        self.answered = True  # refused, unreachable or silent: no longer "connecting"
        self._next_attempt = time.monotonic() + self._backoff.next_delay()

    # -- owner API -----------------------------------------------------------------------
    def step(self, timeout: float) -> None:
        """Connect if due, then run the network loop once (callbacks happen here)."""
        if not self.connected and not self._connecting:
            if time.monotonic() < self._next_attempt:
                time.sleep(min(timeout, max(0.0, self._next_attempt - time.monotonic())))
                return
            self._try_connect()
            if not self._connecting:
                return
        self._client.loop(timeout=timeout)
        self._drain()
        if self._connecting and time.monotonic() > self._connect_deadline:
            log.warning("no CONNACK from %s:%d, retrying", *self._where())
            self._client.disconnect()
            self._connecting = False
            self._schedule_retry()

    def _drain(self, max_reads: int = 1000) -> None:
        """Read every packet already waiting (paho reads ~1 per loop when idle)."""
        for _ in range(max_reads):
            sock = self._client.socket()
            if sock is None:
                return
            pending = sock.pending() if hasattr(sock, "pending") else 0
            if not pending and not select.select([sock], [], [], 0)[0]:
                break
            if self._client.loop_read() != 0:
                return
        if self._client.socket() is not None and self._client.want_write():
            self._client.loop_write()

    def _try_connect(self) -> None:
        s = self.settings
        try:
            self._client.connect(
                s.host, s.port, keepalive=s.keepalive_s, clean_start=False, properties=self._props
            )
        except (OSError, ssl.SSLError) as exc:
            log.warning("cannot connect to %s:%d: %s", s.host, s.port, connect_error(exc, s.tls))
            self._schedule_retry()
            return
        sock = self._client.socket()
        if isinstance(sock, socket.socket):  # paho leaves Nagle on: acks would wait ~40 ms
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._connecting = True
        self._connect_deadline = time.monotonic() + max(5.0, s.keepalive_s)

    def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> bool:
        """Queue a message; False when not connected or paho refused it."""
        if not self.connected:
            return False
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc == 0 and qos > 0 and self._on_publish_result is not None:
            self._topics[info.mid] = topic  # paho resends it, same mid, after a reconnect
            if len(self._topics) > 0xFFFF:  # mids wrap at 65535: older ones are stale
                self._topics = {info.mid: topic}
        return bool(info.rc == 0)

    def subscribe(self, topics: list[tuple[str, int]]) -> None:
        self._client.subscribe(topics)

    def unsubscribe(self, topics: list[str]) -> None:
        if self.connected:
            self._client.unsubscribe(topics)

    def close(self, last: tuple[str, bytes] | None = None, timeout: float = 2.0) -> None:
        """Publish ``last`` (retained, e.g. status offline), then disconnect cleanly."""
        if self.connected and last is not None:
            info = self._client.publish(last[0], last[1], qos=1, retain=True)
            deadline = time.monotonic() + timeout
            while not info.is_published() and time.monotonic() < deadline and self.connected:
                self._client.loop(timeout=0.05)
        if self.connected:
            self._client.disconnect()
            self._client.loop(timeout=0.05)
        self.connected = False


def client_identity(cert_file: str, username: str = "") -> str:
    """Who the broker takes this client to be: the client certificate's CN (the deploy
    config's ``use_identity_as_username``), else the user name; "" when unknown."""
    if cert_file:
        from cryptography import x509
        from cryptography.x509.oid import NameOID

        try:
            cert = x509.load_pem_x509_certificate(Path(cert_file).read_bytes())
        except (OSError, ValueError):
            return ""
        names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        return str(names[0].value) if names else ""
    return username


__all__ = ["Backoff", "Link", "LinkSettings", "client_identity"]


ProbeKind = Literal[
    "untrusted", "tls", "not-tls", "unreachable", "no-answer", "not-mqtt", "refused"
]


def _plain_answer_to_tls(exc: BaseException) -> bool:
    """The server closed or answered in clear text during the TLS handshake."""
    if isinstance(exc, ConnectionResetError | ssl.SSLEOFError | BrokenPipeError):
        return True
    reason = getattr(exc, "reason", "") or ""
    return reason in ("WRONG_VERSION_NUMBER", "UNEXPECTED_EOF_WHILE_READING", "HTTP_REQUEST")


def _short(exc: BaseException) -> str:
    return str(getattr(exc, "reason", None) or getattr(exc, "strerror", None) or exc).lower()


def connect_error(exc: BaseException, tls: bool) -> str:
    """Why a connect failed, in words an admin can act on (no Python class names)."""
    if tls and _plain_answer_to_tls(exc):
        return (
            f"the server did not speak TLS ({_short(exc)}): "
            "this port is not a TLS listener (mqtts:// and mqtt.tls = true need the "
            "broker's TLS port, 8883)"
        )
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"server certificate not trusted ({exc.verify_message})"
    if isinstance(exc, ssl.SSLError):
        return f"TLS handshake failed ({exc.reason or exc})"
    if isinstance(exc, OSError):
        return f"cannot reach the broker ({exc.strerror or exc})"
    return str(exc)


@dataclass(frozen=True)
class ProbeProblem:
    """Why a one-off connection to the broker failed (``kind``) and what was seen."""

    kind: ProbeKind
    detail: str


def probe(
    settings: LinkSettings, ctx: ssl.SSLContext | None, timeout: float
) -> ProbeProblem | None:
    """One clean-session MQTT 5 connect and disconnect; None when the broker accepted it."""
    import threading

    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    done = threading.Event()
    answer: list[Any] = []
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=settings.client_id, protocol=mqtt.MQTTv5
    )
    client.connect_timeout = timeout
    if ctx is not None:
        client.tls_set_context(ctx)
    if settings.username:
        client.username_pw_set(settings.username, settings.password or None)

    def on_connack(_c: Any, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        answer.append(("connack", rc))
        done.set()

    def on_closed(_c: Any, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        answer.append(("closed", rc))
        done.set()

    client.on_connect, client.on_disconnect = on_connack, on_closed
    try:
        client.connect(settings.host, settings.port, keepalive=30, clean_start=True)
    except (OSError, ssl.SSLError) as exc:
        return ProbeProblem(
            _connect_kind(exc, ctx is not None), connect_error(exc, ctx is not None)
        )
    client.loop_start()
    try:
        if not done.wait(timeout) or not answer:
            return ProbeProblem("no-answer", f"no answer to MQTT CONNECT within {timeout:g} s")
        what, rc = answer[0]
        if what == "closed":
            return ProbeProblem(
                "not-mqtt", f"the server closed the connection without an MQTT answer ({rc})"
            )
        if rc.is_failure:
            return ProbeProblem("refused", f"broker refused the connection: {rc}")
        client.disconnect()
    finally:
        client.loop_stop()
    return None


def _connect_kind(exc: BaseException, tls: bool) -> ProbeKind:
    if tls and _plain_answer_to_tls(exc):
        return "not-tls"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return "untrusted"
    if isinstance(exc, ssl.SSLError):
        return "tls"
    return "unreachable"
