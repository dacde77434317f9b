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

from . import app_pages, assets, audiences, auth, billing, control, dashboard, faults, jobs, observe, signals, validation_sets
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


def create_app(sim: "Engine") -> Starlette:
    routes = [*auth.routes(sim), *audiences.routes(sim), *assets.routes(sim), *jobs.routes(sim),
              *signals.routes(sim), *validation_sets.routes(sim), *billing.routes(sim), *control.routes(sim), *observe.routes(sim), *faults.routes(sim),
              *dashboard.routes(sim)]
    app = Starlette(routes=routes, exception_handlers={HTTPException: _http_error, Exception: _server_error},
                    middleware=[Middleware(app_pages.PagesMiddleware, sim=sim),
                                Middleware(faults.HttpFaultMiddleware, sim=sim)])
    app.state.sim = sim
    return app
