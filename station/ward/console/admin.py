"""The admin's pages: stations (and their alerts), enrolment and revocation, users,
retention, the audit log. No record content is shown here (the admin role sees no
citizen's data; the officer role sees no admin page).

A station is *offline* when its last message said so or it has been silent for
``SILENT_S``; an alert is raised when it has been offline, has held records the ward
refused, or has had a record waiting to be delivered (its heartbeat's oldest pending
age, plus the time since that heartbeat) for longer than the minutes set on the
retention page. Undelivered records are what a stolen station gives away
(docs/security.md): the waiting alert keeps that window in sight.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from station.sync.errors import SyncError
from station.sync.signing import parse_public_key, public_key_text
from station.ward import passwords
from station.ward.console.context import console_of, guarded
from station.ward.console.security import Visit
from station.ward.db import ROLES, WardDB

SILENT_S = 300.0  # no heartbeat for this long: offline (stations beat every 60 s by default)
DEFAULTS = {
    "retention_days": "0",
    "offline_alert_min": "15",
    "refused_alert_min": "60",
    "waiting_alert_min": "1440",  # the stations' store.alert_age_h default (24 h)
}
STATION_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


@dataclass(frozen=True)
class StationView:
    info: dict[str, Any]
    online: bool
    alerts: tuple[str, ...]


def settings(db: WardDB) -> dict[str, str]:
    return {k: db.setting(k, v) for k, v in DEFAULTS.items()}


def station_views(
    stations: list[dict[str, Any]], cfg: dict[str, str], now: float
) -> list[StationView]:
    offline_s = float(cfg["offline_alert_min"]) * 60
    refused_s = float(cfg["refused_alert_min"]) * 60
    out = []
    for s in stations:
        seen = s["last_seen"]
        online = bool(seen) and s["state"] != "offline" and now - seen < SILENT_S
        alerts = []
        if s["revoked_at"]:
            online = False
        elif not online and seen and now - seen > offline_s:
            alerts.append(f"Mất kết nối {int((now - seen) // 60)} phút")
        elif not seen and now - s["enrolled_at"] > offline_s:
            alerts.append("Chưa kết nối lần nào")
        if s["refused_since"] and now - s["refused_since"] > refused_s:
            minutes = int((now - s["refused_since"]) // 60)
            alerts.append(f"Giữ {s['refused']} bản ghi bị từ chối ({minutes} phút)")
        if waited := _waited(s, now, float(cfg["waiting_alert_min"]) * 60):
            alerts.append(f"Bản ghi chờ gửi đã {waited}")
        out.append(StationView(s, online, tuple(alerts)))
    return out


def _waited(s: dict[str, Any], now: float, limit_s: float) -> str:
    """How long the station's oldest undelivered record has waited ("26 giờ"), when that
    is past ``limit_s``; else ''."""
    age, seen = s["oldest_age"], s["last_seen"]
    if s["revoked_at"] or not age or not seen or not s["pending"]:
        return ""
    waited = age + max(0.0, now - seen)
    if waited <= limit_s:
        return ""
    return f"{int(waited // 3600)} giờ" if waited >= 3600 else f"{int(waited // 60)} phút"


def _redirect(path: str) -> Response:
    return RedirectResponse(path, status_code=303)


@guarded("admin")
async def stations(request: Request, visit: Visit) -> Response:
    return await _stations_page(request, visit)


async def _stations_page(
    request: Request, visit: Visit, error: str = "", status: int = 200
) -> Response:
    console = console_of(request)

    def load(db: WardDB) -> tuple[list[dict[str, Any]], dict[str, str], Any]:
        return db.stations(), settings(db), db.alerts()

    rows, cfg, alerts = await console.pool.run(load)
    views = station_views(rows, cfg, console.clock())
    return console.render(
        request, "admin_stations.html", visit, status_code=status, stations=views,
        alerts=alerts, error=error, ward_key=console.cfg.ward_key,
    )  # fmt: skip


@guarded("admin")
async def enroll(request: Request, visit: Visit) -> Response:
    console = console_of(request)
    form = await request.form()
    station = str(form.get("station_id", "")).strip()
    key_text = str(form.get("public_key", "")).strip()
    if not station or len(station) > 64 or not set(station) <= STATION_ID_CHARS:
        return await _stations_page(
            request, visit, "Mã trạm chỉ gồm chữ, số và - _ . (tối đa 64).", 422
        )
    try:
        key = public_key_text(parse_public_key(key_text))
    except SyncError:
        return await _stations_page(
            request, visit, "Khóa công khai không hợp lệ (dòng do station keygen in ra).", 422
        )
    await console.pool.run(lambda db: db.enroll(station, key))
    await console.audit(visit, "enroll", [("", station)])
    return _redirect("/admin/stations")


@guarded("admin")
async def revoke(request: Request, visit: Visit) -> Response:
    console = console_of(request)
    station = str(request.path_params["station"])
    done = await console.pool.run(lambda db: db.revoke(station))
    await console.audit(visit, "revoke", [("", station)], "revoked" if done else "not enrolled")
    return _redirect("/admin/stations")


@guarded("admin")
async def clear_alert(request: Request, visit: Visit) -> Response:
    console = console_of(request)
    seq = int(str(request.path_params["seq"]))
    await console.pool.run(lambda db: db.clear_alert(seq))
    await console.audit(visit, "clear-alert", None, f"alert {seq}")
    return _redirect("/admin/stations")


@guarded("admin")
async def users(request: Request, visit: Visit) -> Response:
    console = console_of(request)
    if request.method == "GET":
        found = await console.pool.run(lambda db: db.users())
        return console.render(
            request, "admin_users.html", visit, users=found, roles=ROLES, error=""
        )
    form = await request.form()
    name = str(form.get("name", "")).strip()
    role = str(form.get("role", ""))
    password = str(form.get("password", ""))
    error = ""
    if not name or len(name) > 64 or not set(name) <= STATION_ID_CHARS or role not in ROLES:
        error = "Tên đăng nhập chỉ gồm chữ, số và - _ . ; hãy chọn vai trò."
    else:
        try:
            hashed = await asyncio.to_thread(passwords.hash_password, password)
        except passwords.PasswordError:
            error = f"Mật khẩu cần ít nhất {passwords.MIN_LENGTH} ký tự."
        else:
            if await console.pool.run(lambda db: db.add_user(name, role, hashed)):
                await console.audit(visit, "user-add", None, f"{name} ({role})")
                return _redirect("/admin/users")
            error = "Tên đăng nhập đã có."
    found = await console.pool.run(lambda db: db.users())
    return console.render(
        request, "admin_users.html", visit, status_code=422, users=found, roles=ROLES, error=error
    )


@guarded("admin")
async def user_action(request: Request, visit: Visit) -> Response:
    console = console_of(request)
    name = str(request.path_params["name"])
    action = str(request.path_params["action"])
    if name == visit.user and action in ("disable", "remove"):
        return console.error(
            request, visit, 422, "Không thể khóa hoặc xóa chính tài khoản đang dùng."
        )
    calls = {
        "disable": lambda db: db.set_disabled(name, True),
        "enable": lambda db: db.set_disabled(name, False),
        "remove": lambda db: db.remove_user(name),
    }
    if action not in calls:
        return Response(status_code=404)
    await console.pool.run(calls[action])
    await console.audit(visit, f"user-{action}", None, name)
    return _redirect("/admin/users")


@guarded("admin")
async def retention(request: Request, visit: Visit) -> Response:
    console = console_of(request)
    error = ""
    if request.method == "POST":
        form = await request.form()
        values = {k: str(form.get(k, "")).strip() for k in DEFAULTS}
        if all(v.isdigit() and int(v) <= 36500 for v in values.values()):

            def save(db: WardDB) -> None:
                for key, value in values.items():
                    db.set_setting(key, str(int(value)))

            await console.pool.run(save)
            await console.audit(
                visit, "settings", None, ", ".join(f"{k}={v}" for k, v in values.items())
            )
            return _redirect("/admin/retention")
        error = "Mỗi ô là một số nguyên không âm."
    cfg = await console.pool.run(settings)
    return console.render(request, "admin_retention.html", visit, settings=cfg, error=error)


@guarded("admin")
async def purge(request: Request, visit: Visit) -> Response:
    """Delete now what is older than the retention period (each deletion audited)."""
    console = console_of(request)
    cfg = await console.pool.run(settings)
    days = int(cfg["retention_days"])
    if days > 0:
        cutoff = console.clock() - days * 86400
        gone = await console.pool.run(lambda db: db.purge_older_than(cutoff, visit.user))
        await console.audit(visit, "retention", None, f"{len(gone)} records older than {days} days")
    return _redirect("/admin/retention")


@guarded("admin")
async def audit(request: Request, visit: Visit) -> Response:
    console = console_of(request)
    before = request.query_params.get("before", "")
    seq = int(before) if before.isdigit() else None
    entries = await console.pool.run(lambda db: db.audit_log(before_seq=seq, limit=101))
    more = len(entries) > 100
    entries = entries[:100]
    return console.render(
        request, "admin_audit.html", visit, entries=entries,
        next_before=entries[-1].seq if more else None,
    )  # fmt: skip


def routes() -> list[Route]:
    return [
        Route("/admin/stations", stations),
        Route("/admin/stations/enroll", enroll, methods=["POST"]),
        Route("/admin/stations/{station}/revoke", revoke, methods=["POST"]),
        Route("/admin/alerts/{seq:int}/clear", clear_alert, methods=["POST"]),
        Route("/admin/users", users, methods=["GET", "POST"]),
        Route("/admin/users/{name}/{action}", user_action, methods=["POST"]),
        Route("/admin/retention", retention, methods=["GET", "POST"]),
        Route("/admin/retention/purge", purge, methods=["POST"]),
        Route("/admin/audit", audit),
    ]


__all__ = ["routes", "station_views"]
