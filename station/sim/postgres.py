"""A throw-away PostgreSQL server on loopback for tests and benchmarks (Debian's 15).

    with TempPostgres() as pg:
        url = pg.create_database("t1")         # postgresql://ward@127.0.0.1:PORT/t1

``initdb`` in a folder of its own (made in the system's temporary folder, so that the
unprivileged server can reach it; removed at ``stop``), then ``postgres`` in the
foreground as a child of this process on 127.0.0.1 and a free port, with its socket in
that folder (nothing of a system cluster is touched). PostgreSQL refuses to run as root:
as root the server runs as the unprivileged ``nobody`` and the folder is given to it.
The child gets ``PR_SET_PDEATHSIG`` so it dies with the test run even after a
``kill -9``; ``stop()`` sends SIGINT (fast shutdown: open connections are cut) and waits
for it by PID. Durability is switched off (``fsync=off``): this is a test server.
"""

from __future__ import annotations

import ctypes
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from station.sim.broker import free_port

PG_BIN_DIRS = ("/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin")
RUN_AS_ROOT = "nobody"
SUPERUSER = "ward"
PR_SET_PDEATHSIG = 1


class PostgresError(RuntimeError):
    """The test server could not be set up, started or stopped."""


def pg_bin() -> Path | None:
    """Where Debian's initdb and postgres are, or None."""
    for folder in (os.environ.get("PG_BIN", ""), *PG_BIN_DIRS):
        if folder and (Path(folder) / "initdb").is_file():
            return Path(folder)
    return None


def _die_with_parent() -> None:
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGINT)


class TempPostgres:
    def __init__(self, *, settings: dict[str, str] | None = None) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="ward-pg-"))
        self.data = self.workdir / "data"
        self.log_file = self.workdir / "postgres.log"
        self.port = free_port()
        self.settings = {
            "listen_addresses": "127.0.0.1", "fsync": "off", "synchronous_commit": "off",
            "full_page_writes": "off", "max_connections": "60", "shared_buffers": "128MB",
            **(settings or {}),
        }  # fmt: skip
        self._proc: subprocess.Popen[bytes] | None = None
        self._user: pwd.struct_passwd | None = None

    # -- process -------------------------------------------------------------------------
    def _run_as(self) -> dict[str, object]:
        if os.geteuid() != 0:
            return {}
        assert self._user is not None
        return {"user": self._user.pw_uid, "group": self._user.pw_gid, "extra_groups": []}

    def start(self, timeout: float = 30.0) -> TempPostgres:
        binaries = pg_bin()
        if binaries is None:
            raise PostgresError("PostgreSQL server binaries not found (apt install postgresql-15)")
        if os.geteuid() == 0:
            self._user = pwd.getpwnam(RUN_AS_ROOT)
            os.chown(self.workdir, self._user.pw_uid, self._user.pw_gid)
        init = subprocess.run(
            [str(binaries / "initdb"), "-D", str(self.data), "-A", "trust", "-U", SUPERUSER,
             "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"],
            cwd=self.workdir, capture_output=True, text=True, check=False, **self._run_as(),  # type: ignore[call-overload]
        )  # fmt: skip
        if init.returncode != 0:
            raise PostgresError(f"initdb failed: {init.stderr.strip()[-500:]}")
        args = [str(binaries / "postgres"), "-D", str(self.data), "-p", str(self.port),
                "-k", str(self.workdir)]  # fmt: skip
        for key, value in self.settings.items():
            args += ["-c", f"{key}={value}"]
        with self.log_file.open("ab") as log:
            self._proc = subprocess.Popen(  # type: ignore[call-overload]
                args, cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent, **self._run_as(),
            )  # fmt: skip
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            try:
                psycopg.connect(self.url("postgres"), connect_timeout=2).close()
                return
            except psycopg.OperationalError as exc:
                if (
                    self._proc is None
                    or self._proc.poll() is not None
                    or time.monotonic() > deadline
                ):
                    self.stop()
                    tail = self.log_file.read_text(errors="replace")[-800:]
                    raise PostgresError(f"postgres did not start: {exc}; log: {tail}") from exc
                time.sleep(0.05)

    def stop(self, timeout: float = 20.0) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            os.kill(proc.pid, signal.SIGINT)  # fast shutdown
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGQUIT)
                proc.wait(timeout)
        shutil.rmtree(self.workdir, ignore_errors=True)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def __enter__(self) -> TempPostgres:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- databases -----------------------------------------------------------------------
    def url(self, dbname: str) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{dbname}"

    def _admin(self, statement: str) -> None:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(statement)

    def create_database(self, name: str) -> str:
        """A new, empty database; returns its URL."""
        if not name.replace("_", "").isalnum():
            raise ValueError("database names here are letters, digits and _")
        self._admin(f"CREATE DATABASE {name}")
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self._admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def missing() -> str | None:
    """None when a test server can be started here, else why not."""
    if pg_bin() is None:
        return "PostgreSQL server binaries not found (apt install postgresql-15)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(RUN_AS_ROOT)
        except KeyError:
            return f"no user {RUN_AS_ROOT} to run postgres as"
    return None


__all__ = ["PostgresError", "TempPostgres", "missing", "pg_bin"]
