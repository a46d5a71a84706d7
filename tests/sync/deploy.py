"""mosquitto with the files of deploy/mosquitto, as the README installs them.

``DeployBroker(folder, names)`` runs ``make-certs.sh`` (CA, server and client
certificates, crl.pem, dynamic-security.json) and mosquitto with
``deploy/mosquitto/mosquitto.conf``, changed only where a test must: paths into
``folder``, the listener on 127.0.0.1 and a free port, ``user root`` (the key files are
root's), logs to a file, and the dynamic security plugin where this machine has it.
``revoke(name)`` runs ``make-certs.sh --revoke``; ``restart()`` is what the README says
to do after it. Stopped by PID.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from station.sim.broker import MOSQUITTO, accepts, free_port
from station.sync.link import LinkSettings
from tests.support import wait_for

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto"
DEBIAN_PLUGIN = "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so"


def dynsec_plugin() -> str:
    """This machine's copy of mosquitto's dynamic security plugin (Debian's package)."""
    found = subprocess.run(["dpkg", "-L", "mosquitto"], capture_output=True, text=True)
    paths = [p for p in found.stdout.splitlines() if p.endswith("dynamic_security.so")]
    return paths[0] if paths else DEBIAN_PLUGIN


class DeployBroker:
    """See the module docstring; ``edit`` changes the config text before it is used."""

    def __init__(
        self,
        folder: Path,
        names: tuple[str, ...] = ("station-01", "ward"),
        edit: Callable[[str], str] = lambda conf: conf,
    ) -> None:
        self.folder = folder
        self.certs = folder / "cccd"
        self.port = free_port()
        self.log_file = folder / "mosquitto.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self.make_certs(*names)
        conf = edit((DEPLOY / "mosquitto.conf").read_text())
        conf = conf.replace("/etc/mosquitto/cccd/", f"{self.certs}/")
        conf = conf.replace("listener 8883", f"user root\nlistener {self.port} 127.0.0.1")
        conf = conf.replace(DEBIAN_PLUGIN, dynsec_plugin())
        conf = conf.replace("/var/lib/mosquitto/", f"{folder}/")
        conf = conf.replace("log_dest syslog", f"log_dest file {self.log_file}")
        self.conf_file = folder / "mosquitto.conf"
        self.conf_file.write_text(conf)

    def make_certs(self, *names: str) -> None:
        self._script(str(self.certs), "localhost", *names)

    def revoke(self, *names: str) -> None:
        self._script("--revoke", str(self.certs), *names)

    def _script(self, *args: str) -> None:
        subprocess.run(
            ["sh", str(DEPLOY / "make-certs.sh"), *args], check=True, capture_output=True
        )

    def start(self) -> DeployBroker:
        self._proc = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.conf_file)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        proc = self._proc
        wait_for(lambda: accepts(self.port) or proc.poll() is not None, 10, "broker port")
        assert proc.poll() is None, "the deploy config does not start mosquitto"
        return self

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            os.kill(self._proc.pid, signal.SIGTERM)
            self._proc.wait(10)
        self._proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def link(self, name: str | None, client_id: str) -> LinkSettings:
        """TLS settings with ``name``'s certificate (None: no client certificate)."""
        files = {} if name is None else {
            "cert_file": str(self.certs / f"{name}.crt"),
            "key_file": str(self.certs / f"{name}.key"),
        }  # fmt: skip
        return LinkSettings(
            host="127.0.0.1", port=self.port, client_id=client_id, tls=True,
            ca_file=str(self.certs / "ca.crt"), **files,
        )  # fmt: skip


@contextmanager
def deploy_broker(
    folder: Path,
    names: tuple[str, ...] = ("station-01", "ward"),
    edit: Callable[[str], str] = lambda conf: conf,
) -> Iterator[DeployBroker]:
    broker = DeployBroker(folder, names, edit).start()
    try:
        yield broker
    finally:
        broker.stop()


__all__ = ["DEPLOY", "DeployBroker", "deploy_broker", "dynsec_plugin"]
