"""Reading a world under ``/_sim``: what a scenario's hooks observe, over HTTP.

``GET /_sim/signals/{id}/runs`` (every run, oldest first, skipped ones too),
``GET /_sim/jobs/{id}`` (the job, with the revision it ran) and
``GET /_sim/jobs/{id}/results`` (its results as of now, preliminary while it runs;
nothing is written, unlike the real preliminary-download routes). With
``/_sim/events`` and ``/_sim/signals/{id}/counters`` (``control.py``) they are what
``scenario.backends.RemoteWorld`` reads. Each is ``rapidata_sim.domain.observation`` as the
caller: the domain's visibility checks apply, in the caller's own world only.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from ..domain import observation
from .control import PREFIX
from .routing import Call, endpoint, json_response


def signal_runs(call: Call) -> dict[str, Any]:
    signal_id = call.path["signal_id"]
    return {"signalId": signal_id,
            "runs": [observation.wire(r) for r in observation.runs(call.sim, call.who, signal_id)]}


def job(call: Call) -> dict[str, Any]:
    return observation.wire(observation.job(call.sim, call.who, call.path["job_id"]))


def job_results(call: Call) -> Response:
    return json_response(observation.results(call.sim, call.who, call.path["job_id"]))


def routes(sim) -> list[Route]:
    return [
        Route(f"{PREFIX}/signals/{{signal_id}}/runs", endpoint(sim, signal_runs), methods=["GET"]),
        Route(f"{PREFIX}/jobs/{{job_id}}", endpoint(sim, job), methods=["GET"]),
        Route(f"{PREFIX}/jobs/{{job_id}}/results", endpoint(sim, job_results), methods=["GET"]),
    ]
