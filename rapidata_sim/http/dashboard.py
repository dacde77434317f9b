"""A web dashboard under ``/_sim/dashboard``: the world's clock, signals, runs and jobs, live.

The page is plain HTML with a small script. It holds no data itself: the script
signs in with client credentials (prefilled with the seed's default client), so
a browser sees exactly the world those credentials choose, then polls
``/_sim/dashboard/state`` (one JSON document, bearer token required) every
second and can advance the clock through ``/_sim/clock/advance``.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from .routing import Call, endpoint

RUNS_SHOWN = 30
JOBS_SHOWN = 20


def state(call: Call) -> dict[str, Any]:
    """What the page shows, in one read: clock, signals with their recent runs, recent jobs."""
    sim, who = call.sim, call.who
    nxt = sim.next_event_at()
    signals = []
    rows = sim.store.select("signals", "deleted = 0 AND (owner_id = ? OR (is_public = 1 AND organization_id = ?))",
                            [who.user_id, who.organization_id], order_by="created_at")
    for sig in rows:
        runs = sim.store.select("signal_runs", "signal_id = ?", [sig["id"]], order_by="started_at DESC, rowid DESC",
                                limit=RUNS_SHOWN)
        counters = sim.counters(sig["id"], upcoming=3)
        signals.append({
            "id": sig["id"], "name": sig["name"], "intervalHours": sig["interval_seconds"] / 3600,
            "isPaused": sig["is_paused"], "nextRunAt": sig["next_run_at"], "lastRunAt": sig["last_run_at"],
            "fired": counters["fired"], "skipped": counters["skipped"], "missed": counters["missed"],
            "upcoming": counters["upcoming"],
            "runs": [{"startedAt": r["started_at"], "source": r["trigger_source"], "status": r["status"],
                      "skippedReason": r["skipped_reason"], "jobId": r["audience_job_id"]} for r in runs],
            "missedAt": [e["at"] for e in sim.store.select(
                "events", "kind = 'signal.missed' AND subject = ?", [sig["id"]], order_by="seq DESC",
                limit=RUNS_SHOWN)],
        })
    jobs = []
    for job in sim.store.select("jobs", "deleted = 0 AND organization_id = ?", [who.organization_id],
                                order_by="created_at DESC, rowid DESC", limit=JOBS_SHOWN):
        progress = sim.jobs.progress(who, job["id"])
        summary = None
        if job["state"] == "Completed":
            summary = sim.results.document(job).get("summary")
        jobs.append({"id": job["id"], "name": job["name"], "state": job["state"], "createdAt": job["created_at"],
                     "completedAt": job["completed_at"], "progress": progress["completion_percentage"],
                     "summary": summary})
    return {"now": sim.signals.now(), "nextEventAt": nxt.isoformat() if nxt else None, "speed": sim.clock.speed,
            "seed": sim.seed, "signals": signals, "jobs": jobs}


async def page(request: Request) -> HTMLResponse:
    return HTMLResponse(PAGE)


def routes(sim) -> list[Route]:
    return [
        Route("/_sim/dashboard", page, methods=["GET"]),
        Route("/_sim/dashboard/state", endpoint(sim, state), methods=["GET"]),
    ]


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>rapidata-sim</title>
<style>
 body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}
 h1{font-size:1.3em} h2{font-size:1.1em;margin-top:1.5em}
 .run{display:inline-block;width:1.1em;height:1.1em;margin:1px;border-radius:3px;vertical-align:middle}
 .Completed{background:#2e7d32}.Running{background:#1976d2}.Failed{background:#c62828}
 .Skipped{background:#f9a825}.Pending{background:#999}.Manual{outline:2px solid #6a1b9a}
 .missed{background:repeating-linear-gradient(45deg,#bbb,#bbb 3px,#fff 3px,#fff 6px)}
 table{border-collapse:collapse} td,th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:left}
 #login{margin-bottom:1em} button{margin-right:.4em}
</style></head>
<body>
<h1>rapidata-sim</h1>
<form id="login">client <input id="cid" value="rapidata-sim" size="14">
 secret <input id="csecret" value="rapidata-sim-secret" size="20" type="password">
 <button type="submit">show my world</button></form>
<div id="clock">not signed in</div>
<div id="controls" hidden>
 <button data-advance="3600">advance 1 hour</button><button data-advance="86400">advance 1 day</button>
 <button data-advance="604800">advance 1 week</button></div>
<h2>Signals</h2><div id="signals"></div>
<h2>Jobs</h2><table id="jobs"></table>
<p><small>Runs, newest first: <span class="run Completed"></span> completed
<span class="run Running"></span> running <span class="run Skipped"></span> skipped
<span class="run Failed"></span> failed <span class="run missed"></span> missed in an outage;
a purple ring marks a manual trigger.</small></p>
<script>
let token = sessionStorage.getItem("simToken");
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? "").replace(/[&<>"]/g, (c) => ({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;"}[c]));
async function signIn(e) {
  if (e) e.preventDefault();
  const body = new URLSearchParams({grant_type: "client_credentials"});
  const r = await fetch("/connect/token", {method: "POST", body,
    headers: {Authorization: "Basic " + btoa($("cid").value + ":" + $("csecret").value)}});
  if (!r.ok) { $("clock").textContent = "sign-in failed"; return; }
  token = (await r.json()).access_token; sessionStorage.setItem("simToken", token); refresh();
}
async function api(method, path, body) {
  const r = await fetch(path, {method, headers: {Authorization: "Bearer " + token,
    "Content-Type": "application/json"}, body: body ? JSON.stringify(body) : undefined});
  if (r.status === 401) { token = null; throw new Error("signed out"); }
  return r.json();
}
function render(s) {
  $("controls").hidden = false;
  $("clock").innerHTML = "<b>virtual now</b> <span id='now'>" + esc(s.now) + "</span> &middot; next event " +
    esc(s.nextEventAt || "none") + " &middot; speed " + esc(s.speed) + " &middot; seed " + esc(s.seed);
  $("signals").innerHTML = s.signals.map((g) => "<div class='signal' data-id='" + esc(g.id) + "'><b>" +
    esc(g.name) + "</b> every " + esc(g.intervalHours) + " h" + (g.isPaused ? " (paused)" : "") +
    " &middot; fired " + (g.fired.Scheduled + g.fired.Manual) + " &middot; skipped " +
    esc(JSON.stringify(g.skipped)) + " &middot; missed " + g.missed + " &middot; next " + esc(g.nextRunAt) +
    "<div class='runs'>" + g.runs.map((r) => "<span class='run " + esc(r.status) + (r.source === "Manual" ?
    " Manual" : "") + "' data-status='" + esc(r.status) + "' title='" + esc(r.startedAt + " " + r.source + " " +
    r.status + (r.skippedReason ? " (" + r.skippedReason + ")" : "") + (r.jobId ? " " + r.jobId : "")) +
    "'></span>").join("") + g.missedAt.map((m) => "<span class='run missed' data-status='Missed' title='missed " +
    esc(m) + "'></span>").join("") + "</div></div>").join("") || "no signals yet";
  $("jobs").innerHTML = "<tr><th>job</th><th>state</th><th>progress</th><th>created</th><th>summary</th></tr>" +
    s.jobs.map((j) => "<tr><td>" + esc(j.name) + " <small>" + esc(j.id) + "</small></td><td>" + esc(j.state) +
    "</td><td>" + esc(j.progress) + "%</td><td>" + esc(j.createdAt) + "</td><td>" +
    esc(j.summary ? JSON.stringify(j.summary) : "") + "</td></tr>").join("");
}
async function refresh() {
  if (!token) return;
  try { render(await api("GET", "/_sim/dashboard/state")); } catch (e) { $("clock").textContent = e.message; }
}
$("login").addEventListener("submit", signIn);
document.querySelectorAll("[data-advance]").forEach((b) => b.addEventListener("click", async () => {
  await api("POST", "/_sim/clock/advance", {seconds: Number(b.dataset.advance)}); refresh(); }));
setInterval(refresh, 1000);
if (token) refresh(); else signIn();
</script></body></html>
"""
