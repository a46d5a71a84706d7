"""Who may do what: sessions, roles, CSRF, login rate limits, security headers.

- Sessions live in the database (:mod:`station.ward.db.accounts`); the cookie holds a
  random token, ``HttpOnly``, ``SameSite=Strict``, and on HTTPS ``Secure`` with the
  ``__Host-`` prefix. A session ends at logout, after ``idle_s`` without a request, after
  ``max_s`` in all, or when its user is disabled or removed.
- Every route but the login page and the static files goes through
  :func:`station.ward.console.context.guarded`: no session, no answer (a redirect to the
  login page, or 401 for the live stream); the wrong role, 403; every POST must carry
  the session's CSRF token (form field ``csrf_token`` or header ``X-CSRF-Token``) and
  come from this origin.
- The login form, before any session exists, uses a double-submit token (cookie + field).
- Failed logins are counted per user name and per client address (:class:`LoginLimiter`).
- Every response has a strict Content-Security-Policy (no inline script or style), and
  ``nosniff``, ``Referrer-Policy``, ``frame-ancestors 'none'``; HTTPS adds HSTS.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from station.ward.db import Session

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)
LOGIN_COOKIE = "ward-login"


class SecurityHeaders:
    """Pure ASGI middleware (it does not buffer, so the live stream flows)."""

    def __init__(self, app: ASGIApp, *, https: bool) -> None:
        self.app = app
        self.headers = [
            (b"content-security-policy", CSP.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"same-origin"),
            (b"cross-origin-opener-policy", b"same-origin"),
            (b"x-frame-options", b"DENY"),
        ]
        if https:
            self.headers.append((b"strict-transport-security", b"max-age=31536000"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.headers]
            await send(message)

        await self.app(scope, receive, with_headers)


class LoginLimiter:
    """At most ``per_user`` failures per user name and ``per_client`` per address in
    ``window_s``; a success clears the user's count."""

    def __init__(self, *, per_user: int = 5, per_client: int = 20, window_s: float = 900.0,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.per_user, self.per_client, self.window_s = per_user, per_client, window_s
        self.clock = clock
        self._fails: dict[str, deque[float]] = {}

    def _recent(self, key: str) -> deque[float]:
        times = self._fails.setdefault(key, deque())
        while times and times[0] < self.clock() - self.window_s:
            times.popleft()
        return times

    def blocked_for(self, user: str, client: str) -> float:
        """Seconds until a login may be tried again (0: now)."""
        waits = [
            times[0] + self.window_s - self.clock()
            for times, limit in (
                (self._recent("u:" + user.casefold()), self.per_user),
                (self._recent("c:" + client), self.per_client),
            )
            if len(times) >= limit
        ]
        return max(waits, default=0.0)

    def failed(self, user: str, client: str) -> None:
        for key in ("u:" + user.casefold(), "c:" + client):
            self._recent(key).append(self.clock())

    def succeeded(self, user: str) -> None:
        self._fails.pop("u:" + user.casefold(), None)


@dataclass(frozen=True)
class Visit:
    """The logged-in user making this request."""

    token: str
    session: Session

    @property
    def user(self) -> str:
        return self.session.user.name

    @property
    def role(self) -> str:
        return self.session.user.role


def same_origin(request: Request) -> bool:
    """Sec-Fetch-Site and Origin, when the browser sends them, name this site."""
    site = request.headers.get("sec-fetch-site")
    if site and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    return not origin or origin == f"{request.url.scheme}://{request.url.netloc}"


async def csrf_ok(request: Request, expected: str) -> bool:
    if not expected or not same_origin(request):
        return False
    sent = request.headers.get("x-csrf-token")
    if sent is None:
        form = await request.form()
        value = form.get("csrf_token")
        sent = value if isinstance(value, str) else None
    return sent is not None and hmac.compare_digest(sent, expected)


def new_token() -> str:
    return secrets.token_urlsafe(32)


__all__ = [
    "CSP",
    "LOGIN_COOKIE",
    "LoginLimiter",
    "SecurityHeaders",
    "Visit",
    "csrf_ok",
    "new_token",
    "same_origin",
]
