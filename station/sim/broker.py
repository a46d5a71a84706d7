"""A real mosquitto on loopback for tests and the demo.

``Broker(workdir)`` writes a throw-away CA, a server certificate (SAN localhost,
127.0.0.1) and one client certificate per name (CN = station id or "ward"),
an optional password file (``mosquitto_passwd``) and an optional ACL, then runs
``mosquitto -c FILE`` in the foreground with three listeners on 127.0.0.1 and
free ports:

- ``plain_port``: no TLS, anonymous (demo convenience, no ACL);
- ``tls_port``: TLS, client certificate required, identity = certificate CN, ACL;
- ``password_port`` (only with ``users``): TLS, user name + password, ACL.

Persistence is on (in ``workdir``) so that ``stop()`` + ``start()`` keeps
sessions; ``kill()`` is a SIGKILL (sessions since the last save are lost, as on
a real crash). Ports stay the same across restarts. Use as a context manager::

    with Broker(tmp, clients=("station-1", "ward")) as broker:
        cfg = broker.station_config(cfg, "station-1")      # TLS + client cert
        link = broker.link_settings("ward", client_id="ward-1")
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from station import config as config_mod

if TYPE_CHECKING:
    from station.sync.link import LinkSettings

log = logging.getLogger(__name__)

MOSQUITTO = "/usr/sbin/mosquitto"
MOSQUITTO_PASSWD = "/usr/bin/mosquitto_passwd"


class BrokerError(RuntimeError):
    """The test broker could not be set up, started or stopped."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def station_acl(prefix: str = "cccd", ward_user: str = "ward") -> str:
    """ACL: a station writes only under ``<prefix>/<its id>/`` and reads its acks and the
    ward's trust bundle (head and parts); the ward reads all, writes acks and the bundle."""
    return (
        f"# everyone reads the ward's signed trust bundle: its head and its parts\n"
        f"pattern read {prefix}/trust/bundle\n"
        f"pattern read {prefix}/trust/bundle/+/+\n"
        f"\n# stations (user name = certificate CN = station id)\n"
        f"pattern write {prefix}/%u/records\n"
        f"pattern write {prefix}/%u/status\n"
        f"pattern write {prefix}/%u/heartbeat\n"
        f"pattern read {prefix}/%u/ack\n"
        f"\n# the ward receiver\n"
        f"user {ward_user}\n"
        f"topic read {prefix}/#\n"
        f"topic write {prefix}/+/ack\n"
        f"topic write {prefix}/trust/bundle\n"
        f"topic write {prefix}/trust/bundle/#\n"
    )


