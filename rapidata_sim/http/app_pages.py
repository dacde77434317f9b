"""The pages behind the links the SDK prints (``https://app.{environment}/...``), served as
the dashboard focused on one object.

With the environment ``sim@127.0.0.1:PORT`` a browser asks this server for them. Each answers
with the dashboard's page (``dashboard_page``), whose script shows what
``/_sim/dashboard/state?object=<path>`` describes for its viewer (the ``simToken`` cookie's
holder, else the default client). A middleware, not routes: the real pages are another host's.
See ``docs/dashboard.md``.
"""

from __future__ import annotations

import html
import json
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import unquote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import compile_path

from ..domain.base import Principal
from ..core.errors import NotFound, SimError
from .dashboard_page import shell
from .dashboard_ranking import benchmark, flow, leaderboard

if TYPE_CHECKING:
    from ..engine import Engine

COOKIE = "simToken"
LISTED = 20
Doc = dict[str, Any]


def _job_path(job: dict[str, Any]) -> str:
    return f"/audiences/{job['audience_id']}/job/{job['id']}"


def _link(text: str, href: str) -> dict[str, str]:
    return {"text": text, "href": href}


def _jobs_where(sim: "Engine", who: Principal, column: str, value: str) -> list[dict[str, str]]:
    rows = sim.store.select("jobs", f"deleted = 0 AND organization_id = ? AND {column} = ?",
                            [who.organization_id, value], order_by="created_at DESC, rowid DESC", limit=LISTED)
    return [_link(f"job {r['name']} ({r['state']})", _job_path(r)) for r in rows]


def definition(sim: "Engine", who: Principal, p: dict[str, str]) -> Doc:
    row = sim.definitions.get(p["definition_id"], who)
    signals = sim.signals.visible(who, job_definition_id=row["id"])
    return {"kind": "Job definition", "id": row["id"], "name": row["name"],
            "fields": [["type", row["definition_type"]], ["revisions", row["latest_revision"]],
                       ["created", row["created_at"]], ["owner", row["owner_mail"]]],
            "links": [*(_link(f"signal {s['name']}", f"/signals/{s['id']}") for s in signals),
                      *_jobs_where(sim, who, "definition_id", row["id"])]}


def job(sim: "Engine", who: Principal, p: dict[str, str]) -> Doc:
    row = sim.jobs.get(p["job_id"], who)
    if row["audience_id"] != p["audience_id"]:  # the SDK's link names the job's own audience
        raise NotFound(f"Job '{row['id']}' is not on audience '{p['audience_id']}'.")
    progress = sim.jobs.progress(who, row["id"])["completion_percentage"]
    fields = [["state", row["state"]], ["progress", f"{progress}%"], ["revision", row["revision_number"]],
              ["created", row["created_at"]], ["completed", row["completed_at"]],
              ["failed", row["failed_at"] and f"{row['failed_at']}: {row['failure_message']}"]]
    if row["state"] == "Completed":
        fields.append(["summary", json.dumps(sim.results.document(row).get("summary"))])
    audience = sim.store.get("audiences", row["audience_id"])
    return {"kind": "Job", "id": row["id"], "name": row["name"], "fields": [f for f in fields if f[1] is not None],
            "links": [_link("its job definition", f"/definitions/{row['definition_id']}"),
                      _link(f"audience {audience['name'] if audience else row['audience_id']}",
                            f"/audiences/{row['audience_id']}")]}


def audience(sim: "Engine", who: Principal, p: dict[str, str]) -> Doc:
    row = sim.audiences.get(p["audience_id"], who)
    return _audience(sim, who, row)


def unlisted(sim: "Engine", who: Principal, p: dict[str, str]) -> Doc:
    """``/label/{id}``: the page annotators of an unlisted audience (``ula_``) get."""
    return _audience(sim, who, sim.audiences.get_unlisted(p["audience_id"], who))


def _audience(sim: "Engine", who: Principal, row: dict[str, Any]) -> Doc:
    return {"kind": "Audience", "id": row["id"], "name": row["name"],
            "fields": [["status", row["status"]], ["qualified labelers", row["qualified_user_count"]],
                       ["public", row["is_public"]], ["description", row["description"] or ""]],
            "links": _jobs_where(sim, who, "audience_id", row["id"])}


def unlisted_job(sim: "Engine", who: Principal, p: dict[str, str]) -> Doc:
    sim.audiences.get_unlisted(p["audience_id"], who)
    return job(sim, who, p)


def signal(sim: "Engine", who: Principal, p: dict[str, str]) -> Doc:
    row = sim.signals.get(who, p["signal_id"])
    counts = sim.counters(row["id"], upcoming=1)
    runs = sim.store.select("signal_runs", "signal_id = ? AND audience_job_id IS NOT NULL", [row["id"]],
                            order_by="started_at DESC, rowid DESC", limit=LISTED)
    jobs = [(r["started_at"], sim.store.get("jobs", r["audience_job_id"])) for r in runs]
    return {"kind": "Signal", "id": row["id"], "name": row["name"],
            "fields": [["every", f"{row['interval_seconds'] / 3600:g} h"], ["paused", row["is_paused"]],
                       ["next run", row["next_run_at"]], ["last run", row["last_run_at"]],
                       ["fired", counts["fired"]["Scheduled"] + counts["fired"]["Manual"]],
                       ["skipped", json.dumps(counts["skipped"])], ["missed", counts["missed"]]],
            "links": [_link("its job definition", f"/definitions/{row['job_definition_id']}"),
                      _link("its audience", f"/audiences/{row['audience_id']}"),
                      *(_link(f"job of the run at {at} ({j['state']})", _job_path(j)) for at, j in jobs if j)]}


