"""The console's ASGI application (Starlette): routes, static files, start and stop.

    app = create_app(ConsoleConfig(db="ward.sqlite"))     # run it with station.ward.console.server

Pages are rendered on the server (Jinja2, autoescaped) and made live with htmx and its
server-sent-events extension, both vendored in ``static/vendor`` (ward LANs have no
internet). The officer's pages are in :mod:`.officer` and :mod:`.search`, the admin's in
:mod:`.admin` and :mod:`.trust`, the login in :mod:`.auth`.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from station.ward.console import admin, auth, officer, search, trust
from station.ward.console.context import Console, ConsoleConfig
from station.ward.console.security import SecurityHeaders

HERE = Path(__file__).parent


def create_app(cfg: ConsoleConfig) -> Starlette:
    console = Console(cfg)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await console.hub.start()
        try:
            yield
        finally:
            await console.hub.close()
            console.pool.close()

    routes = [
        *auth.routes(),
        *officer.routes(),
        *search.routes(),
        *admin.routes(),
        *trust.routes(),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(SecurityHeaders, https=cfg.https)],
        lifespan=lifespan,
    )
    app.state.console = console
    return app


__all__ = ["Console", "ConsoleConfig", "create_app"]
