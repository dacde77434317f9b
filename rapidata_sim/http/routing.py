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
from urllib.parse import unquote_to_bytes

import pydantic
from starlette.datastructures import QueryParams
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from ..domain.base import Principal
from ..domain.definitions import RevisionConflict
from ..core.errors import SimError
from ..core.querying import DEFAULT_PAGE_SIZE, Filter, Query
from .inputs import int32
from .problems import new_trace_id, problem

if TYPE_CHECKING:
    from ..engine import Engine

log = logging.getLogger("rapidata_sim.http")

#: Body content types a JSON route accepts (as ASP.NET's JSON input formatter); others are 415.
JSON_TYPES = ("application/json", "text/json")


class BodyTooLarge(Exception):
    pass


@dataclass
class Call:
    """One request, as a handler sees it."""

    sim: "Engine"
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
    value = int32(raw)
    if value is None:
        errors.setdefault(name, []).append(f"The value '{raw[:100]}' is not valid for {name}.")
        return default
    return value


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
        from ..core.errors import ValidationFailed
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


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, or BodyTooLarge past ``limit`` bytes (``SimConfig.max_body_bytes``)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    body = b"".join(chunks)
    request._body = body  # Starlette replays it to request.form() (multipart) from here
    return body


class _Hazard(ValueError):
    pass


def json_hazard(raw: bytes) -> str | None:
    """What pydantic's parser lets through but the service's (System.Text.Json) rejects:
    duplicate keys, NaN/Infinity literals, nesting deeper than the interpreter can follow.
    None when there is none (malformed JSON is left to pydantic, which says where)."""

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: set[str] = set()
        for key, _ in items:
            if key in seen:
                raise _Hazard(f"The JSON object has the property '{key[:100]}' more than once.")
            seen.add(key)
        return dict(items)

    def constant(name: str) -> Any:
        raise _Hazard(f"'{name}' is not a valid JSON number.")

    try:
        json.loads(raw, object_pairs_hook=pairs, parse_constant=constant)
    except _Hazard as exc:
        return str(exc)
    except RecursionError:
        return "The JSON value is nested too deeply."
    except ValueError:
        return None
    return None


def query_problem(request: Request) -> dict[str, list[str]] | None:
    """Query parameters whose percent-decoded bytes are not UTF-8 (Starlette would silently
    turn them into U+FFFD, and a filter would then look for that character)."""
    raw = request.scope.get("query_string", b"")
    if b"%" not in raw and raw.isascii():
        return None
    errors: dict[str, list[str]] = {}
    for part in raw.split(b"&"):
        key, _, value = part.partition(b"=")
        for piece in (key, value):
            try:
                unquote_to_bytes(piece.replace(b"+", b" ")).decode("utf-8")
            except UnicodeDecodeError:
                name = unquote_to_bytes(key).decode("utf-8", "replace")[:100] or "$query"
                errors.setdefault(name, []).append("The query string is not valid UTF-8.")
    return errors or None


def _run(sim: "Engine", handler: Callable[[Call], Any], call: Call) -> Any:
    """The world's part of a request, on a worker thread: the event loop (every world's requests)
    never waits for one world's long advance or big read; the world's own store lock keeps its
    requests one at a time."""
    # Catch up in a transaction of its own: a handler that fails rolls back only its own
    # writes, never the firings due before it (the scheduler's queue has moved past them).
    sim.scheduler.sync()
    with sim.store.transaction():
        return handler(call)


def endpoint(sim: "Engine", handler: Callable[[Call], Any], *, body: type[pydantic.BaseModel] | None = None,
             raw_body: bool = False) -> Callable[[Request], Any]:
    """Wrap ``handler`` into a Starlette endpoint bound to ``sim``."""

    async def asgi_endpoint(request: Request) -> Response:
        trace_id = new_trace_id()
        try:
            auth = request.headers.get("authorization", "")
            token = auth[7:].strip() if auth[:7].lower() == "bearer " else None
            # Off the event loop, like the rest of the world's part: a world busy with a long request
            # holds its store's lock, and the loop serves every other world meanwhile.
            who = sim.identity.known(token) or await run_in_threadpool(sim.identity.authenticate, token)
            bad_query = query_problem(request)
            if bad_query:
                return problem(400, "One or more validation errors occurred.", errors=bad_query, trace_id=trace_id)
            limit = sim.config.max_body_bytes
            media = request.headers.get("content-type", "").split(";")[0].strip().lower()
            parsed: Any = None
            if body is not None:
                raw = await read_body(request, limit)
                if raw and media and media not in JSON_TYPES and not media.endswith("+json"):
                    return problem(415, "Unsupported Media Type",
                                   f"This route takes application/json, not '{media[:100]}'.", trace_id=trace_id)
                hazard = json_hazard(raw) if raw else None
                if hazard:
                    return problem(400, "One or more validation errors occurred.", errors={"$": [hazard]},
                                   trace_id=trace_id)
                try:
                    parsed = body.model_validate_json(raw or b"null", strict=True)
                except pydantic.ValidationError as exc:
                    return problem(400, "One or more validation errors occurred.", errors=pydantic_errors(exc),
                                   trace_id=trace_id)
            elif raw_body:
                parsed = request  # the handler reads it (multipart)
            call = Call(sim, who, dict(request.path_params), request.query_params, parsed, request)
            if raw_body:
                await read_body(request, limit)  # under the limit; request.form() replays it
                if media != "multipart/form-data":
                    return problem(415, "Unsupported Media Type",
                                   f"This route takes multipart/form-data, not '{media[:100] or 'no content type'}'.",
                                   trace_id=trace_id)
                try:
                    call.body = await request.form(max_part_size=limit)
                except HTTPException as exc:  # a malformed multipart body
                    return problem(400, "One or more validation errors occurred.",
                                  errors={"file": [str(exc.detail)]}, trace_id=trace_id)
            result = await run_in_threadpool(_run, sim, handler, call)
        except BodyTooLarge:
            return problem(413, "Payload Too Large",
                           f"Request bodies are limited to {sim.config.max_body_bytes} "
                           f"bytes (SimConfig.max_body_bytes).",
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
