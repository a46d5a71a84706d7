"""Search, export, and manual entry (methods 4-7).

Search by ID number (all digits: exact with 12, else a prefix), by name without
diacritics, by date range (received), station, level, method and dossier; newest first,
50 a page. The same filters export as CSV or JSON lines (:mod:`station.ward.export`).
The audit log gets the ids of the records shown or exported and which filters were used,
never the search terms (they are names and ID numbers).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import date, datetime, time, timedelta
from typing import Any

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from station.ward import export as export_mod
from station.ward.console import manual
from station.ward.console.context import console_of, guarded
from station.ward.console.officer import DOSSIER_RE
from station.ward.console.present import view_of
from station.ward.console.security import Visit
from station.ward.db import RecordRow, Search, WardDB
from station.ward.summary import LEVELS, MANUAL_METHODS, METHODS

PAGE = 50
EXPORT_MAX = 100_000
EXPORT_BATCH = 1000
FILTERS = ("q", "station", "level", "method", "dossier", "from", "to")


def _day(text: str, *, end: bool = False) -> float | None:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    if end:
        day += timedelta(days=1)
    return datetime.combine(day, time()).astimezone().timestamp()


def query_of(params: QueryParams, limit: int = PAGE) -> Search:
    method = params.get("method", "")
    before = params.get("before", "")
    level = params.get("level", "")
    return Search(
        text=params.get("q", "")[:100],
        station_id=params.get("station", "")[:100],
        level=level if level in LEVELS else "",
        method=int(method) if method.isdigit() and int(method) in METHODS else None,
        dossier=params.get("dossier", "")[:40],
        since=_day(params.get("from", "")),
        until=_day(params.get("to", ""), end=True),
        before_seq=int(before) if before.isdigit() else None,
        limit=limit,
    )


def _used(params: QueryParams) -> str:
    """Which filters were used (their names only: the values are personal data)."""
    return ",".join(k for k in FILTERS if params.get(k)) or "none"


@guarded("officer")
async def search(request: Request, visit: Visit) -> Response:
    console = console_of(request)
    params = request.query_params
    asked = any(params.get(k) for k in FILTERS) or "all" in params
    query = query_of(params, PAGE + 1)
    rows: list[RecordRow] = []
    if asked:
        rows = await console.pool.run(lambda db: db.search(query))
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    if asked:
        shown = [(r.record_id, r.station_id) for r in rows]
        await console.audit(visit, "search", shown or None, f"{len(rows)} shown; {_used(params)}")
    stations = await console.pool.run(lambda db: db.stations())
    keep = {k: params.get(k, "") for k in FILTERS}
    return console.render(
        request, "search.html", visit, views=[view_of(r) for r in rows], asked=asked,
        more=more, next_before=rows[-1].seq if more else None, params=keep,
        stations=stations, query_string=str(params),
    )  # fmt: skip


def _batches(db: WardDB, query: Search) -> Iterator[list[RecordRow]]:
    before = query.before_seq
    total = 0
    while total < EXPORT_MAX:
        rows = db.search(Search(**{**query.__dict__, "before_seq": before, "limit": EXPORT_BATCH}))
        if not rows:
            return
        yield rows
        total += len(rows)
        before = rows[-1].seq


@guarded("officer")
async def export(request: Request, visit: Visit) -> Response:
    console = console_of(request)
    kind = str(request.path_params["kind"])
    if kind not in ("csv", "json"):
        return Response(status_code=404)
    query = query_of(request.query_params)
    used = _used(request.query_params)

    def load(db: WardDB) -> list[RecordRow]:
        return [row for rows in _batches(db, query) for row in rows]

    rows = await console.pool.run(load)
    await console.audit(
        visit, "export", [(r.record_id, r.station_id) for r in rows] or None,
        f"{kind}, {len(rows)} records; {used}",
    )  # fmt: skip
    chunks = export_mod.csv_chunks(rows) if kind == "csv" else export_mod.json_chunks(rows)

    async def body() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk.encode("utf-8")

    stamp = datetime.fromtimestamp(console.clock()).strftime("%Y%m%d-%H%M")
    media = "text/csv; charset=utf-8" if kind == "csv" else "application/x-ndjson"
    name = f"ban-ghi-{stamp}.{'csv' if kind == 'csv' else 'jsonl'}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return StreamingResponse(body(), media_type=media, headers=headers)


@guarded("officer")
async def entry(request: Request, visit: Visit) -> Response:
    console = console_of(request)
    if request.method == "GET":
        return console.render(request, "manual.html", visit, form={}, errors={}, warnings=())
    form = {k: str(v) for k, v in (await request.form()).items() if isinstance(v, str)}
    station = visit.session.station_id or "console"
    today = datetime.fromtimestamp(console.clock()).date()
    checked = manual.check(form, station_id=station, user=visit.user, today=today)
    dossier = " ".join(form.get("dossier", "").split())
    if dossier and not DOSSIER_RE.fullmatch(dossier):
        checked = manual.Checked({**checked.errors, "dossier": ["Mã hồ sơ không hợp lệ."]})
    if checked.record is None:
        await console.audit(visit, "enter", None, "refused: " + ",".join(sorted(checked.errors)))
        return console.render(
            request, "manual.html", visit, status_code=422, form=form, errors=checked.errors,
            warnings=checked.warnings,
        )  # fmt: skip
    record: dict[str, Any] = checked.record

    def store(db: WardDB) -> int:
        seq = db.insert_entered(record, visit.user)
        if dossier:
            db.link_dossier(seq, dossier)
        return seq

    seq = await console.pool.run(store)
    await console.audit(
        visit, "enter", [(str(record["record_id"]), station)], f"method {record['method']}"
    )
    return RedirectResponse(f"/records/{seq}", status_code=303)


def routes() -> list[Route]:
    return [
        Route("/search", search),
        Route("/export.{kind}", export),
        Route("/manual", entry, methods=["GET", "POST"]),
    ]


MANUAL_CHOICES = {m: METHODS[m] for m in MANUAL_METHODS}

__all__ = ["MANUAL_CHOICES", "query_of", "routes"]
