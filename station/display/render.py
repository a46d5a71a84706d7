"""Pure drawing: ``render(screen_model) -> PIL.Image`` (mode "1", 128x64).

``layout(model)`` gives the positioned operations (tests measure them), ``render``
paints them. Result screens are split into pages (verdict, what to do when a check
failed, identity, residence and origin, verification detail, face when given; for a
failed card the verification detail, "why not", comes before the identity); text that
does not fit a page goes on to the next one, and every page shows "k/n".
"""

from __future__ import annotations

from datetime import date

from PIL import Image

from station.display import portal
from station.display.fonts import font
from station.display.layout import (
    MARGIN,
    TOP_INK,
    BitmapOp,
    Block,
    BoxOp,
    EllipseOp,
    H,
    Layout,
    LineOp,
    MatrixOp,
    Op,
    PolygonOp,
    TextOp,
    W,
    draw,
    fitted_lines,
    flow,
    right_aligned,
)
from station.display.screens import (
    MESSAGES,
    VERDICT_WORDS,
    ErrorScreen,
    IdleScreen,
    QrSeenScreen,
    ReadingScreen,
    ResultScreen,
    Screen,
    SyncLink,
    Verdict,
    VerifyingScreen,
    mask_id,
)
from station.display.text import ellipsize, measuring, width

HEADER_H = 13  # rows 0..12, inverted
BODY_SIZE = 10
BODY_Y = HEADER_H + 3
FOOTER_SIZE = 9
FOOTER_Y = 53
INDICATOR_SIZE = 9


def _header(title: str) -> tuple[list[Op], bool]:
    limit = W - 2 * MARGIN
    text = ellipsize(font(10, True), title, limit)
    ops: list[Op] = [BoxOp((0, 0, W - 1, HEADER_H - 1)), TextOp(MARGIN, 0, text, 10, True, 0)]
    return ops, text != title


def _screen(title: str, body: str, footer: str = "") -> Layout:
    ops, cut = _header(title)
    body_lines = 2 if footer else 3
    body_ops, body_cut = fitted_lines(body, BODY_SIZE, MARGIN, BODY_Y, W - 2 * MARGIN, body_lines)
    ops += body_ops
    foot_cut = False
    if footer:
        text = ellipsize(font(FOOTER_SIZE), footer, W - 2 * MARGIN)
        foot_cut = text != footer
        ops.append(TextOp(MARGIN, FOOTER_Y, text, FOOTER_SIZE))
    return Layout(tuple(ops), cut or body_cut or foot_cut)


def _sync_words(model: IdleScreen) -> tuple[str, str]:
    """(link state, records waiting) as the idle footer says them."""
    link = {
        SyncLink.CONNECTING: "Đang kết nối",
        SyncLink.ONLINE: "Có mạng",
        SyncLink.OFFLINE: "Mất mạng",
        SyncLink.DISABLED: "Tắt đồng bộ",
    }[model.sync]
    return link, str(model.pending) if model.pending <= 99999 else "99999+"


def _alerting(model: IdleScreen) -> bool:
    """An alert for the officer is on the idle screen (records refused, waiting too long,
    refused by the broker): it wins over the citizens' portal code."""
    return model.refused > 0 or model.stale_min > 0 or model.denied is not None


def _idle(model: IdleScreen) -> Layout:
    if model.portal and not _alerting(model) and portal.fits(model.portal):
        return _idle_with_portal(model)
    if model.chip:
        body = "Mặt có mã QR lên trên, đặt thẻ lên đầu đọc."
    else:
        body = "Mặt có mã QR lên trên, đặt thẻ dưới camera."
    link, count = _sync_words(model)
    fits = [f"{link} · chờ gửi {count}", f"{link} · chờ {count}", f"{link} · {count}"]
    footer = next((t for t in fits if width(font(FOOTER_SIZE), t) <= W - 2 * MARGIN), fits[-1])
    if model.stale_min > 0:  # records wait too long: what a stolen box would give away
        footer = f"Chưa gửi {_age(model.stale_min)} · báo IT"
    if model.refused > 0:  # the ward will never take these: the admin must act
        refused = str(model.refused) if model.refused <= 99999 else "99999+"
        footer = f"Bị từ chối {refused} · báo IT"
    if model.denied is not None:  # the broker drops every record: nothing leaves the box
        denied = model.denied
        if denied.clash:
            body = f"Sai mã trạm: {denied.station_id}, chứng thư {denied.identity}"
        else:
            body = f"Máy chủ không nhận hồ sơ của trạm {denied.station_id}"
        footer = "Không gửi được · báo IT"
    return _screen("Mời đặt thẻ", body, footer)


