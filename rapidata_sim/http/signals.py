"""Signal routes (signal.openapi.json)."""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from . import inputs
from .routing import Call, endpoint, paged


def signal_out(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"], "name": row["name"], "description": row["description"], "audienceId": row["audience_id"],
        "jobDefinitionId": row["job_definition_id"], "revisionNumber": row["revision_number"],
        "intervalSeconds": row["interval_seconds"], "nextRunAt": row["next_run_at"], "lastRunAt": row["last_run_at"],
        "isPaused": row["is_paused"], "isPublic": row["is_public"], "ownerId": row["owner_id"],
        "ownerMail": row["owner_mail"], "organizationId": row["organization_id"], "createdAt": row["created_at"],
    }


def run_out(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"], "signalId": row["signal_id"], "triggerSource": row["trigger_source"],
        "status": row["status"], "startedAt": row["started_at"], "audienceJobId": row["audience_job_id"],
        "completedAt": row["completed_at"], "resultFileName": row["result_file_name"],
        "failureMessage": row["failure_message"], "skippedReason": row["skipped_reason"],
    }


def create(call: Call) -> dict:
    b: inputs.CreateSignal = call.body
    row = call.sim.signals.create(call.who, name=b.name, audience_id=b.audience_id,
                                  job_definition_id=b.job_definition_id, interval_seconds=b.interval_seconds,
                                  is_public=b.is_public, description=b.description,
                                  revision_number=b.revision_number)
    return {"id": row["id"], "nextRunAt": row["next_run_at"]}


def find(call: Call) -> dict:
    return paged(call.sim.signals.find(call.who, call.list_query()), signal_out)


def get(call: Call) -> dict:
    return signal_out(call.sim.signals.get(call.who, call.path["signal_id"]))


def update(call: Call) -> None:
    b: inputs.UpdateSignal = call.body
    call.sim.signals.update(call.who, call.path["signal_id"], b.given("name", "description", "interval_seconds"))


def delete(call: Call) -> None:
    call.sim.signals.delete(call.who, call.path["signal_id"])


def pause(call: Call) -> None:
    call.sim.signals.set_paused(call.who, call.path["signal_id"], True)


def resume(call: Call) -> None:
    call.sim.signals.set_paused(call.who, call.path["signal_id"], False)


def trigger(call: Call) -> dict:
    call.sim.signals.trigger(call.who, call.path["signal_id"])
    return {"signalId": call.path["signal_id"]}


def runs(call: Call) -> dict:
    return paged(call.sim.signals.runs(call.who, call.path["signal_id"], call.list_query()), run_out)


def run(call: Call) -> dict:
    return run_out(call.sim.signals.run(call.who, call.path["run_id"]))


def routes(sim) -> list[Route]:
    return [
        Route("/signal", endpoint(sim, create, body=inputs.CreateSignal), methods=["POST"]),
        Route("/signal", endpoint(sim, find), methods=["GET"]),
        Route("/signal/run/{run_id}", endpoint(sim, run), methods=["GET"]),
        Route("/signal/{signal_id}", endpoint(sim, get), methods=["GET"]),
        Route("/signal/{signal_id}", endpoint(sim, update, body=inputs.UpdateSignal), methods=["PATCH"]),
        Route("/signal/{signal_id}", endpoint(sim, delete), methods=["DELETE"]),
        Route("/signal/{signal_id}/pause", endpoint(sim, pause), methods=["POST"]),
        Route("/signal/{signal_id}/resume", endpoint(sim, resume), methods=["POST"]),
        Route("/signal/{signal_id}/trigger", endpoint(sim, trigger), methods=["POST"]),
        Route("/signal/{signal_id}/run", endpoint(sim, runs), methods=["GET"]),
    ]
