"""Who may do what in the console, over real HTTP to a real uvicorn: no page or API
without a session, roles, CSRF on every POST, session expiry, login limits, headers."""

from __future__ import annotations

import hashlib
import re
import ssl
from pathlib import Path

import httpx
import pytest
from starlette.routing import Route

from station.sim.broker import TestPki
from station.ward.db import WardDB
from tests.sync.support import STATION, make_records
from tests.ward.support import ADMIN, OFFICER, Served, opened, serve_console

CONSOLE = Path(__file__).resolve().parents[2] / "station" / "ward" / "console"
PARAMS = {"station": STATION, "seq": "1", "seq:int": "1", "kind": "csv", "name": "canbo",
          "action": "disable", "sha256": "ab" * 32}  # fmt: skip
OPEN = ("/login",)


def _routes(console: Served) -> list[tuple[str, str]]:
    out = []
    for route in console.server.app.routes:
        if not isinstance(route, Route) or route.path in OPEN:
            continue
        path = re.sub(r"\{([^}]+)\}", lambda m: PARAMS[m[1]], route.path)
        out += [(method, path) for method in sorted(route.methods or ()) if method != "HEAD"]
    return out


def _seed(console: Served) -> None:
    with WardDB(console.db) as db:
        db.enroll(STATION, "key")
        db.store_many([opened(r) for r in make_records(2)])


def test_no_page_or_api_answers_without_a_session(console: Served) -> None:
    _seed(console)
    routes = _routes(console)
    assert len(routes) >= 20
    anonymous = console.client()
    for method, path in routes:
        answer = anonymous.request(method, path)
        assert answer.status_code in (303, 401, 403), (method, path, answer.status_code)
        if answer.status_code == 303:
            assert answer.headers["location"] == "/login", (method, path)
        assert "Nguy" not in answer.text and "csrf" not in answer.text.lower()
    with WardDB(console.db) as db:  # nothing was changed by those requests
        assert db.count() == 2 and db.public_key(STATION) == "key" and db.audit_log() == []
    assert anonymous.get("/static/app.css").status_code == 200  # the only open files


def test_an_officer_gets_no_admin_page_and_an_admin_no_record(console: Served) -> None:
    _seed(console)
    officer = console.login(OFFICER)
    admin = console.login(ADMIN)
    for method, path in _routes(console):
        if path in ("/", "/logout"):
            continue
        who = officer if path.startswith("/admin") else admin
        answer = who.request(method, path)
        assert answer.status_code == 403, (method, path, answer.status_code)
        assert "Nguy" not in answer.text
    assert officer.get("/counter").status_code == 200
    assert admin.get("/admin/stations").status_code == 200
    assert officer.get("/").headers["location"] == "/counter"
    assert admin.get("/").headers["location"] == "/admin/stations"


def test_posts_without_the_csrf_token_are_refused(console: Served) -> None:
    _seed(console)
    officer = console.login(OFFICER)
    token = console.csrf(officer)
    url = "/records/1/dossier"
    assert officer.post(url, data={"dossier": "HS-1"}).status_code == 403
    assert officer.post(url, data={"dossier": "HS-1", "csrf_token": "forged"}).status_code == 403
    other_site = {"Origin": "http://evil.example", "X-CSRF-Token": token}
    assert officer.post(url, data={"dossier": "HS-1"}, headers=other_site).status_code == 403
    cross = {"Sec-Fetch-Site": "cross-site", "X-CSRF-Token": token}
    assert officer.post(url, data={"dossier": "HS-1"}, headers=cross).status_code == 403
    with WardDB(console.db) as db:
        assert db.row(1).dossier is None  # type: ignore[union-attr]
    assert officer.post(url, data={"dossier": "HS-1", "csrf_token": token}).status_code == 303
    assert officer.post("/logout").status_code == 403  # logging out needs it too
    anonymous = console.client()
    anonymous.get("/login")
    refused = anonymous.post("/login", data={"username": "canbo", "password": OFFICER[2]})
    assert refused.status_code == 403  # the login form's own token


def test_sessions_expire_idle_and_in_all_and_end_at_logout(tmp_path: Path) -> None:
    served = serve_console(str(tmp_path / "w.sqlite"), session_idle_s=600, session_max_s=3600)
    try:
        officer = served.login(OFFICER)
        served.clock.advance(500)
        assert officer.get("/counter").status_code == 200  # active: kept
        served.clock.advance(601)
        assert officer.get("/counter").headers["location"] == "/login"  # idle too long
        officer = served.login(OFFICER)
        for _ in range(7):
            served.clock.advance(550)
            officer.get("/counter")
        assert officer.get("/counter").headers["location"] == "/login"  # 1 h in all
        officer = served.login(OFFICER)
        cookie = dict(officer.cookies)
        token = served.csrf(officer)
        assert officer.post("/logout", data={"csrf_token": token}).status_code == 303
        replay = served.client()
        replay.cookies.update(cookie)  # the old cookie is worth nothing now
        assert replay.get("/counter").headers["location"] == "/login"
        with WardDB(served.db) as db:
            actions = [a.action for a in db.audit_log()]
        assert actions.count("login") == 3 and "logout" in actions
    finally:
        served.stop()


