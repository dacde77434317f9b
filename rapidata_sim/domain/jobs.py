"""Jobs: a revision of a job definition, assigned to an audience, labeled over time.

Until synthetic labelers exist, a job takes its audience's ``labeling_seconds``
of virtual time from creation to ``Completed`` (0 = done at once, which keeps
the SDK out of its fixed 5 s polls). The scheduler completes it when that
instant comes (``complete``), in order with everything else.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ..clock import iso, parse_iso
from ..errors import NotFound, SimError, ValidationFailed
from ..querying import ListSpec, Page, Query
from .base import Principal, Service

JOB_LIST = ListSpec(
    filters={
        "id": ("id", "str"), "name": ("name", "str"), "job_definition_id": ("definition_id", "str"),
        "audience_id": ("audience_id", "str"), "state": ("state", "str"), "owner_mail": ("owner_mail", "str"),
        "created_at": ("created_at", "time"),
    },
    sorts={"name": "name", "created_at": "created_at", "state": "state", "owner_mail": "owner_mail",
           "progress": "completed_at"},
)

TERMINAL = {"Completed", "Failed"}
#: States in which the SDK's get_results()/display_progress_bar() raise at once.
BLOCKING = {"ManualApproval", "SpendLimited", "Paused", "Blocked"}
LABELING_STATE = {"Submitted": "Created", "Queued": "Created", "Running": "Labeling", "Completed": "Done",
                  "Failed": "Failed", "Paused": "Paused", "ManualApproval": "Created",
                  "SpendLimited": "Paused", "Blocked": "Paused", "StaleResults": "Done"}


class Jobs(Service):
    def create(self, who: Principal, *, definition_id: str, audience_id: str, revision_number: int | None = None,
               name: str | None = None, preceding_job_id: str | None = None) -> dict[str, Any]:
        errors: dict[str, list[str]] = {}
        definition = revision = audience = None
        try:
            definition = self.sim.definitions.get(definition_id, who)
        except NotFound as exc:
            errors["jobDefinitionId"] = [exc.detail]
        try:
            audience = self.sim.audiences.get(audience_id, who)
        except NotFound as exc:
            errors["audienceId"] = [exc.detail]
        if definition is not None:
            number = definition["latest_revision"] if revision_number is None else revision_number
            revision = self.store.get("revisions", (definition_id, number))
            if revision is None:
                errors["revisionNumber"] = [f"Revision {number} of job definition '{definition_id}' was not found."]
        if preceding_job_id is not None and self.store.get("jobs", preceding_job_id) is None:
            errors["precedingJobId"] = [f"Job '{preceding_job_id}' was not found."]
        if errors:
            raise ValidationFailed(errors)
        assert definition is not None and revision is not None and audience is not None
        # Assigning a job to a custom audience that never recruited starts its recruiting.
        recruiting_started = self.sim.audiences.start_recruiting(None, audience["id"])
        if recruiting_started:
            audience = self.store.get("audiences", audience["id"])
        job = self._start(who, definition, revision, audience, name=name, preceding_job_id=preceding_job_id)
        job["recruiting_started"] = recruiting_started
        return job

    def new_row(self, who: Principal, definition: dict, revision: dict, audience: dict, *, at: str,
                name: str | None = None, preceding_job_id: str | None = None) -> dict[str, Any]:
        """A job as it is at creation (not stored): done at once if its audience labels instantly."""
        start = parse_iso(at)
        end = start + timedelta(seconds=audience["labeling_seconds"] or 0)
        done = end <= start
        return {
            "id": self.ids.new("job"), "name": name or f"{definition['name']}:{revision['revision_number']}",
            "definition_id": definition["id"], "revision_number": revision["revision_number"],
            "audience_id": audience["id"], "pipeline_id": self.ids.new("pl"),
            "state": "Completed" if done else "Running", "is_public": False, "owner_id": who.user_id,
            "owner_mail": who.email, "organization_id": who.organization_id, "created_at": at,
            "completed_at": at if done else None, "completes_at": iso(end),
            "preceding_job_id": preceding_job_id, "deleted": False,
        }

    def _start(self, who: Principal, definition: dict, revision: dict, audience: dict, *,
               name: str | None = None, preceding_job_id: str | None = None) -> dict[str, Any]:
        at = self.now()
        row = self.new_row(who, definition, revision, audience, at=at, name=name, preceding_job_id=preceding_job_id)
        self.store.insert("jobs", row)
        self.record("job.created", row["id"], at=at, definition=definition["id"],
                    revision=revision["revision_number"], audience=audience["id"], completes_at=row["completes_at"])
        if row["state"] == "Completed":
            self.record("job.completed", row["id"], at=at)
        self.sim.scheduler.watch_job(row)
        return row

    def get(self, job_id: str, who: Principal | None = None) -> dict[str, Any]:
        row = self._get_live("jobs", job_id, "Job")
        if who is not None:
            self.check_org(row, who, "Job")
        return row

    def find(self, who: Principal, query: Query) -> Page:
        return self._page("jobs", JOB_LIST, query, "deleted = 0 AND organization_id = ?", [who.organization_id])

    def audience_deleted(self, job: dict[str, Any]) -> bool:
        audience = self.store.get("audiences", job["audience_id"])
        return audience is None or bool(audience["deleted"])

    # -- time ---------------------------------------------------------------------

    def complete(self, job: dict[str, Any]) -> None:
        """Mark ``job`` Completed at its own ``completes_at`` instant."""
        self.store.update("jobs", job["id"], {"state": "Completed", "completed_at": job["completes_at"]})
        job.update(state="Completed", completed_at=job["completes_at"])
        self.record("job.completed", job["id"], at=job["completes_at"])

    def progress(self, who: Principal, job_id: str) -> dict[str, Any]:
        job = self.get(job_id, who)
        revision = self.store.get("revisions", (job["definition_id"], job["revision_number"]))
        total = self.store.count("datapoints", "dataset_id = ?", [revision["dataset_id"]]) if revision else 0
        if job["state"] in TERMINAL:
            fraction = 1.0 if job["state"] == "Completed" else 0.0
        else:
            start, end = parse_iso(job["created_at"]), parse_iso(job["completes_at"])
            span = (end - start).total_seconds()
            fraction = min(1.0, max(0.0, (self.clock.now() - start).total_seconds() / span)) if span > 0 else 1.0
        completed = int(total * fraction)
        return {"completion_percentage": round(fraction * 100, 2), "total": total, "completed": completed,
                "state": LABELING_STATE.get(job["state"], "Created"), "response_count": completed}

    # -- lifecycle ----------------------------------------------------------------

    def pause(self, who: Principal, job_id: str) -> None:
        job = self.get(job_id, who)
        if job["state"] in TERMINAL:
            raise SimError(f"Job '{job_id}' is {job['state']} and cannot be paused.")
        if job["state"] != "Paused":
            remaining = max(0.0, (parse_iso(job["completes_at"]) - self.clock.now()).total_seconds())
            self.store.update("jobs", job_id, {"state": "Paused", "paused_remaining": remaining})
            self.record("job.paused", job_id)

    def resume(self, who: Principal, job_id: str) -> None:
        job = self.get(job_id, who)
        if job["state"] == "Paused":
            completes = self.clock.now() + timedelta(seconds=job["paused_remaining"] or 0.0)
            self.store.update("jobs", job_id, {"state": "Running", "completes_at": iso(completes),
                                               "paused_remaining": None})
            self.record("job.resumed", job_id)
            self.sim.scheduler.watch_job(self.store.get("jobs", job_id))

    def delete(self, who: Principal, job_id: str) -> None:
        self.get(job_id, who)
        self.store.update("jobs", job_id, {"deleted": True})
        self.record("job.deleted", job_id)

    def retry(self, who: Principal, job_id: str) -> None:
        job = self.get(job_id, who)
        if job["state"] == "StaleResults":
            self.store.update("jobs", job_id, {"state": "Completed"})
