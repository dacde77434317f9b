"""The dashboard's one HTML page (``shell``): plain HTML and a small script, no world's data.

Served at ``/_sim/dashboard`` (``dashboard``) and, focused on one object, behind the SDK's
links (``app_pages``); the script reads ``/_sim/dashboard/state``. See ``docs/dashboard.md``.
"""

from __future__ import annotations


def shell(focus: str = "") -> str:
    """The page, with ``focus`` (HTML, no world's data) where an object's details will show."""
    return PAGE.replace("<!--focus-->", focus, 1)




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
 #focus{border:1px solid #bbb;border-radius:4px;padding:0 1em;margin-bottom:1em} #focus:empty{display:none}
 .missing{color:#c62828}
</style></head>
<body>
<h1>rapidata-sim</h1>
<form id="login">client <input id="cid" value="rapidata-sim" size="14">
 secret <input id="csecret" value="rapidata-sim-secret" size="20" type="password">
 <button type="submit">show my world</button></form>
<div id="focus"><!--focus--></div>
<div id="clock">not signed in</div>
<div id="controls" hidden>
 <button data-advance="3600">advance 1 hour</button><button data-advance="86400">advance 1 day</button>
 <button data-advance="604800">advance 1 week</button></div>
<h2>Signals</h2><div id="signals"></div>
<h2>Jobs</h2><table id="jobs"></table>
<h2>Flows</h2><table id="flows"></table>
<h2>Leaderboards</h2><div id="leaderboards"></div>
<p><small>Runs, newest first: <span class="run Completed"></span> completed
<span class="run Running"></span> running <span class="run Skipped"></span> skipped
<span class="run Failed"></span> failed <span class="run missed"></span> missed in an outage;
a purple ring marks a manual trigger.</small></p>
<script>
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? "").replace(/[&<>"']/g,
  (c) => ({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;","'":"&#39;"}[c]));
const cookie = (name) => decodeURIComponent((document.cookie.split("; ").find((c) => c.startsWith(name + "=")) ||
  "").slice(name.length + 1));
const keep = (name, value) => { document.cookie = name + "=" + encodeURIComponent(value) +
  "; path=/; SameSite=Strict; Secure"; };
// On a page the SDK links to (/definitions/jd_..., ...) the object at that path is shown on top.
const OBJECT = location.pathname.startsWith("/_sim/dashboard") ? null : location.pathname;
let token = cookie("simToken") || null;
if (cookie("simClient")) $("cid").value = cookie("simClient");
async function signIn(e) {
  if (e) e.preventDefault();
  const body = new URLSearchParams({grant_type: "client_credentials"});
  const r = await fetch(location.origin + "/connect/token", {method: "POST", body,
    headers: {Authorization: "Basic " + btoa($("cid").value + ":" + $("csecret").value)}});
  if (!r.ok) { $("clock").textContent = "sign-in failed"; return; }
  token = (await r.json()).access_token; keep("simToken", token); keep("simClient", $("cid").value); refresh();
}
// location.origin, never a relative path: the SDK's links carry userinfo (app.sim@), which fetch refuses.
async function api(method, path, body) {
  const r = await fetch(location.origin + path, {method, headers: {Authorization: "Bearer " + token,
    "Content-Type": "application/json"}, body: body ? JSON.stringify(body) : undefined});
  if (r.status === 401) { token = null; keep("simToken", ""); throw new Error("signed out: sign in again"); }
  return r;
}
const href = (path) => location.origin + path;
function render(s) {
  $("controls").hidden = false;
  $("clock").innerHTML = "<b>virtual now</b> <span id='now'>" + esc(s.now) + "</span> &middot; next event " +
    esc(s.nextEventAt || "none") + " &middot; speed " + esc(s.speed) + " &middot; seed " + esc(s.seed) +
    " &middot; world of client " + esc(cookie("simClient"));
  $("signals").innerHTML = s.signals.map((g) => "<div class='signal' data-id='" + esc(g.id) + "'><b><a href='" +
    esc(href("/signals/" + g.id)) + "'>" + esc(g.name) + "</a></b> every " + esc(g.intervalHours) + " h" +
    (g.isPaused ? " (paused)" : "") +
    " &middot; fired " + (g.fired.Scheduled + g.fired.Manual) + " &middot; skipped " +
    esc(JSON.stringify(g.skipped)) + " &middot; missed " + g.missed + " &middot; next " + esc(g.nextRunAt) +
    "<div class='runs'>" + g.runs.map((r) => "<span class='run " + esc(r.status) + (r.source === "Manual" ?
    " Manual" : "") + "' data-status='" + esc(r.status) + "' title='" + esc(r.startedAt + " " + r.source + " " +
    r.status + (r.skippedReason ? " (" + r.skippedReason + ")" : "") + (r.jobId ? " " + r.jobId : "")) +
    "'></span>").join("") + g.missedAt.map((m) => "<span class='run missed' data-status='Missed' title='missed " +
    esc(m) + "'></span>").join("") + "</div></div>").join("") || "no signals yet";
  $("jobs").innerHTML = "<tr><th>job</th><th>state</th><th>progress</th><th>created</th><th>summary</th></tr>" +
    s.jobs.map((j) => "<tr><td><a href='" + esc(href("/audiences/" + j.audienceId + "/job/" + j.id)) + "'>" +
    esc(j.name) + "</a> <small>" + esc(j.id) + "</small></td><td>" + esc(j.state) +
    "</td><td>" + esc(j.progress) + "%</td><td>" + esc(j.createdAt) + "</td><td>" +
    esc(j.summary ? JSON.stringify(j.summary) : "") + "</td></tr>").join("");
  $("flows").innerHTML = s.flows.length ? "<tr><th>flow</th><th>type</th><th>items</th><th>created</th></tr>" +
    s.flows.map((f) => "<tr class='flow' data-id='" + esc(f.id) + "'><td><a href='" + esc(href("/flows/" + f.id)) +
    "'>" + esc(f.name) + "</a> <small>" + esc(f.id) + "</small></td><td>" + esc(f.type) + "</td><td>" +
    esc(Object.entries(f.items).map(([k, n]) => n + " " + k).join(", ") || "none") + "</td><td>" +
    esc(f.createdAt) + "</td></tr>").join("") : "<tr><td>no flows yet</td></tr>";
  $("leaderboards").innerHTML = s.leaderboards.map((b) => "<div class='leaderboard' data-id='" + esc(b.id) +
    "'><b><a href='" + esc(href("/mri/benchmarks/" + b.benchmarkId + "/leaderboard/" + b.id)) + "'>" +
    esc(b.name) + "</a></b> of <a href='" + esc(href("/mri/benchmarks/" + b.benchmarkId)) + "'>" +
    esc(b.benchmarkName) + "</a> &middot; runs " + b.runs.total + " (" + b.runs.running + " running)<ol>" +
    b.standings.map((p) => "<li class='standing'>" + esc(p.name) + " &middot; " + (p.score === null ?
    "no score" : "Elo " + esc(p.score)) + " &middot; " + esc(p.wins) + " wins of " + esc(p.totalMatches) +
    (p.isEvaluating ? " (evaluating)" : "") + (p.isDisabled ? " (disabled)" : "") + "</li>").join("") +
    "</ol></div>").join("") || "no leaderboards yet";
}
function renderObject(o) {
  if (o.missing) {
    $("focus").innerHTML = "<p class='missing'>" + esc(o.missing) + "</p>";
    return;
  }
  $("focus").innerHTML = "<h2>" + esc(o.kind) + " <span id='object-name'>" + esc(o.name) +
    "</span></h2><p><code id='object-id'>" + esc(o.id) + "</code></p><table>" + o.fields.map(([k, v]) =>
    "<tr><th>" + esc(k) + "</th><td>" + esc(v) + "</td></tr>").join("") + "</table><ul>" + o.links.map((l) =>
    "<li><a href='" + esc(href(l.href)) + "'>" + esc(l.text) + "</a></li>").join("") + "</ul>";
}
async function refresh() {
  if (!token) return;
  try {
    const s = await (await api("GET", "/_sim/dashboard/state" + (OBJECT ? "?object=" +
      encodeURIComponent(decodeURIComponent(OBJECT)) : ""))).json();
    render(s);
    if (OBJECT) renderObject(s.object);
  } catch (e) {
    $("clock").textContent = e.message;
    if (!token && !retried) { retried = true; signIn(); }  // a stale cookie (another server on 127.0.0.1)
  }
}
let retried = false;
$("login").addEventListener("submit", signIn);
document.querySelectorAll("[data-advance]").forEach((b) => b.addEventListener("click", async () => {
  await api("POST", "/_sim/clock/advance", {seconds: Number(b.dataset.advance)}); refresh(); }));
setInterval(refresh, 1000);
if (token) refresh(); else signIn();
</script></body></html>
"""
