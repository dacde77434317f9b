"""The auth host's routes: OAuth client credentials and OIDC userinfo."""

from __future__ import annotations

import base64
import binascii
import json
from urllib.parse import parse_qs, unquote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..domain.identity import OAuthError
from ..core.errors import Unauthorized
from .problems import problem
from .routing import BodyTooLarge, json_response, read_body


def oauth_error(code: str, description: str, status: int = 400) -> Response:
    return Response(json.dumps({"error": code, "error_description": description}), status_code=status,
                    media_type="application/json", headers={"Cache-Control": "no-store"})


def client_credentials(authorization: str, form: dict[str, list[str]]) -> tuple[str, str] | None:
    """Client id and secret from HTTP Basic (``client_secret_basic``) or the form (``_post``)."""
    if authorization[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        cid, sep, secret = decoded.partition(":")
        return (unquote(cid), unquote(secret)) if sep else None
    if "client_id" in form and "client_secret" in form:  # client_secret_post
        return form["client_id"][0], form["client_secret"][0]
    return None


def token_endpoint(sim):
    async def token(request: Request) -> Response:
        limit = sim.config.max_body_bytes
        try:
            raw = await read_body(request, limit)
        except BodyTooLarge:
            return oauth_error("invalid_request", f"Request bodies are limited to {limit} bytes.", status=413)
        try:
            form = parse_qs(raw.decode(), keep_blank_values=True)
        except UnicodeDecodeError:
            return oauth_error("invalid_request", "The request body is not valid form data.")
        grant = (form.get("grant_type") or [""])[0]
        if grant != "client_credentials":
            return oauth_error("unsupported_grant_type", "Only the client_credentials grant is supported.")
        creds = client_credentials(request.headers.get("authorization", ""), form)
        if creds is None:
            return oauth_error("invalid_client", "Client authentication is required.", status=401)
        def issue() -> dict:
            with sim.store.transaction():
                return sim.identity.issue_token(*creds)

        try:  # off the event loop: the world's store may be busy with a long request
            body = await run_in_threadpool(issue)
        except OAuthError as exc:
            return oauth_error(exc.code, exc.description, exc.status)
        return Response(json.dumps(body), media_type="application/json", headers={"Cache-Control": "no-store"})

    return token


def userinfo_endpoint(sim):
    async def userinfo(request: Request) -> Response:
        header = request.headers.get("authorization", "")
        token = header[7:].strip() if header[:7].lower() == "bearer " else None
        try:
            who = await run_in_threadpool(sim.identity.authenticate, token)
        except Unauthorized as exc:
            return problem(401, "Unauthorized", exc.detail, headers={"WWW-Authenticate": "Bearer"})
        return json_response(sim.identity.userinfo(who))

    return userinfo


async def bridge_token(request: Request) -> Response:
    # 404 on purpose: the SDK then fails fast instead of opening a browser login.
    return problem(404, "Not Found", "Browser login is not available on rapidata-sim; use client credentials.")


def routes(sim) -> list[Route]:
    return [
        Route("/connect/token", token_endpoint(sim), methods=["POST"]),
        Route("/connect/userinfo", userinfo_endpoint(sim), methods=["GET", "POST"]),
        Route("/identity/bridge-token", bridge_token, methods=["GET", "POST"]),
    ]
