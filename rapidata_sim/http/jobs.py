"""Job definition, revision, job and pipeline routes (order.openapi.json)."""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from ..domain.jobs import results_file_name
from ..core.errors import Conflict, ValidationFailed
from . import inputs
from .routing import Call, endpoint, json_response, paged


def definition_out(row: dict[str, Any], *, listing: bool = False) -> dict[str, Any]:
    out = {"definitionId": row["id"], "name": row["name"], "definitionType": row["definition_type"],
           "createdAt": row["created_at"], "ownerId": row["owner_id"], "ownerMail": row["owner_mail"],
           "organizationId": row["organization_id"]}
    if listing:
        out["revisionCount"] = row["latest_revision"]
    else:
        out["isPublic"] = row["is_public"]
    return out


def revision_out(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "definitionId": row["definition_id"], "revisionNumber": row["revision_number"], "state": row["state"],
        "pipelineId": row["pipeline_id"], "datasetId": row["dataset_id"], "workflow": row["workflow"],
        "referee": row["referee"], "featureFlags": row["feature_flags"] or [],
        "campaignFeatureFlags": row["campaign_feature_flags"] or [], "aggregatorType": row["aggregator_type"],
        "validationSetId": row["validation_set_id"], "baseRevisionNumber": row["base_revision_number"],
        "createdAt": row["created_at"], "createdById": row["created_by_id"], "createdByMail": row["created_by_mail"],
    }


def revision_item_out(row: dict[str, Any]) -> dict[str, Any]:
    return {"definitionId": row["definition_id"], "revisionNumber": row["revision_number"],
            "baseRevisionNumber": row["base_revision_number"], "createdAt": row["created_at"], "state": row["state"]}


def job_out(call: Call, row: dict[str, Any]) -> dict[str, Any]:
    audience = call.sim.store.get("audiences", row["audience_id"])
    return {
        "jobId": row["id"], "name": row["name"], "definitionId": row["definition_id"],
        "audienceId": row["audience_id"], "audienceName": audience["name"] if audience else None,
        "revisionNumber": row["revision_number"], "pipelineId": row["pipeline_id"], "state": row["state"],
        "isPublic": row["is_public"], "audienceDeleted": call.sim.jobs.audience_deleted(row),
        "createdAt": row["created_at"], "ownerId": row["owner_id"], "ownerMail": row["owner_mail"],
        "organizationId": row["organization_id"], "completedAt": row["completed_at"],
        "resultFileName": results_file_name(row["id"]) if row["state"] == "Completed" else None,
        "failedAt": row["failed_at"], "failureMessage": row["failure_message"],
    }


def job_item_out(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "jobId": row["id"], "name": row["name"], "jobDefinitionId": row["definition_id"],
        "audienceId": row["audience_id"], "revisionNumber": row["revision_number"],
        "pipelineId": row["pipeline_id"], "state": row["state"], "ownerMail": row["owner_mail"],
        "organizationId": row["organization_id"], "createdAt": row["created_at"], "isShared": False,
    }


def _flags(flags: list | None) -> list[dict[str, str]] | None:
    return None if flags is None else [f.model_dump() for f in flags]


# -- definitions ----------------------------------------------------------------

def create_definition(call: Call) -> dict:
    b: inputs.CreateJobDefinition = call.body
    definition, revision = call.sim.definitions.create(
        call.who, name=b.definition_name, workflow=b.workflow, referee=b.referee, dataset_id=b.dataset_id,
        feature_flags=_flags(b.rapid_feature_flags if b.rapid_feature_flags is not None else b.feature_flags),
        campaign_feature_flags=_flags(b.campaign_feature_flags), aggregator_type=b.aggregator_type)
    return {"definitionId": definition["id"], "pipelineId": revision["pipeline_id"]}


def find_definitions(call: Call) -> dict:
    return paged(call.sim.definitions.find(call.who, call.list_query()), lambda r: definition_out(r, listing=True))


def get_definition(call: Call) -> dict:
    return definition_out(call.sim.definitions.get(call.path["definition_id"], call.who))


def rename_definition(call: Call) -> None:
    b: inputs.UpdateJobDefinition = call.body
    call.sim.definitions.rename(call.who, call.path["definition_id"], b.name)


def delete_definition(call: Call) -> None:
    call.sim.definitions.delete(call.who, call.path["definition_id"])


def latest_revision(call: Call) -> dict:
    return revision_out(call.sim.definitions.revision(call.who, call.path["definition_id"]))


def get_revision(call: Call) -> dict:
    number = inputs.int32(call.path["revision_number"])
    if number is None:
        raise ValidationFailed.field("revisionNumber",
                                     f"'{call.path['revision_number'][:100]}' is not a valid integer.")
    return revision_out(call.sim.definitions.revision(call.who, call.path["definition_id"], number))


def list_revisions(call: Call) -> dict:
    return paged(call.sim.definitions.revisions(call.who, call.path["definition_id"], call.list_query()),
                 revision_item_out)


def create_revision(call: Call) -> dict:
    b: inputs.CreateRevision = call.body
    changes = b.given("workflow", "referee", "dataset_id", "aggregator_type", "validation_set_id")
    changes = {k: v for k, v in changes.items() if v is not None or k == "validation_set_id"}
    flags = b.rapid_feature_flags if b.rapid_feature_flags is not None else b.feature_flags
    if flags is not None:
        changes["feature_flags"] = _flags(flags)
    if b.campaign_feature_flags is not None:
        changes["campaign_feature_flags"] = _flags(b.campaign_feature_flags)
    revision = call.sim.definitions.create_revision(
        call.who, call.path["definition_id"], changes=changes, base_revision_number=b.base_revision_number,
        require_latest=bool(b.require_latest))
    return {"revisionNumber": revision["revision_number"], "pipelineId": revision["pipeline_id"]}


