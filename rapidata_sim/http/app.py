"""The ASGI app for one world: every route of the SDK's service, on one host.

The SDK calls ``api.{env}`` and ``auth.{env}``; with ``sim@127.0.0.1:PORT`` both hosts are
this server (``sim@`` is URL userinfo), and the paths do not overlap, so routing is by path alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Router, get_route_path
from starlette.types import Receive, Scope, Send

from . import (app_pages, assets, audiences, auth, benchmarks, billing, control, dashboard, faults, flows, jobs, observe,
               signals, validation_sets)
from .polling import PollAdvanceMiddleware
from .problems import problem

if TYPE_CHECKING:
    from ..engine import Engine


async def _http_error(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 500)
    titles = {404: "Not Found", 405: "Method Not Allowed"}
    detail = f"No route for {request.method} {request.url.path}." if status in (404, 405) else None
    return problem(status, titles.get(status, "Error"), detail)


async def _server_error(request: Request, exc: Exception) -> Response:
    return problem(500, "Internal Server Error", "An unexpected error occurred.")


class SegmentRouter(Router):
    """Starlette's ``Router`` with its routes grouped by their first path segment: a request is
    matched against its own group (one dict lookup) instead of all ~75 routes in turn.

    The answers are the same: every route that could match a path shares its first segment, so
    a 405 or a slash redirect is decided within the group; a segment no route has falls back to
    the whole list (its 404). A route whose first segment is a parameter turns grouping off."""

    def __init__(self, routes: list[BaseRoute]) -> None:
        super().__init__(routes=routes)
        groups: dict[str, list[BaseRoute]] = {}
        for route in routes:
            first = getattr(route, "path", "").split("/", 2)[1:2]
            if not first or "{" in first[0]:
                groups = {}
                break
            groups.setdefault(first[0], []).append(route)
        self.groups = {segment: Router(routes=members) for segment, members in groups.items()}

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.groups:
            path = get_route_path(scope)
            group = self.groups.get(path.split("/", 2)[1] if path.startswith("/") else "")
            if group is not None:
                scope.setdefault("router", self)
                await group.app(scope, receive, send)
                return
        await super().app(scope, receive, send)


def create_app(sim: "Engine") -> Starlette:
    routes = [*auth.routes(sim), *audiences.routes(sim), *assets.routes(sim), *jobs.routes(sim),
              *signals.routes(sim), *flows.routes(sim), *validation_sets.routes(sim), *billing.routes(sim),
              *control.routes(sim), *observe.routes(sim), *faults.routes(sim), *dashboard.routes(sim),
              *benchmarks.routes(sim)]
    app = Starlette(routes=routes, exception_handlers={HTTPException: _http_error, Exception: _server_error},
                    middleware=[Middleware(app_pages.PagesMiddleware, sim=sim),
                                Middleware(faults.HttpFaultMiddleware, sim=sim),
                                Middleware(PollAdvanceMiddleware, sim=sim)])
    app.router = SegmentRouter(routes)  # before the first request builds the middleware stack
    app.state.sim = sim
    return app
