"""Layout never overflows the 128x64 panel and never cuts text without a mark."""

from __future__ import annotations

from datetime import date

import pytest
from PIL import Image, ImageChops

from station.display.fonts import font
from station.display.layout import H, Layout, TextOp, W, draw, text_box
from station.display.render import layout, render, result_pages
from station.display.screens import (
    MESSAGES,
    ErrorKind,
    IdleScreen,
    Person,
    ResultScreen,
    SyncLink,
    Verdict,
    mask_id,
)
from station.display.text import ELLIPSIS, ellipsize, fit, width, wrap

from .catalogue import LONG_ADDRESS, LONG_NAME, UNBROKEN, layouts, screens, worst_screens

ALL = {**layouts(screens()), **layouts(worst_screens())}


def texts(lay: Layout) -> list[TextOp]:
    return [op for op in lay.ops if isinstance(op, TextOp)]


def overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@pytest.mark.parametrize("name", sorted(ALL))
def test_every_text_inside_the_panel(name: str) -> None:
    for op in texts(ALL[name]):
        left, top, right, bottom = text_box(op)
        assert left >= 0 and right <= W and top >= 0 and bottom <= H, (name, op.text)


def ink(op: TextOp) -> Image.Image:
    return draw(Layout((TextOp(op.x, op.y, op.text, op.size, op.bold, 1),)))


@pytest.mark.parametrize("name", sorted(ALL))
def test_texts_do_not_touch(name: str) -> None:
    """No two texts share an ink pixel (boxes may interleave: a mark under a descender)."""
    ops = texts(ALL[name])
    for i, a in enumerate(ops):
        for b in ops[i + 1 :]:
            if overlap(text_box(a), text_box(b)):
                both = ImageChops.logical_and(ink(a), ink(b))
                assert both.getbbox() is None, (name, a.text, b.text)


@pytest.mark.parametrize("name", sorted(ALL))
def test_nothing_cut(name: str) -> None:
    assert not ALL[name].truncated, name


def test_long_result_paginates_and_keeps_every_word() -> None:
    model = worst_screens()["worst"]
    pages = result_pages(model)
    assert len(pages) >= 5
    shown = " ".join(op.text for page in pages for op in texts(page))
    for word in (LONG_NAME + " " + LONG_ADDRESS).split():
        assert word in shown, word
    numbers = [op.text for page in pages for op in texts(page) if "/" in op.text]
    assert f"1/{len(pages)}" in numbers and f"{len(pages)}/{len(pages)}" in numbers


def test_page_index_wraps_around() -> None:
    model = worst_screens()["upper"]
    n = len(result_pages(model))
    first = render(model).tobytes()
    again = ResultScreen(model.verdict, model.reason, model.person, page=n)
    assert render(again).tobytes() == first


def test_unbroken_word_is_split_not_cut() -> None:
    f = font(10)
    lines = wrap(f, UNBROKEN, 124)
    assert "".join(lines) == UNBROKEN
    assert all(width(f, line) <= 124 for line in lines)


def test_wrap_respects_first_line_limit() -> None:
    f = font(10)
    lines = wrap(f, LONG_ADDRESS, 124, first_limit=60)
    assert width(f, lines[0]) <= 60
    assert all(width(f, line) <= 124 for line in lines[1:])
    assert " ".join(lines).split() == LONG_ADDRESS.split()


def test_fit_marks_truncation() -> None:
    f = font(10)
    fitted = fit(f, LONG_ADDRESS, 124, 2)
    assert fitted.truncated and len(fitted.lines) == 2
    assert fitted.lines[-1].endswith(ELLIPSIS)
    assert width(f, fitted.lines[-1]) <= 124
    assert not fit(f, "Hà Nội", 124, 1).truncated


def test_ellipsize_short_text_untouched() -> None:
    f = font(9)
    assert ellipsize(f, "Nam", 50) == "Nam"
    cut = ellipsize(f, LONG_NAME, 50)
    assert cut.endswith(ELLIPSIS) and width(f, cut) <= 50


def test_decomposed_input_is_normalised() -> None:
    f = font(10)
    decomposed = "Nguye\u0302\u0303n"
    assert wrap(f, decomposed, 124) == ["Nguyễn"]


def test_mask_id() -> None:
    assert mask_id("001090012345") == "0010******45"
    assert mask_id("12345") == "*****"


def test_id_masked_unless_revealed() -> None:
    person = Person("Lê An", date(1990, 1, 2), "Nam", "001090012345")
    hidden = " ".join(
        op.text for op in texts(result_pages(ResultScreen(Verdict.VERIFIED, "x", person))[1])
    )
    shown = ResultScreen(Verdict.VERIFIED, "x", person, reveal_id=True)
    revealed = " ".join(op.text for op in texts(result_pages(shown)[1]))
    assert "0010******45" in hidden and "001090012345" not in hidden
    assert "001090012345" in revealed


def test_render_is_1bit_128x64_and_pure() -> None:
    for model in screens().values():
        a, b = render(model), render(model)
        assert a.mode == "1" and a.size == (W, H)
        assert a.tobytes() == b.tobytes()


def test_every_error_message_fits() -> None:
    assert len(MESSAGES) == len({m.title for m in MESSAGES.values()})
    for name, lay in layouts(screens()).items():
        if name.startswith("error-"):
            assert not lay.truncated, name


def test_face_page_has_dithered_pixels() -> None:
    model = screens()["result-verified"]
    assert isinstance(model, ResultScreen) and model.face is not None
    last = render(
        ResultScreen(model.verdict, model.reason, model.person, model.checks, model.face, page=-1)
    )
    lit = last.convert("L").histogram()[255]
    assert 200 < lit < model.face.width * model.face.height


def test_layout_of_idle_names_pending_count() -> None:
    lay = layout(screens()["idle-offline"])
    assert any("1234" in op.text for op in texts(lay))


@pytest.mark.parametrize("link", list(SyncLink))
@pytest.mark.parametrize("pending", [0, 9, 12345, 99999, 100000, 10**6])
@pytest.mark.parametrize("chip", [True, False])
def test_idle_footer_fits_any_queue(link: SyncLink, pending: int, chip: bool) -> None:
    lay = layout(IdleScreen(link, pending, chip))
    assert not lay.truncated
    for op in texts(lay):
        assert text_box(op)[2] <= W


@pytest.mark.parametrize("kind", list(ErrorKind))
def test_advice_fits_one_page(kind: ErrorKind) -> None:
    pages = result_pages(ResultScreen(Verdict.FAILED, "x", None, advice=kind))
    assert len(pages) == 2 and not any(p.truncated for p in pages)
