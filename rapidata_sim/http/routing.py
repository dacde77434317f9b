"""How a route becomes a domain call: auth, body, query, one transaction, errors.

A handler is a plain function ``(call: Call) -> dict | None | Response``:
a dict is sent as 200 JSON, None as 204. Everything else — the bearer token,
JSON parsing and validation, paging arguments, the transaction, turning domain
errors into problem+json — happens here, once.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

import pydantic
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response

from ..domain.base import Principal
from ..domain.definitions import RevisionConflict
from ..errors import SimError
from ..querying import DEFAULT_PAGE_SIZE, Filter, Query
from .problems import new_trace_id, problem

if TYPE_CHECKING:
    from ..simulator import Simulator

log = logging.getLogger("rapidata_sim.http")

#: Largest request body accepted (JSON or upload), in bytes: 413 above it.
MAX_BODY_BYTES = 32 * 1024 * 1024


class BodyTooLarge(Exception):
    pass


@dataclass
class Call:
    """One request, as a handler sees it."""

    sim: "Simulator"
    who: Principal
    path: dict[str, str]
    query: QueryParams
    body: Any
    request: Request

    def list_query(self) -> Query:
        return parse_list_query(self.query)


def json_response(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data, separators=(",", ":")), status_code=status, media_type="application/json")


def paged(page: Any, render: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
    """The service's ``…PagedResultOfOutput`` wrapper."""
    return {"total": page.total, "page": page.page, "pageSize": page.page_size, "totalPages": page.total_pages,
            "items": [render(row) for row in page.items]}


def _int_param(query: QueryParams, name: str, default: int, errors: dict[str, list[str]]) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        errors.setdefault(name, []).append(f"The value '{raw}' is not valid for {name}.")
        return default


def parse_list_query(query: QueryParams) -> Query:
    """``page``, ``page_size``, repeated ``sort``, deepObject ``field[op]`` filters, ``logic``."""
    errors: dict[str, list[str]] = {}
    page = _int_param(query, "page", 1, errors)
    page_size = _int_param(query, "page_size", DEFAULT_PAGE_SIZE, errors)
    sort = [s for value in query.getlist("sort") for s in value.split(",") if s]
    filters: dict[tuple[str, str], list[str]] = {}
    for key, value in query.multi_items():
        if "[" in key:
            if not key.endswith("]") or key.count("[") != 1:
                errors.setdefault(key, []).append(f"'{key}' is not a valid filter; use field[operator].")
                continue
            name, op = key[:-1].split("[", 1)
            filters.setdefault((name, op), []).append(value)
    if errors:
        from ..errors import ValidationFailed
        raise ValidationFailed(errors)
    return Query(page=page, page_size=page_size, sort=sort, logic=query.get("logic", "and"),
                 filters=[Filter(name, op, vals if op == "in" else (vals[0] if len(vals) == 1 else vals))
                          for (name, op), vals in filters.items()])


def pydantic_errors(exc: pydantic.ValidationError) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for err in exc.errors():
        if err["type"] == "json_invalid":
            errors.setdefault("$", []).append(f"The JSON value could not be parsed: {err['msg']}")
            continue
        loc = ".".join(str(p) for p in err["loc"]) or "$"
        errors.setdefault(loc, []).append(err["msg"])
    return errors


async def read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise BodyTooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def endpoint(sim: "Simulator", handler: Callable[[Call], Any], *, body: type[pydantic.BaseModel] | None = None,
             raw_body: bool = False) -> Callable[[Request], Any]:
    """Wrap ``handler`` into a Starlette endpoint bound to ``sim``."""

    async def asgi_endpoint(request: Request) -> Response:
        trace_id = new_trace_id()
        try:
            auth = request.headers.get("authorization", "")
            token = auth[7:].strip() if auth[:7].lower() == "bearer " else None
            who = sim.identity.authenticate(token)
            parsed: Any = None
            if body is not None:
                raw = await read_body(request)
                try:
                    parsed = body.model_validate_json(raw or b"null", strict=True)
                except pydantic.ValidationError as exc:
                    return problem(400, "One or more validation errors occurred.", errors=pydantic_errors(exc),
                                   trace_id=trace_id)
            elif raw_body:
                parsed = request  # the handler reads it (multipart)
            call = Call(sim, who, dict(request.path_params), request.query_params, parsed, request)
            if raw_body:
                form = await request.form(max_part_size=MAX_BODY_BYTES)
                call.body = form
            with sim.store.transaction():
                sim.scheduler.sync()
                result = handler(call)
        except BodyTooLarge:
            return problem(413, "Payload Too Large", f"Request bodies are limited to {MAX_BODY_BYTES} bytes.",
                           trace_id=trace_id)
        except RevisionConflict as exc:
            return problem(409, exc.title, exc.detail, trace_id=trace_id,
                           extra={"latestRevisionNumber": exc.latest_revision_number})
        except SimError as exc:
            errors = getattr(exc, "errors", None)
            return problem(exc.status, exc.title, exc.detail, errors=errors, trace_id=trace_id)
        except Exception:  # a bug: still the service's shape, and logged
            log.exception("unhandled error in %s %s (trace %s)", request.method, request.url.path, trace_id)
            return problem(500, "Internal Server Error", "An unexpected error occurred.", trace_id=trace_id)
        if result is None:
            return Response(status_code=204, headers={"x-trace-id": trace_id})
        if isinstance(result, Response):
            return result
        return json_response(result)

    return asgi_endpoint
