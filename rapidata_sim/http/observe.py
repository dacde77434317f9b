"""Reading a world under ``/_sim``: what a scenario's hooks observe, over HTTP.

A signal's runs (skipped ones too), a job with its revision, and its results as of now
(nothing written, unlike the real preliminary download). Each is ``domain.observation`` as
the caller, in the caller's own world; ``scenario.backends.RemoteWorld`` reads them.
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
