"""Logging in and out."""

from __future__ import annotations

import asyncio
import hmac

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from station.ward import passwords
from station.ward.console.context import console_of, guarded
from station.ward.console.security import LOGIN_COOKIE, Visit, new_token, same_origin
from station.ward.db import WardDB

MAX_NAME = 64


def home_of(role: str) -> str:
    return "/admin/stations" if role == "admin" else "/counter"


async def login_page(request: Request, *, error: str = "", status: int = 200) -> Response:
    console = console_of(request)
    visit = await console.visit(request)
    if visit is not None and not error:
        return RedirectResponse(home_of(visit.role), status_code=303)
    token = request.cookies.get(LOGIN_COOKIE) or new_token()
    response: Response = console.render(
        request, "login.html", None, status_code=status, login_token=token, error=error
    )
    response.set_cookie(
        LOGIN_COOKIE, token, httponly=True, samesite="strict", secure=console.cfg.https
    )
    return response


async def login(request: Request) -> Response:
    if request.method == "GET":
        return await login_page(request)
    console = console_of(request)
    form = await request.form()
    name = str(form.get("username", ""))[:MAX_NAME].strip()
    password = str(form.get("password", ""))
    cookie = request.cookies.get(LOGIN_COOKIE, "")
    sent = str(form.get("csrf_token", ""))
    if not (cookie and same_origin(request) and hmac.compare_digest(sent, cookie)):
        return await login_page(request, error="Phiên của trang đã cũ, hãy thử lại.", status=403)
    client = request.client.host if request.client else "?"
    wait = console.limiter.blocked_for(name, client)
    if wait > 0:
        minutes = max(1, round(wait / 60))
        await console.pool.run(lambda db: db.audit(name or "?", "login-blocked"))
        return await login_page(
            request,
            error=f"Đăng nhập sai quá nhiều lần. Hãy thử lại sau {minutes} phút.",
            status=429,
        )
    user = await console.pool.run(lambda db: db.user(name))
    ok = await asyncio.to_thread(passwords.verify, user.password_hash if user else None, password)
    if not ok or user is None or user.disabled:
        console.limiter.failed(name, client)
        await console.pool.run(lambda db: db.audit(name or "?", "login-failed"))
        return await login_page(request, error="Sai tên đăng nhập hoặc mật khẩu.", status=401)
    console.limiter.succeeded(name)
    token, csrf, now = new_token(), new_token(), console.clock()

    rehashed = passwords.HASHER.hash(password) if passwords.needs_rehash(user.password_hash) else ""

    def open_session(db: WardDB) -> None:
        if rehashed:  # stronger parameters than when it was set (ends other sessions)
            db.set_password(user.name, rehashed)
        db.expire_sessions(*console.expire_before(now))  # every user's ended sessions go
        db.open_session(token, user.name, csrf, now)
        db.logged_in(user.name, now)
        db.audit(user.name, "login")

    await console.pool.run(open_session)
    response = RedirectResponse(home_of(user.role), status_code=303)
    console.set_cookie(response, token)
    response.delete_cookie(LOGIN_COOKIE)
    return response


@guarded(None)
async def logout(request: Request, visit: Visit) -> Response:
    console = console_of(request)
    await console.pool.run(lambda db: db.close_session(visit.token))
    await console.audit(visit, "logout")
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(console.cookie, path="/")
    return response


@guarded(None)
async def home(request: Request, visit: Visit) -> Response:
    return RedirectResponse(home_of(visit.role), status_code=303)


def routes() -> list[Route]:
    return [
        Route("/", home),
        Route("/login", login, methods=["GET", "POST"]),
        Route("/logout", logout, methods=["POST"]),
    ]


__all__ = ["home_of", "routes"]