def definition_cost(call: Call) -> dict:
    est = call.sim.definitions.cost_estimate(call.who, call.path["definition_id"])
    return {"estimatedCost": est["estimated_cost"], "costPerResponse": est["cost_per_response"],
            "datapointCount": est["datapoint_count"], "requiredResponses": est["required_responses"]}


# -- jobs -----------------------------------------------------------------------

def create_job(call: Call) -> dict:
    b: inputs.CreateJob = call.body
    job = call.sim.jobs.create(call.who, definition_id=b.job_definition_id, audience_id=b.audience_id,
                               revision_number=b.revision_number, name=b.name,
                               preceding_job_id=b.preceding_job_id)
    return {"jobId": job["id"], "recruitingStarted": job["recruiting_started"]}


def find_jobs(call: Call) -> dict:
    return paged(call.sim.jobs.find(call.who, call.list_query()), job_item_out)


def get_job(call: Call) -> dict:
    return job_out(call, call.sim.jobs.get(call.path["job_id"], call.who))


def job_progress(call: Call) -> dict:
    p = call.sim.jobs.progress(call.who, call.path["job_id"])
    return {"completionPercentage": p["completion_percentage"], "total": p["total"], "completed": p["completed"],
            "state": p["state"], "responseCount": p["response_count"]}


def download_results(call: Call):
    job = call.sim.jobs.get(call.path["job_id"], call.who)
    if job["state"] not in ("Completed", "Failed", "StaleResults"):
        raise Conflict(f"Job '{job['id']}' is {job['state']}; its results are not ready.")
    response = json_response(call.sim.results.current(job))
    # The spec declares the results file as application/octet-stream; the SDK reads raw bytes either way.
    response.headers["content-type"] = "application/octet-stream"
    return response


def job_cost(call: Call) -> dict:
    job = call.sim.jobs.get(call.path["job_id"], call.who)
    est = call.sim.definitions.cost_estimate(call.who, job["definition_id"])
    return {"estimatedCost": est["estimated_cost"], "costPerResponse": est["cost_per_response"],
            "datapointCount": est["datapoint_count"], "requiredResponses": est["required_responses"]}


def pause_job(call: Call) -> None:
    call.sim.jobs.pause(call.who, call.path["job_id"])


def resume_job(call: Call) -> None:
    call.sim.jobs.resume(call.who, call.path["job_id"])


def delete_job(call: Call) -> None:
    call.sim.jobs.delete(call.who, call.path["job_id"])


def retry_job(call: Call) -> None:
    call.sim.jobs.retry(call.who, call.path["job_id"])


# -- preliminary results (pipeline) ----------------------------------------------

def start_preliminary(call: Call) -> dict:
    return {"downloadId": call.sim.jobs.start_preliminary(call.who, call.path["pipeline_id"])["id"]}


def get_preliminary(call: Call):
    return json_response(call.sim.results.current(call.sim.jobs.preliminary(call.who, call.path["download_id"])))


def routes(sim) -> list[Route]:
    e = lambda fn, **kw: endpoint(sim, fn, **kw)  # noqa: E731
    return [
        Route("/job/definition", e(create_definition, body=inputs.CreateJobDefinition), methods=["POST"]),
        Route("/job/definitions", e(find_definitions), methods=["GET"]),
        Route("/job/definition/{definition_id}", e(get_definition), methods=["GET"]),
        Route("/job/definition/{definition_id}", e(rename_definition, body=inputs.UpdateJobDefinition),
              methods=["PATCH"]),
        Route("/job/definition/{definition_id}", e(delete_definition), methods=["DELETE"]),
        Route("/job/definition/{definition_id}/revision", e(latest_revision), methods=["GET"]),
        Route("/job/definition/{definition_id}/revision", e(create_revision, body=inputs.CreateRevision),
              methods=["POST"]),
        Route("/job/definition/{definition_id}/revision/{revision_number}", e(get_revision), methods=["GET"]),
        Route("/job/definition/{definition_id}/revisions", e(list_revisions), methods=["GET"]),
        Route("/job/definition/{definition_id}/cost-estimate", e(definition_cost), methods=["GET"]),
        Route("/job", e(create_job, body=inputs.CreateJob), methods=["POST"]),
        Route("/jobs", e(find_jobs), methods=["GET"]),
        Route("/job/{job_id}", e(get_job), methods=["GET"]),
        Route("/job/{job_id}", e(delete_job), methods=["DELETE"]),
        Route("/job/{job_id}/progress", e(job_progress), methods=["GET"]),
        Route("/job/{job_id}/download-results", e(download_results), methods=["GET"]),
        Route("/job/{job_id}/cost-estimate", e(job_cost), methods=["GET"]),
        Route("/job/{job_id}/pause", e(pause_job), methods=["POST"]),
        Route("/job/{job_id}/resume", e(resume_job), methods=["POST"]),
        Route("/job/{job_id}/retry", e(retry_job), methods=["POST"]),
        Route("/pipeline/{pipeline_id}/preliminary-download", e(start_preliminary, body=inputs.PreliminaryDownload),
              methods=["POST"]),
        Route("/pipeline/preliminary-download/{download_id}", e(get_preliminary), methods=["GET"]),
    ]
