"""The admin's page "Chứng thư": the document signers the stations have seen, the trust the
ward approved (CSCAs, pinned document signers, CRLs), and the changes to it.

Installing a CSCA takes a certificate file, a CRL or an ICAO master list (its CMS
signature checked: :func:`station.ward.trust.parse_upload`). Approving a document signer
as "pinned DS" needs the box ticked that says the documented check was made (cards of
that signer compared in person with the national population database, method 4); the
admin's note goes into the audit log. Every install, approval and removal is audited and
moves the trust revision: the receiver then publishes a new signed bundle.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from station.verify.bundle import MAX_BYTES as BUNDLE_MAX
from station.ward.console.context import console_of, guarded
from station.ward.console.present import CHECK_WORDS
from station.ward.console.security import Visit
from station.ward.db import TrustItem, WardDB
from station.ward.trust import MAX_UPLOAD, TrustError, parse_upload, pinned_item

HEX = frozenset("0123456789abcdef")
TRUST_NAMES = {"csca": "CSCA", "pinned-ds": "DS được ghim", "crl": "CRL"}


def _fingerprint(text: str) -> str | None:
    value = text.strip().lower()
    return value if len(value) == 64 and set(value) <= HEX else None


@guarded("admin")
async def page(request: Request, visit: Visit) -> Response:
    return await _page(request, visit)


async def _page(
    request: Request, visit: Visit, error: str = "", notice: str = "", status: int = 200
) -> Response:
    console = console_of(request)

    def load(db: WardDB) -> tuple[object, ...]:
        # the version the current approved set is published as (revision + offset: the
        # offset moves versions above a bundle an earlier database made), and the newest
        # bundle the receiver has made and published
        current = db.trust_revision() + db.bundle_version_offset()
        return db.signers(), db.trust_items(), current, db.latest_bundle_version()

    signers, items, current, published = await console.pool.run(load)
    return console.render(
        request, "admin_trust.html", visit, status_code=status, signers=signers, items=items,
        current=current, published=published, error=error, notice=notice,
        TRUST_NAMES=TRUST_NAMES, CHECK_WORDS=CHECK_WORDS, max_mb=MAX_UPLOAD // 1_000_000,
        bundle_mb=BUNDLE_MAX // (1024 * 1024),
    )  # fmt: skip


@guarded("admin")
async def install(request: Request, visit: Visit) -> Response:
    form = await request.form(max_files=1, max_fields=4)
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        return await _page(request, visit, "Hãy chọn một tệp.", status=422)
    data = await upload.read(MAX_UPLOAD + 1)
    name = upload.filename or "upload"
    return await _add(
        request, visit, "trust-install", f"file {name[:80]}",
        lambda db: parse_upload(data, name, visit.user, db.trust_items()),
    )  # fmt: skip


@guarded("admin")
async def approve(request: Request, visit: Visit) -> Response:
    sha = _fingerprint(str(request.path_params["sha256"]))
    form = await request.form()
    checked = form.get("checked") == "method-4"
    note = str(form.get("note", "")).strip()[:200]
    if sha is None:
        return Response(status_code=404)
    if re.search(r"\d{9,}", note):
        return await _page(
            request, visit, "Không ghi số định danh hay số CMND vào ghi chú (nhật ký).", status=422
        )
    if not checked or not note:
        return await _page(
            request, visit,
            "Chỉ duyệt sau khi đã đối chiếu thẻ trực tiếp với Cơ sở dữ liệu quốc gia về dân cư "
            "(cách 4): đánh dấu ô xác nhận và ghi số hồ sơ đối chiếu.",
            status=422,
        )  # fmt: skip
    return await _add(
        request, visit, "trust-pin-ds", sha[:16],
        lambda db: ([pinned_item(db, sha, visit.user)], f"checked by method 4: {note}"),
    )  # fmt: skip


async def _add(
    request: Request,
    visit: Visit,
    action: str,
    what: str,
    make: Callable[[WardDB], tuple[list[TrustItem], str]],
) -> Response:
    """Add what ``make`` gives (refused: the page with its message), audited either way."""
    console = console_of(request)
    try:
        items, how = await console.pool.run(make)
    except TrustError as exc:
        await console.audit(visit, action, None, f"refused: {what}")
        return await _page(request, visit, str(exc), status=422)
    added = await console.pool.run(lambda db: db.add_trust(items))
    fingerprints = " ".join(a[:16] for a in added) or "nothing new"
    return await _audited(request, visit, action, f"{len(added)} added ({how}): {fingerprints}")


@guarded("admin")
async def remove(request: Request, visit: Visit) -> Response:
    console = console_of(request)
    sha = _fingerprint(str(request.path_params["sha256"]))
    if sha is None:
        return Response(status_code=404)
    gone = await console.pool.run(lambda db: db.remove_trust(sha))
    outcome = f"{gone.kind} {sha[:16]} removed" if gone else f"{sha[:16]} not installed"
    return await _audited(request, visit, "trust-remove", outcome)


async def _audited(request: Request, visit: Visit, action: str, outcome: str) -> Response:
    """The change's audit line, then back to the page (every change moves the revision)."""
    await console_of(request).audit(visit, action, None, outcome)
    return RedirectResponse("/admin/trust", status_code=303)


def routes() -> list[Route]:
    return [
        Route("/admin/trust", page),
        Route("/admin/trust/install", install, methods=["POST"]),
        Route("/admin/trust/{sha256}/approve", approve, methods=["POST"]),
        Route("/admin/trust/{sha256}/remove", remove, methods=["POST"]),
    ]


__all__ = ["TRUST_NAMES", "routes"]
