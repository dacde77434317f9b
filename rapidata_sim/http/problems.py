"""Errors as the service sends them: RFC 9457 problem+json with an x-trace-id."""

from __future__ import annotations

import json
import secrets
from typing import Any

from starlette.responses import Response

TYPES = {
    400: "https://tools.ietf.org/html/rfc9110#section-15.5.1",
    401: "https://tools.ietf.org/html/rfc9110#section-15.5.2",
    403: "https://tools.ietf.org/html/rfc9110#section-15.5.4",
    404: "https://tools.ietf.org/html/rfc9110#section-15.5.5",
    405: "https://tools.ietf.org/html/rfc9110#section-15.5.6",
    409: "https://tools.ietf.org/html/rfc9110#section-15.5.10",
    413: "https://tools.ietf.org/html/rfc9110#section-15.5.14",
    415: "https://tools.ietf.org/html/rfc9110#section-15.5.16",
    500: "https://tools.ietf.org/html/rfc9110#section-15.6.1",
}


def new_trace_id() -> str:
    return secrets.token_hex(16)


def problem(status: int, title: str, detail: str | None = None, *, errors: dict[str, list[str]] | None = None,
            extra: dict[str, Any] | None = None, trace_id: str | None = None,
            headers: dict[str, str] | None = None) -> Response:
    trace_id = trace_id or new_trace_id()
    body: dict[str, Any] = {"type": TYPES.get(status, "about:blank"), "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if errors is not None:
        body["errors"] = errors
    if extra:
        body.update(extra)
    body["traceId"] = trace_id
    return Response(json.dumps(body), status_code=status, media_type="application/problem+json",
                    headers={"x-trace-id": trace_id, **(headers or {})})