def test_disabling_a_user_ends_the_session(console: Served) -> None:
    officer = console.login(OFFICER)
    admin = console.login(ADMIN)
    token = console.csrf(admin, "/admin/users")
    done = admin.post("/admin/users/canbo/disable", data={"csrf_token": token})
    assert done.status_code == 303
    assert officer.get("/counter").headers["location"] == "/login"
    refused = console.client()
    page = refused.get("/login")
    login_token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert login_token
    answer = refused.post(
        "/login", data={"username": "canbo", "password": OFFICER[2], "csrf_token": login_token[1]}
    )
    assert answer.status_code == 401
    assert admin.post("/admin/users/quantri/disable", data={"csrf_token": token}).status_code == 422


def test_login_is_rate_limited(console: Served) -> None:
    client = console.client()
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token

    def attempt(password: str) -> httpx.Response:
        return client.post(
            "/login", data={"username": "canbo", "password": password, "csrf_token": token[1]}
        )

    assert [attempt(f"wrong-{n}").status_code for n in range(5)] == [401] * 5
    blocked = attempt(OFFICER[2])  # even the right password, for a while
    assert blocked.status_code == 429 and "thử lại sau" in blocked.text
    assert console.client().get("/counter").status_code == 303
    with WardDB(console.db) as db:
        actions = [a.action for a in db.audit_log()]
    assert actions.count("login-failed") == 5 and "login-blocked" in actions


def test_security_headers_and_cookie_flags(console: Served, tmp_path: Path) -> None:
    client = console.client()
    for path in ("/login", "/static/app.js", "/counter"):
        headers = client.get(path).headers
        assert "script-src 'self'" in headers["content-security-policy"]
        assert "'unsafe-inline'" not in headers["content-security-policy"]
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
    page = client.get("/login")
    assert "httponly" in page.headers["set-cookie"].lower()
    login = console.login(OFFICER, client)
    assert login.cookies.get("ward-session")
    pki = TestPki(tmp_path / "pki")
    from station.ward.console.app import ConsoleConfig, create_app
    from station.ward.console.server import ConsoleServer

    served = ConsoleServer(
        create_app(ConsoleConfig(db=str(tmp_path / "tls2.sqlite"), https=True)), "127.0.0.1", 0,
        certfile=str(pki.server.cert), keyfile=str(pki.server.key),
    ).start_thread()  # fmt: skip
    try:
        assert served.url.startswith("https://")
        with httpx.Client(
            base_url=served.url, verify=ssl.create_default_context(cafile=pki.ca_file)
        ) as tls:
            answer = tls.get("/login")
        assert served.app.state.console.cookie == "__Host-ward-session"
        cookie = answer.headers["set-cookie"].lower()
        assert "secure" in cookie and "samesite=strict" in cookie and "httponly" in cookie
        assert answer.headers["strict-transport-security"].startswith("max-age=")
    finally:
        served.stop()


def test_plain_http_is_refused_off_loopback() -> None:
    from station.ward.console.server import ConsoleError, check_tls, parse_listen

    assert parse_listen("0.0.0.0:8443") == ("0.0.0.0", 8443)
    assert parse_listen("[::1]:80") == ("::1", 80)
    with pytest.raises(ConsoleError, match="needs HTTPS"):
        check_tls("0.0.0.0", "", "")
    with pytest.raises(ConsoleError, match="go together"):
        check_tls("127.0.0.1", "cert.pem", "")
    assert check_tls("127.0.0.1", "", "") is False
    with pytest.raises(ConsoleError):
        parse_listen("8443")


def test_templates_have_no_inline_script_style_or_handler() -> None:
    for path in (CONSOLE / "templates").glob("*.html"):
        if path.name == "sheet.html":  # the PDF: rendered by WeasyPrint, never a browser
            continue
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), path.name
        assert not re.search(r"\son[a-z]+\s*=", text), path.name
        assert "style=" not in text and "<style" not in text, path.name
        assert "javascript:" not in text.lower(), path.name
    assert "<script" not in (CONSOLE / "templates" / "sheet.html").read_text()


def test_vendored_javascript_is_what_the_npm_registry_serves() -> None:
    vendor = CONSOLE / "static" / "vendor"
    sums = dict(reversed(line.split()) for line in (vendor / "SHA256SUMS").read_text().splitlines())
    assert set(sums) == {"htmx-2.0.11.min.js", "htmx-ext-sse-2.2.4.min.js"}
    for name, digest in sums.items():
        assert hashlib.sha256((vendor / name).read_bytes()).hexdigest() == digest
    assert (vendor / "LICENSE.htmx.org").is_file() and (vendor / "LICENSE.htmx-ext-sse").is_file()
    base = (CONSOLE / "templates" / "base.html").read_text()
    assert all(f"/static/vendor/{name}" in base for name in sums)