def validation_set(sim: "Engine", who: Principal, p: dict[str, str]) -> Doc:
    row = sim.validation_sets.get(p["validation_set_id"], who)
    summary = sim.validation_sets.summary(row["id"])
    rapids = sim.validation_sets.all_rapids(row["id"])
    return {"kind": "Validation set", "id": row["id"], "name": row["name"],
            "fields": [["tasks", len(rapids)], ["modalities", ", ".join(summary["modality"]) or "none"],
                       ["dimensions", ", ".join(row["dimensions"] or []) or "default"],
                       ["alerts on a wrong answer", row["should_alert"]], ["created", row["created_at"]],
                       ["owner", row["owner_mail"]]],
            "links": []}


#: Every app path SDK 3.27.1 links to (and where), then the ones only the dashboard links to.
PAGES: list[tuple[str, Callable[["Engine", Principal, dict[str, str]], Doc]]] = [
    ("/definitions/{definition_id}", definition),  # config/_qr_preview.py, RapidataJobDefinition
    ("/audiences/{audience_id}/job/{job_id}", job),  # RapidataJob.job_details_page
    ("/label/{audience_id}", unlisted),  # RapidataUnlistedAudience.link
    ("/label/{audience_id}/job/{job_id}", unlisted_job),  # RapidataUnlistedAudience.get_job_link
    ("/validation-set/detail/{validation_set_id}", validation_set),  # RapidataValidationSet
    ("/mri/benchmarks/{benchmark_id}", benchmark),  # RapidataBenchmark
    ("/mri/benchmarks/{benchmark_id}/leaderboard/{leaderboard_id}", leaderboard),  # RapidataLeaderboard
    ("/audiences/{audience_id}", audience),
    ("/signals/{signal_id}", signal),
    ("/flows/{flow_id}", flow),  # the dashboard's flow links (the SDK prints none)
]
_COMPILED = [(compile_path(template)[0], describe) for template, describe in PAGES]


def describe(sim: "Engine", who: Principal, path: str) -> Doc:
    """The object at app path ``path`` as ``who`` may see it; NotFound otherwise."""
    for pattern, describe_one in _COMPILED:
        m = pattern.match(path)
        if m:
            return describe_one(sim, who, m.groupdict())  # the ASGI path is decoded already
    raise NotFound(f"No page at {path}.")


def missing(exc: NotFound, who: Principal | None) -> str:
    """What a page says when its object is not there for ``who``, and what to do about it."""
    where = f"the world of client {who.client_id}" if who and who.client_id else "this world"
    return f"{exc.detail} Looked in {where}; sign in above with the credentials that made it."


def is_page(path: str) -> bool:
    return any(pattern.match(path) for pattern, _ in _COMPILED)


def cookie_token(scope: dict[str, Any]) -> str:
    """The dashboard's ``simToken`` cookie on a GET of a page, else "": no other request is routed
    by a cookie, so nothing that changes a world can be driven by one."""
    if scope.get("method") not in ("GET", "HEAD") or not is_page(scope.get("path", "")):
        return ""
    for name, value in scope.get("headers", []):
        if name.lower() == b"cookie":
            for part in value.decode("latin-1").split(";"):
                key, _, token = part.strip().partition("=")
                if key == COOKIE:
                    return unquote(token)
    return ""


def _viewer(sim: "Engine", request: Request) -> Principal | None:
    """Whoever the cookie says, else the world's default client; None if neither."""
    token = request.cookies.get(COOKIE)
    if token:
        try:
            return sim.identity.authenticate(unquote(token))
        except SimError:
            pass
    client = sim.default_client
    return sim.identity.principal(client["user"], client_id=client["id"]) if client else None


def page(sim: "Engine", request: Request) -> HTMLResponse:
    """The dashboard on an object's path: 200 if the viewer may see the object, else 404."""
    who = _viewer(sim, request)
    try:
        if who is None:
            raise NotFound("This world has no default client.")
        sim.scheduler.sync()
        with sim.store.transaction():
            found = describe(sim, who, request.url.path)
    except NotFound as exc:
        return HTMLResponse(shell(f"<p class='missing'>{html.escape(missing(exc, who))}</p>"), status_code=404)
    return HTMLResponse(shell(f"<p>Loading {html.escape(found['kind'].lower())} "
                              f"<code>{html.escape(found['id'])}</code> ...</p>"))


class PagesMiddleware:
    """The app host's pages in front of the API (whose paths they do not share): a GET of a
    page path is answered here, everything else passes to the API's routes."""

    def __init__(self, app: Any, sim: "Engine") -> None:
        self.app, self.sim = app, sim

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD") and is_page(scope["path"]):
            # Off the event loop: the world's store may be busy with a long request.
            response = await run_in_threadpool(page, self.sim, Request(scope, receive))
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
