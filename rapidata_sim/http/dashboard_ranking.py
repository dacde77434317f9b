"""The dashboard's flows and leaderboards: what ``/_sim/dashboard/state`` lists of them, and the
pages about one of them (``/flows/{id}`` for the dashboard's own links, and the SDK's
``/mri/benchmarks/...`` links), registered in ``app_pages.PAGES``.

Translation only: what a viewer may see is the domain's (``Flows.find``/``get``,
``Benchmarks.find``/``get``, ``Leaderboards.of_benchmark``/``get``/``standings``).
See ``docs/dashboard.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..core.errors import NotFound
from ..core.querying import Query
from ..domain.base import Principal

if TYPE_CHECKING:
    from ..engine import Engine

FLOWS_SHOWN = 20
ITEMS_SHOWN = 20
BENCHMARKS_SHOWN = 10
LEADERBOARDS_SHOWN = 10
Doc = dict[str, Any]


def _link(text: str, href: str) -> dict[str, str]:
    return {"text": text, "href": href}


def _newest(page_size: int) -> Query:
    return Query(page_size=page_size, sort=["-created_at"])


# -- the state's lists ---------------------------------------------------------------


def flows(sim: "Engine", who: Principal) -> list[dict[str, Any]]:
    """The viewer's newest flows, each with its items counted by state."""
    return [{"id": f["id"], "name": f["name"], "type": f["kind"], "audienceId": f["audience_id"],
             "createdAt": f["created_at"], "items": sim.flows.item_states(who, f["id"])}
            for f in sim.flows.find(who, _newest(FLOWS_SHOWN)).items]


def _standings(sim: "Engine", who: Principal, leaderboard_id: str) -> list[dict[str, Any]]:
    table = sim.leaderboards.standings(who, leaderboard_id=leaderboard_id)
    return [{"name": i["participant"]["name"], "score": None if i["score"] is None else round(i["score"], 1),
             "wins": i["wins"], "totalMatches": i["total_matches"], "responses": i["response_count"],
             "isEvaluating": i["is_evaluating"], "isDisabled": i["participant"]["status"] == "Disabled"}
            for i in table["items"]]


def _runs(sim: "Engine", who: Principal, leaderboard_id: str) -> dict[str, int]:
    runs = sim.leaderboards.runs(who, leaderboard_id, Query(page_size=1000)).items
    statuses = [sim.leaderboards.status(r) for r in runs]
    return {"total": len(runs), "running": statuses.count("Running")}


def leaderboards(sim: "Engine", who: Principal) -> list[dict[str, Any]]:
    """The leaderboards of the viewer's newest benchmarks, each with its standings as of now."""
    out = []
    for bench in sim.benchmarks.find(who, _newest(BENCHMARKS_SHOWN)).items:
        for board in sim.leaderboards.of_benchmark(who, bench["id"], Query(page_size=LEADERBOARDS_SHOWN)).items:
            out.append({"id": board["id"], "name": board["name"], "benchmarkId": bench["id"],
                        "benchmarkName": bench["name"], "audienceId": board["audience_id"],
                        "runs": _runs(sim, who, board["id"]), "standings": _standings(sim, who, board["id"])})
    return out


# -- the pages -----------------------------------------------------------------------


def flow(sim: "Engine", who: Principal, p: dict[str, str]) -> Doc:
    row = sim.flows.get(who, p["flow_id"])
    items = sim.flows.items(who, row["id"], _newest(ITEMS_SHOWN)).items
    now = sim.clock.now()
    fields = [["type", row["kind"]], ["criteria", row["criteria"]], ["audience", row["audience_id"]],
              ["responses per item", f"{row['min_responses']}–{row['max_responses']}"],
              ["items", ", ".join(f"{n} {s}" for s, n in sim.flows.item_states(who, row["id"]).items()) or "none"],
              ["created", row["created_at"]], ["owner", row["owner_mail"]]]
    fields += [[f"item {i['id']}", f"{i['state']}, {sim.flows.votes_so_far(i, now)} of {i['plan']['votes']} "
                                   f"votes, created {i['created_at']}"] for i in items]
    return {"kind": "Flow", "id": row["id"], "name": row["name"], "fields": [f for f in fields if f[1] is not None],
            "links": [_link("its audience", f"/audiences/{row['audience_id']}")]}


def _board_path(board: dict[str, Any]) -> str:
    return f"/mri/benchmarks/{board['benchmark_id']}/leaderboard/{board['id']}"


def benchmark(sim: "Engine", who: Principal, p: dict[str, str]) -> Doc:
    row = sim.benchmarks.get(who, p["benchmark_id"])
    boards = sim.leaderboards.of_benchmark(who, row["id"], Query(page_size=100)).items
    participants = sim.benchmarks.participants(who, row["id"], Query(page_size=100)).items
    prompts = sim.benchmarks.prompts(who, row["id"])
    fields = [["prompts", len(prompts)],
              ["participants", ", ".join(f"{q['name']} ({q['status']})" for q in participants) or "none"],
              ["created", row["created_at"]], ["owner", row["owner_mail"]]]
    return {"kind": "Benchmark", "id": row["id"], "name": row["name"], "fields": fields,
            "links": [_link(f"leaderboard {b['name']}", _board_path(b)) for b in boards]}


def leaderboard(sim: "Engine", who: Principal, p: dict[str, str]) -> Doc:
    row = sim.leaderboards.get(who, p["leaderboard_id"])
    if row["benchmark_id"] != p["benchmark_id"]:  # the SDK's link names the leaderboard's own benchmark
        raise NotFound(f"Leaderboard '{row['id']}' is not on benchmark '{p['benchmark_id']}'.")
    runs = _runs(sim, who, row["id"])
    fields = [["instruction", row["instruction"]], ["audience", row["audience_id"]],
              ["vote aggregation", row["vote_aggregation"]], ["response budget", row["response_budget"]],
              ["runs", f"{runs['total']} ({runs['running']} running)"]]
    for rank, s in enumerate(_standings(sim, who, row["id"]), 1):
        score = "no score" if s["score"] is None else f"Elo {s['score']}"
        fields.append([f"{rank}. {s['name']}", f"{score}, {s['wins']:g} wins of {s['totalMatches']:g} matchups"
                       + (" (evaluating)" if s["isEvaluating"] else "") + (" (disabled)" if s["isDisabled"] else "")])
    bench = sim.benchmarks.get(who, row["benchmark_id"])
    return {"kind": "Leaderboard", "id": row["id"], "name": row["name"], "fields": fields,
            "links": [_link(f"benchmark {bench['name']}", f"/mri/benchmarks/{bench['id']}"),
                      _link("its audience", f"/audiences/{row['audience_id']}")]}
