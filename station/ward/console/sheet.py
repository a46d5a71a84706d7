"""The printed "Phiếu thông tin công dân": one A4 page, rendered to PDF by WeasyPrint.

The sheet is the same Jinja2 template engine as the pages (autoescaped: a name such as
``<script>`` prints as those characters). DejaVu Sans (``fonts-dejavu-core``) is embedded
through ``@font-face`` with its file URL, so every Vietnamese letter prints whatever fonts
the printing computer has. WeasyPrint may fetch nothing but those two font files and
``data:`` URLs (the face): no network, no other file.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import os
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from station.ward.console.face import face_png
from station.ward.console.present import View, vn_time

TEMPLATES = Path(__file__).parent / "templates"
FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu")
FONTS = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf")


class SheetError(RuntimeError):
    """The sheet cannot be made (fonts or WeasyPrint missing)."""


def font_urls() -> tuple[str, str]:
    """file:// URLs of DejaVu Sans and its bold face (``STATION_FONT_DIR`` first)."""
    dirs = [os.environ.get("STATION_FONT_DIR", ""), *FONT_DIRS]
    for folder in filter(None, dirs):
        paths = [Path(folder) / name for name in FONTS]
        if all(p.is_file() for p in paths):
            return (paths[0].as_uri(), paths[1].as_uri())
    raise SheetError("DejaVu Sans not found: install fonts-dejavu-core or set STATION_FONT_DIR")


@functools.lru_cache(maxsize=1)
def _env() -> Environment:
    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape())


def sheet_html(view: View, user: str, now: float, face_png: bytes | None = None) -> str:
    regular, bold = font_urls()
    face = "data:image/png;base64," + base64.b64encode(face_png).decode() if face_png else ""
    ctx: dict[str, Any] = {
        "view": view, "user": user, "printed_at": vn_time(now), "font_regular": regular,
        "font_bold": bold, "face": face,
    }  # fmt: skip
    return _env().get_template("sheet.html").render(ctx)


@functools.lru_cache(maxsize=1)
def _fetcher_class() -> Any:
    from weasyprint.urls import URLFetcher

    allowed = set(font_urls())

    class OnlyFonts(URLFetcher):  # type: ignore[misc]
        def fetch(self, url: str, headers: Any = None) -> Any:
            if url.startswith("data:") or url in allowed:
                return super().fetch(url, headers)
            raise ValueError(f"the sheet may not load {url[:60]!r}")

    return OnlyFonts


def render_pdf(view: View, user: str, now: float) -> bytes:
    """The sheet of ``view`` as PDF bytes (blocking: ~0.1 s; run it in a thread)."""
    try:
        import weasyprint
    except (ImportError, OSError) as exc:  # OSError: pango missing
        raise SheetError(f"WeasyPrint cannot be loaded: {exc}") from exc
    html = sheet_html(view, user, now, face_png(view.row) if view.has_face else None)
    doc = weasyprint.HTML(string=html, base_url=str(TEMPLATES), url_fetcher=_fetcher_class()())
    pdf: bytes = doc.write_pdf()
    return pdf


def warm_up() -> None:
    """Import WeasyPrint ahead of the first print (the import takes 1-2 s)."""
    with contextlib.suppress(ImportError, OSError):
        import weasyprint  # noqa: F401


__all__ = ["SheetError", "font_urls", "render_pdf", "sheet_html", "warm_up"]