def _age(minutes: int) -> str:
    if minutes < 120:
        return f"{minutes} phút"
    return f"{minutes // 60} giờ" if minutes < 48 * 60 else f"{minutes // 1440} ngày"


def _idle_with_portal(model: IdleScreen) -> Layout:
    """The idle screen in the left part, the lookup QR code in the right (see portal):
    "Mời đặt thẻ / lên đầu đọc.", the QR's caption, the link state and the queue (never
    with an alert for the officer: see _alerting)."""
    rows, side = portal.modules(model.portal), portal.side(model.portal)
    left = W - side
    limit = left - 2 * MARGIN
    small = font(FOOTER_SIZE)
    title = ellipsize(font(10, True), "Mời đặt thẻ", limit)
    ops: list[Op] = [BoxOp((0, 0, left - 3, HEADER_H - 1)), TextOp(MARGIN, 0, title, 10, True, 0)]
    where = "lên đầu đọc." if model.chip else "dưới camera."
    ops.append(TextOp(MARGIN, 16, where, FOOTER_SIZE))
    ops.append(TextOp(MARGIN, 28, ellipsize(font(FOOTER_SIZE, True), "Tra cứu →", limit),
                      FOOTER_SIZE, True))  # fmt: skip
    link, count = _sync_words(model)
    state, queue = link, f"chờ gửi {count}"
    if width(small, queue) > limit:
        queue = f"chờ {count}"
    ops.append(TextOp(MARGIN, 41, ellipsize(small, state, limit), FOOTER_SIZE))
    ops.append(TextOp(MARGIN, FOOTER_Y, ellipsize(small, queue, limit), FOOTER_SIZE))
    ops.append(MatrixOp(left, (H - side) // 2, rows, portal.SCALE, portal.quiet(model.portal)))
    return Layout(tuple(ops), title != "Mời đặt thẻ")


def _kb(n: int) -> str:
    return f"{n / 1024:.1f}".replace(".", ",")


def _reading(model: ReadingScreen) -> Layout:
    ops, _ = _header("Đang đọc chip")
    ops.append(TextOp(MARGIN, BODY_Y, "Giữ yên thẻ", BODY_SIZE))
    top, bottom = 33, 44
    ops.append(BoxOp((MARGIN, top, W - 1 - MARGIN, bottom), fill=None, outline=1))
    fraction = min(max(model.fraction, 0.0), 1.0)
    filled = int((W - 2 * MARGIN - 4) * fraction)
    if filled > 0:
        ops.append(BoxOp((MARGIN + 2, top + 2, MARGIN + 1 + filled, bottom - 2)))
    if model.bytes_read > 0:
        footer = f"{_kb(model.bytes_read)} KB · {int(100 * fraction)}%"
    else:
        footer = "Đang mở chip…"
    ops.append(TextOp(MARGIN, FOOTER_Y - 2, footer, FOOTER_SIZE))
    return Layout(tuple(ops))


def _mark(verdict: Verdict) -> list[Op]:
    box = (2, 12, 42, 52)
    if verdict is Verdict.ATTENTION:
        return [
            PolygonOp(((22, 10), (44, 50), (0, 50))),
            BoxOp((20, 22, 24, 38), fill=0),
            BoxOp((20, 42, 24, 46), fill=0),
        ]
    if verdict is Verdict.VERIFIED:
        stroke = ((11, 32), (19, 41), (33, 22))
        return [EllipseOp(box), LineOp(stroke, width=5, fill=0)]
    return [
        EllipseOp(box),
        LineOp(((13, 23), (31, 41)), width=5, fill=0),
        LineOp(((13, 41), (31, 23)), width=5, fill=0),
    ]


def _verdict_page(model: ResultScreen) -> tuple[list[Op], bool]:
    ops = _mark(model.verdict)
    x = 48
    limit = W - x - MARGIN
    word_ops, cut1 = fitted_lines(VERDICT_WORDS[model.verdict], 10, x, TOP_INK, limit, 2, True)
    ops += word_ops
    y = TOP_INK + 13 * len(word_ops) + 3
    reason_ops, cut2 = fitted_lines(model.reason, 9, x, y, limit, (50 - y) // 12 + 1)
    return ops + reason_ops, cut1 or cut2


def _dmy(d: date) -> str:
    return d.strftime("%d/%m/%Y")


def _detail_blocks(model: ResultScreen) -> list[list[Block]]:
    sections: list[list[Block]] = []
    person = model.person
    if person is not None:
        number = person.id_number if model.reveal_id else mask_id(person.id_number)
        sections.append(
            [
                Block(person.full_name, 11, True),
                Block(f"Sinh {_dmy(person.date_of_birth)} · {person.sex}"),
                Block(f"Số {number}"),
            ]
        )
        places = [Block("Nơi thường trú", 9, True, keep_with_next=True)]
        places.append(Block(person.residence or "(không có)", 9))
        if person.origin:
            places += [Block("Quê quán", 9, True, keep_with_next=True), Block(person.origin, 9)]
        sections.append(places)
    if model.checks:
        checks = [Block("Kiểm tra", 9, True, keep_with_next=True)]
        for check in model.checks:
            mark = "–" if check.ok is None else ("✓" if check.ok else "✗")
            detail = f": {check.detail}" if check.detail else ""
            checks.append(Block(f"{mark} {check.label}{detail}", 9))
        # a failed card: why not comes right after what to do, before whose card it is
        sections.insert(0 if model.verdict is Verdict.FAILED else len(sections), checks)
    return sections


def result_pages(model: ResultScreen) -> list[Layout]:
    """Every page of a result screen, in order (the verdict first)."""
    indicator_width = width(font(INDICATOR_SIZE, True), "8/8") + 4
    verdict_ops, cut = _verdict_page(model)
    pages: list[tuple[list[Op], bool]] = [(verdict_ops, cut)]
    if model.advice is not None:
        message = MESSAGES[model.advice]
        advice = [Block(message.title, 9, True, keep_with_next=True), Block(message.todo, 9)]
        pages += [(ops, False) for ops in flow(advice, indicator_width)]
    for section in _detail_blocks(model):
        pages += [(ops, False) for ops in flow(section, indicator_width)]
    if model.face is not None:
        x = (W - model.face.width) // 2
        pages.append(([BitmapOp(x, (64 - model.face.height) // 2, model.face)], False))
    total = len(pages)
    layouts = []
    for number, (ops, truncated) in enumerate(pages, start=1):
        mark = right_aligned(f"{number}/{total}", INDICATOR_SIZE, FOOTER_Y, bold=True)
        if number > 1:
            mark = right_aligned(f"{number}/{total}", INDICATOR_SIZE, TOP_INK, bold=True)
        layouts.append(Layout((*ops, mark), truncated))
    return layouts


def layout(model: Screen) -> Layout:
    """Positioned drawing operations for a screen model."""
    with measuring():
        return _layout(model)


def _layout(model: Screen) -> Layout:
    if isinstance(model, IdleScreen):
        return _idle(model)
    if isinstance(model, QrSeenScreen):
        if model.seen == "looking":
            return _screen("Đã thấy mã QR", "Giữ yên thẻ, đang đọc dòng mã MRZ…")
        body = "Giữ yên thẻ, đang mở chip…" if model.chip else "Đang lưu hồ sơ…"
        return _screen("Đã đọc mã MRZ" if model.seen == "mrz" else "Đã đọc mã QR", body)
    if isinstance(model, ReadingScreen):
        return _reading(model)
    if isinstance(model, VerifyingScreen):
        return _screen("Đang kiểm tra", "Kiểm tra chữ ký số của chip và so với mã QR…")
    if isinstance(model, ErrorScreen):
        message = MESSAGES[model.kind]
        return _screen("! " + message.title, message.todo)
    pages = result_pages(model)
    return pages[model.page % len(pages)]


def render(model: Screen) -> Image.Image:
    """The 128x64 1-bit image of a screen model (pure: same model, same pixels)."""
    return draw(layout(model))


__all__ = ["layout", "render", "result_pages"]
