"""What every request of the console shares (:class:`Console`), and :func:`guarded`, the
check in front of every page: a live session, the right role, CSRF on every POST."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from station.ward.console.dbpool import DBPool
from station.ward.console.live import LiveHub
from station.ward.console.present import vn_date, vn_time
from station.ward.console.security import LoginLimiter, Visit, csrf_ok
from station.ward.db import Session, is_postgres
from station.ward.notify import Bell, PostgresBell, SocketBell, socket_folder
from station.ward.summary import LEVELS, METHODS

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
LEVEL_NAMES = {
    "verified": "Hợp lệ",
    "signed-untrusted": "Cần xem lại",
    "qr-only": "Chỉ mã QR",
    "failed": "Không hợp lệ",
    "manual": "Nhập tay",
}


@dataclass(frozen=True)
class ConsoleConfig:
    db: str  # SQLite path or postgresql:// URL
    https: bool = False
    session_idle_s: float = 3600.0
    session_max_s: float = 12 * 3600.0
    pool_size: int = 4
    bell: Bell | None = None  # None: LISTEN (PostgreSQL) or a socket in <db>.live/ (SQLite)
    ward_key: str = ""  # the public half of the ward's ack key (mqtt.ward_key), shown to admins
    clock: Callable[[], float] = field(default=time.time)


class Console:
    """Everything a request handler needs; one per application."""

    def __init__(self, cfg: ConsoleConfig) -> None:
        self.cfg = cfg
        self.clock = cfg.clock
        self.pool = DBPool(cfg.db, cfg.pool_size)
        self.bell = cfg.bell or (
            PostgresBell(cfg.db) if is_postgres(cfg.db) else SocketBell(socket_folder(cfg.db))
        )
        self.hub = LiveHub(self.pool, self.bell)
        self.limiter = LoginLimiter()
        self.cookie = "__Host-ward-session" if cfg.https else "ward-session"
        self.templates = Jinja2Templates(directory=HERE / "templates")
        self.templates.env.globals.update(
            vn_time=vn_time, vn_date=vn_date, LEVEL_NAMES=LEVEL_NAMES, METHODS=METHODS,
            LEVELS=LEVELS,
        )  # fmt: skip

    # -- sessions ------------------------------------------------------------------------
    async def visit(self, request: Request) -> Visit | None:
        """The request's live session, touched; None (and ended) when it expired."""
        token = request.cookies.get(self.cookie)
        if not token:
            return None
        now = self.clock()
        session = await self.pool.run(lambda db: db.session(token))
        if session is None:
            return None
        if not self._standing(session, now):
            await self.pool.run(lambda db: db.close_session(token))
            return None
        await self.pool.run(lambda db: db.touch_session(token, now))
        return Visit(token, session)

    async def alive(self, token: str) -> bool:
        """The session still stands (without counting as activity: the live stream asks)."""
        session = await self.pool.run(lambda db: db.session(token))
        return session is not None and self._standing(session, self.clock())

    def _standing(self, session: Session, now: float) -> bool:
        return (
            not session.user.disabled
            and now - session.last_seen <= self.cfg.session_idle_s
            and now - session.created_at <= self.cfg.session_max_s
        )

    def expire_before(self, now: float) -> tuple[float, float]:
        """(idle before, created before): sessions older than these have ended."""
        return now - self.cfg.session_idle_s, now - self.cfg.session_max_s

    def set_cookie(self, response: Response, token: str) -> None:
        response.set_cookie(
            self.cookie, token, httponly=True, samesite="strict", secure=self.cfg.https, path="/"
        )

    # -- rendering -----------------------------------------------------------------------
    def render(
        self,
        request: Request,
        template: str,
        visit: Visit | None,
        status_code: int = 200,
        **context: Any,
    ) -> Response:
        ctx = {"visit": visit, "csrf": visit.session.csrf if visit else "", **context}
        return self.templates.TemplateResponse(request, template, ctx, status_code=status_code)

    def error(self, request: Request, visit: Visit | None, status: int, message: str) -> Response:
        return self.render(request, "error.html", visit, status_code=status, message=message)

    async def audit(
        self,
        visit: Visit,
        action: str,
        records: list[tuple[str, str]] | None = None,
        outcome: str = "",
    ) -> None:
        await self.pool.run(lambda db: db.audit(visit.user, action, records, outcome))


def console_of(request: Request) -> Console:
    """What the application shares with every request (set by ``create_app``)."""
    console: Console = request.app.state.console
    return console


Endpoint = Callable[[Request, Visit], Awaitable[Response]]


def guarded(role: str | None, *, stream: bool = False) -> Callable[[Endpoint], Any]:
    """Wrap an endpoint: a live session (with ``role`` if given) and, for POST, CSRF."""

    def wrap(endpoint: Endpoint) -> Callable[[Request], Awaitable[Response]]:
        async def checked(request: Request) -> Response:
            console = console_of(request)
            visit = await console.visit(request)
            if visit is None:
                if stream or request.headers.get("hx-request"):
                    return Response("Phiên đăng nhập đã hết hạn.", status_code=401)
                return RedirectResponse("/login", status_code=303)
            if role is not None and visit.role != role:
                return console.error(
                    request, visit, 403, "Tài khoản này không có quyền xem trang này."
                )
            if request.method == "POST" and not await csrf_ok(request, visit.session.csrf):
                return console.error(request, visit, 403, "Yêu cầu không hợp lệ (thiếu mã CSRF).")
            return await endpoint(request, visit)

        checked.__name__ = endpoint.__name__
        return checked

    return wrap


__all__ = ["LEVEL_NAMES", "Console", "ConsoleConfig", "console_of", "guarded"]
