"""The officer's pages: pick a counter, watch it live, open a record, link it to a
dossier, copy it, print its sheet.

Every record shown (on a page, pushed live, printed) and every copy-all is written to the
ward's audit log with the user and the record id, never with the record's content.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from station.ward.console.context import console_of, guarded
from station.ward.console.face import face_png
from station.ward.console.present import View, view_of
from station.ward.console.security import Visit
from station.ward.db import RecordRow, WardDB

PING_S = 15.0
RECENT = 10
CATCH_UP = 50
DOSSIER_RE = re.compile(r"[0-9A-Za-z.\-_/]{1,40}")


def _seq(request: Request) -> int:
    text = str(request.path_params.get("seq", ""))
    return int(text) if text.isdigit() else -1


async def _row(request: Request) -> RecordRow | None:
    seq = _seq(request)
    return await console_of(request).pool.run(lambda db: db.row(seq))


def _of(row: RecordRow) -> list[tuple[str, str]]:
    return [(row.record_id, row.station_id)]


@guarded("officer")
async def counters(request: Request, visit: Visit) -> Response:
    console = console_of(request)
    stations = await console.pool.run(lambda db: db.stations())
    active = [s for s in stations if not s["revoked_at"]]
    return console.render(request, "counters.html", visit, stations=active)


@guarded("officer")
async def counter(request: Request, visit: Visit) -> Response:
    console = console_of(request)
    station = str(request.path_params["station"])

    def load(db: WardDB) -> tuple[bool, list[RecordRow]]:
        known = db.public_key(station) is not None
        db.touch_session(visit.token, console.clock(), station)
        return known, db.latest(station, RECENT)

    known, rows = await console.pool.run(load)
    if not known:
        return console.error(request, visit, 404, "Không có quầy (trạm) này.")
    current = view_of(rows[0]) if rows else None
    if current is not None:
        await console.audit(visit, "view", _of(current.row), "counter")
    return console.render(
        request, "counter.html", visit, station=station, current=current,
        recent=[view_of(r) for r in rows], last_seq=rows[0].seq if rows else 0,
    )  # fmt: skip


def _event(name: str, html: str, event_id: int | None = None) -> str:
    lines = "".join(f"data: {line}\n" for line in html.splitlines() or [""])
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {name}\n{lines}\n"


def _after(request: Request, now: int) -> int:
    """Where the stream starts: after the page's last record (``Last-Event-ID`` on a
    reconnect, ``?after=`` from the page), else from now on."""
    values = [request.headers.get("last-event-id", ""), request.query_params.get("after", "")]
    return max((int(v) for v in values if v.isdigit()), default=now)


@guarded("officer", stream=True)
async def events(request: Request, visit: Visit) -> Response:
    """Server-sent events for one counter: ``record`` (the card) and ``recent`` (a line)."""
    console = console_of(request)
    station = str(request.path_params["station"])

    def card(view: View) -> str:
        env = console.templates.env
        ctx = {"view": view, "csrf": visit.session.csrf, "live": True}
        record = env.get_template("_record.html").render(ctx)
        recent = env.get_template("_recent.html").render(ctx)
        return _event("record", record, view.row.seq) + _event("recent", recent, view.row.seq)

    async def stream() -> AsyncIterator[str]:
        sub = console.hub.subscribe(station)  # first: nothing committed from now on is missed
        after = last = _after(request, console.hub.cursor)
        try:
            yield "retry: 2000\n\n"
            backlog = await console.pool.run(lambda db: db.since(after, CATCH_UP, station))
            queue: list[RecordRow] = list(backlog)
            while True:
                row = queue.pop(0) if queue else await _next(sub.queue)
                if row is None:  # console closing
                    return
                if isinstance(row, float):  # a quiet while: is the session still alive?
                    if not await console.alive(visit.token):
                        yield _event("expired", "")
                        return
                    yield ": ping\n\n"
                    continue
                if row.seq <= last:
                    continue
                last = row.seq
                await console.audit(visit, "view", _of(row), "live")
                yield card(view_of(row))
        finally:
            console.hub.unsubscribe(sub)

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)


async def _next(queue: asyncio.Queue[RecordRow | None]) -> RecordRow | float | None:
    try:
        return await asyncio.wait_for(queue.get(), PING_S)
    except TimeoutError:
        return PING_S


@guarded("officer")
async def record(request: Request, visit: Visit) -> Response:
    console = console_of(request)
    row = await _row(request)
    if row is None:
        return console.error(request, visit, 404, "Không tìm thấy bản ghi.")
    await console.audit(visit, "view", _of(row), "record page")
    return console.render(request, "record.html", visit, view=view_of(row))


@guarded("officer")
async def dossier(request: Request, visit: Visit) -> Response:
    console = console_of(request)
    row = await _row(request)
    if row is None:
        return console.error(request, visit, 404, "Không tìm thấy bản ghi.")
    value = str((await request.form()).get("dossier", "")).strip()
    error = ""
    if value and not DOSSIER_RE.fullmatch(value):
        error = "Mã hồ sơ chỉ gồm chữ, số và . - _ / (tối đa 40 ký tự)."
    else:
        seq = row.seq
        await console.pool.run(lambda db: db.link_dossier(seq, value or None))
        await console.audit(visit, "link-dossier", _of(row), "linked" if value else "unlinked")
        row = await _row(request) or row
    if request.headers.get("hx-request"):
        return console.render(request, "_dossier.html", visit, view=view_of(row), error=error)
    return RedirectResponse(f"/records/{row.seq}", status_code=303)


@guarded("officer")
async def copied(request: Request, visit: Visit) -> Response:
    """The page copied every field (copy-all): audited."""
    row = await _row(request)
    if row is None:
        return Response(status_code=404)
    await console_of(request).audit(visit, "copy-all", _of(row))
    return Response(status_code=204)


@guarded("officer")
async def sheet(request: Request, visit: Visit) -> Response:
    from station.ward.console.sheet import render_pdf

    console = console_of(request)
    row = await _row(request)
    if row is None:
        return console.error(request, visit, 404, "Không tìm thấy bản ghi.")
    view = view_of(row)
    pdf = await asyncio.to_thread(render_pdf, view, visit.user, console.clock())
    await console.audit(visit, "print", _of(row), "sheet")
    headers = {"Content-Disposition": f'inline; filename="phieu-{row.seq}.pdf"'}
    return Response(pdf, media_type="application/pdf", headers=headers)


@guarded("officer")
async def face(request: Request, visit: Visit) -> Response:
    row = await _row(request)
    png = await asyncio.to_thread(face_png, row) if row is not None else None
    if png is None:
        return Response(status_code=404)
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})


def routes() -> list[Route]:
    return [
        Route("/counter", counters),
        Route("/counter/{station}", counter),
        Route("/events/{station}", events),
        Route("/records/{seq}", record),
        Route("/records/{seq}/dossier", dossier, methods=["POST"]),
        Route("/records/{seq}/copied", copied, methods=["POST"]),
        Route("/records/{seq}/sheet.pdf", sheet),
        Route("/records/{seq}/face.png", face),
    ]


__all__ = ["DOSSIER_RE", "routes"]