@dataclass(frozen=True)
class ClientFiles:
    cert: Path
    key: Path


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def _cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[str, ec.EllipticCurvePrivateKey] | None,
    *,
    server: bool = False,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    issuer_name, issuer_key = issuer if issuer else (subject, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    elif issuer is not None:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


class TestPki:
    """Throw-away CA + server certificate + client certificates in one folder."""

    __test__ = False  # not a pytest class

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self._ca_key = ec.generate_private_key(ec.SECP256R1())
        self.ca_file = folder / "ca.crt"
        ca = _cert("CCCD test CA", self._ca_key, None)
        self.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        self.server = self._issue("server", server=True)

    def _issue(self, name: str, *, server: bool = False) -> ClientFiles:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _cert(name, key, ("CCCD test CA", self._ca_key), server=server)
        files = ClientFiles(self.folder / f"{name}.crt", self.folder / f"{name}.key")
        files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(files.key, key)
        return files

    def client(self, name: str) -> ClientFiles:
        """The certificate/key for ``name`` (made on first use)."""
        files = ClientFiles(self.folder / f"{name}.crt", self.folder / f"{name}.key")
        return files if files.cert.exists() else self._issue(name)


class Broker:
    """One mosquitto process on loopback; see the module docstring."""

    def __init__(
        self,
        workdir: str | Path,
        *,
        clients: Iterable[str] = ("station-1", "ward"),
        users: Mapping[str, str] | None = None,
        acl: str | None = None,
        prefix: str = "cccd",
        persistence: bool = True,
    ) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.prefix = prefix
        self.pki = TestPki(self.workdir / "pki")
        for name in clients:
            self.pki.client(name)
        self.users = dict(users or {})
        self.acl = acl if acl is not None else station_acl(prefix)
        self.persistence = persistence
        self._pick_ports()
        self._started_once = False
        self.conf_file = self.workdir / "mosquitto.conf"
        self.log_file = self.workdir / "mosquitto.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._write_config()

    # -- configuration -------------------------------------------------------------
    def _write_config(self) -> None:
        acl_file = self.workdir / "acl"
        acl_file.write_text(self.acl, encoding="utf-8")
        tls = (
            f"cafile {self.pki.ca_file}\ncertfile {self.pki.server.cert}\n"
            f"keyfile {self.pki.server.key}\n"
        )
        lines = [
            "user root",
            "per_listener_settings true",
            f"persistence {'true' if self.persistence else 'false'}",
            f"persistence_location {self.workdir}/",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "set_tcp_nodelay true",
            f"listener {self.plain_port} 127.0.0.1",
            "allow_anonymous true",
            f"listener {self.tls_port} 127.0.0.1",
            "allow_anonymous false",
            tls + "require_certificate true",
            "use_identity_as_username true",
            f"acl_file {acl_file}",
        ]
        if self.users:
            pw = self.workdir / "passwd"
            pw.write_text("", encoding="utf-8")
            for user, password in self.users.items():
                subprocess.run(
                    [MOSQUITTO_PASSWD, "-b", str(pw), user, password],
                    check=True,
                    capture_output=True,
                )
            pw.chmod(0o600)
            lines += [
                f"listener {self.password_port} 127.0.0.1",
                "allow_anonymous false",
                tls.rstrip("\n"),
                f"password_file {pw}",
                f"acl_file {acl_file}",
            ]
        self.conf_file.write_text("\n".join(lines) + "\n", encoding="utf-8")

    # -- process ---------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 10.0) -> Broker:
        """Start mosquitto and wait until every listener accepts connections.

        The first start retries with new ports if one was taken meanwhile; later
        starts (restarts) keep the ports clients know.
        """
        if self.running:
            return self
        for attempt in range(3):
            try:
                self._spawn(timeout)
                self._started_once = True
                return self
            except BrokerError:
                if self._started_once or attempt == 2:
                    raise
                log.warning("mosquitto failed to start, retrying on other ports")
                self._pick_ports()
                self._write_config()
        return self

    def _pick_ports(self) -> None:
        self.plain_port = free_port()
        self.tls_port = free_port()
        self.password_port = free_port() if self.users else 0

    def _spawn(self, timeout: float) -> None:
        with self.log_file.open("ab") as logf:
            self._proc = subprocess.Popen(
                [MOSQUITTO, "-c", str(self.conf_file)],
                stdout=logf,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # a Ctrl-C in the demo's terminal is ours to handle
            )
        ports = [p for p in (self.plain_port, self.tls_port, self.password_port) if p]
        deadline = time.monotonic() + timeout
        for port in ports:
            while not accepts(port):
                if self._proc.poll() is not None:
                    raise BrokerError(
                        f"mosquitto exited with {self._proc.returncode}: {self._log_tail()}"
                    )
                if time.monotonic() > deadline:
                    self.kill()
                    raise BrokerError(f"mosquitto did not listen on {port} within {timeout}s")
                time.sleep(0.01)
        log.info("mosquitto pid %d on ports %s", self._proc.pid, ports)

    def _log_tail(self) -> str:
        try:
            return self.log_file.read_text(encoding="utf-8", errors="replace")[-800:]
        except OSError:
            return ""

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (mosquitto saves its persistence file), SIGKILL if it hangs."""
        self._signal(signal.SIGTERM, timeout)

    def kill(self) -> None:
        """SIGKILL: a broker crash (sessions since the last save are lost)."""
        self._signal(signal.SIGKILL, 10.0)

    def restart(self, *, hard: bool = False) -> None:
        """Stop (or kill if ``hard``) and start again on the same ports."""
        if hard:
            self.kill()
        else:
            self.stop()
        self.start()

    def _signal(self, sig: signal.Signals, timeout: float) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        os.kill(proc.pid, sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout)

    def __enter__(self) -> Broker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- what clients need -------------------------------------------------------------
    def url(self, *, tls: bool = True) -> str:
        """``mqtts://127.0.0.1:<tls_port>`` or ``mqtt://127.0.0.1:<plain_port>``."""
        return (
            f"mqtts://127.0.0.1:{self.tls_port}" if tls else f"mqtt://127.0.0.1:{self.plain_port}"
        )

    def station_config(
        self, cfg: config_mod.Config, station_id: str, *, tls: bool = True
    ) -> config_mod.Config:
        """``cfg`` with station.id and [mqtt] pointing at this broker."""
        cfg = config_mod.replace(cfg, "station", id=station_id)
        if not tls:
            return config_mod.replace(
                cfg, "mqtt", enabled=True, host="127.0.0.1", port=self.plain_port, tls=False,
                topic_prefix=self.prefix,
            )  # fmt: skip
        files = self.pki.client(station_id)
        return config_mod.replace(
            cfg, "mqtt", enabled=True, host="127.0.0.1", port=self.tls_port, tls=True,
            ca_file=str(self.pki.ca_file), cert_file=str(files.cert), key_file=str(files.key),
            topic_prefix=self.prefix,
        )  # fmt: skip

    def link_settings(
        self, name: str, *, client_id: str | None = None, tls: bool = True
    ) -> LinkSettings:
        """Connection settings for a client authenticating with ``name``'s certificate."""
        from station.sync.link import LinkSettings

        if not tls:
            return LinkSettings(host="127.0.0.1", port=self.plain_port, client_id=client_id or name)
        files = self.pki.client(name)
        return LinkSettings(
            host="127.0.0.1",
            port=self.tls_port,
            tls=True,
            ca_file=str(self.pki.ca_file),
            cert_file=str(files.cert),
            key_file=str(files.key),
            client_id=client_id or name,
        )


def accepts(port: int) -> bool:
    """True if something listens on 127.0.0.1:``port``."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


__all__ = [
    "Broker",
    "BrokerError",
    "ClientFiles",
    "TestPki",
    "accepts",
    "free_port",
    "station_acl",
]
