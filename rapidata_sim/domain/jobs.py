"""Jobs: a revision of a job definition, assigned to an audience, labeled over time.

The world's crowd plans a job when it is created (``Crowd.plan``): when its
votes will all be in, or when an injected fault strikes. The scheduler settles
it when that instant comes (``complete``), in order with everything else.
"""

from __future__ import annotations

from typing import Any

from ..core.clock import iso, parse_iso
from ..core.errors import NotFound, SimError, ValidationFailed
from ..core.querying import ListSpec, Page, Query
from ..core.rows import JobRow
from ..core.world import World
from .audiences import Audiences
from .base import Principal, Service
from .definitions import Definitions
from .job_plans import Crowd
from .ports import Scheduling

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
#: Stopped but not finished: ``resume`` (or the SDK's ``job.resume()``) sets them running again.
HALTED = {"Paused", "ManualApproval", "SpendLimited"}
#: States in which the SDK's get_results()/display_progress_bar() raise at once.
BLOCKING = {"ManualApproval", "SpendLimited", "Paused", "Blocked"}
LABELING_STATE = {"Submitted": "Created", "Queued": "Created", "Running": "Labeling", "Completed": "Done",
                  "Failed": "Failed", "Paused": "Paused", "ManualApproval": "Created",
                  "SpendLimited": "Paused", "Blocked": "Paused", "StaleResults": "Done"}


def results_file_name(job_id: str) -> str:
    """The name a completed job's results file goes by (a run's ``resultFileName``)."""
    return f"{job_id}_results.json"


class Jobs(Service):
    def __init__(self, world: World, *, audiences: Audiences, definitions: Definitions, crowd: Crowd,
                 scheduler: Scheduling) -> None:
        super().__init__(world)
        self.audiences = audiences
        self.definitions = definitions
        self.crowd = crowd
        self.scheduler = scheduler

    def create(self, who: Principal, *, definition_id: str, audience_id: str, revision_number: int | None = None,
               name: str | None = None, preceding_job_id: str | None = None) -> dict[str, Any]:
        errors: dict[str, list[str]] = {}
        definition = revision = audience = None
        try:
            definition = self.definitions.get(definition_id, who)
        except NotFound as exc:
            errors["jobDefinitionId"] = [exc.detail]
        try:
            audience = self.audiences.get(audience_id, who)
        except NotFound as exc:
            errors["audienceId"] = [exc.detail]
        if definition is not None:
            number = definition["latest_revision"] if revision_number is None else revision_number
            revision = self.store.get("revisions", (definition_id, number))
            if revision is None:
                errors["revisionNumber"] = [f"Revision {number} of job definition '{definition_id}' was not found."]
        preceding = self.store.get("jobs", preceding_job_id) if preceding_job_id is not None else None
        if preceding_job_id is not None and (preceding is None or preceding["organization_id"] != who.organization_id):
            # Another organization's job does not exist for the caller (no existence oracle).
            errors["precedingJobId"] = [f"Job '{preceding_job_id}' was not found."]
        if errors:
            raise ValidationFailed(errors)
        assert definition is not None and revision is not None and audience is not None
        # Assigning a job to a custom audience that never recruited starts its recruiting.
        at = self.now()
        recruiting_started = self.audiences.start_recruiting(None, audience["id"], at=at)
        if recruiting_started:
            audience = self.store.get("audiences", audience["id"])
        if preceding is not None and preceding["state"] not in TERMINAL and not preceding["deleted"]:
            job = self._queue(who, definition, revision, audience, name=name, preceding_job_id=preceding_job_id,
                              at=at)
        else:
            job = self._start(who, definition, revision, audience, name=name, preceding_job_id=preceding_job_id,
                              at=at)
        job["recruiting_started"] = recruiting_started
        return job

    def _queue(self, who: Principal, definition: dict, revision: dict, audience: dict, *, at: str,
               name: str | None = None, preceding_job_id: str) -> dict[str, Any]:
        """A job that waits (``Queued``, no plan yet) until ``preceding_job_id`` completes or fails
        (``assign_job(run_after=…)``); ``start_successors`` starts it then."""
        row = {"id": self.ids.new("job"), "pipeline_id": self.ids.new("pl"), "state": "Queued", "created_at": at,
               "completed_at": None, "completes_at": None, "plan": None,
               **self.shared_columns(who, definition, revision, audience, name=name,
                                     preceding_job_id=preceding_job_id)}
        self.store.insert("jobs", row)
        self.record("job.queued", row["id"], at=at, definition=definition["id"],
                    revision=revision["revision_number"], audience=audience["id"], after=preceding_job_id)
        return row

    def start_successors(self, job: dict[str, Any], at: str) -> None:
        """``job`` has completed or failed: the jobs queued to run after it start now (its
        finishing instant), planned by the crowd from then on."""
        for queued in self.store.select("jobs", "preceding_job_id = ? AND state = 'Queued' AND deleted = 0",
                                        [job["id"]], order_by="created_at, rowid"):
            definition = self.store.get("job_definitions", queued["definition_id"])
            revision = self.store.get("revisions", (queued["definition_id"], queued["revision_number"]))
            audience = self.store.get("audiences", queued["audience_id"])
            plan = self.crowd.plan(definition, revision, audience, at=at)
            start = parse_iso(at)
            due = self.crowd.finish_at(plan, start)
            queued.update(state="Running", plan=plan, completes_at=iso(due) if due is not None else None)
            if due is not None and due <= start:
                self._settle(queued)
            self.store.update("jobs", queued["id"], {k: queued[k] for k in (
                "state", "plan", "completes_at", "completed_at")})
            self.record("job.started", queued["id"], at=at, after=job["id"], completes_at=queued["completes_at"])
            self.record_settled(queued)
            self.scheduler.watch_job(queued)
            if queued["state"] in TERMINAL:
                self.start_successors(queued, at)

    def new_row(self, who: Principal, definition: dict, revision: dict, audience: dict, *, at: str,
                name: str | None = None, preceding_job_id: str | None = None) -> dict[str, Any]:
        """A job as it is at creation (not stored), planned by the world's crowd."""
        crowd = self.crowd
        plan = crowd.plan(definition, revision, audience, at=at)
        start = parse_iso(at)
        due = crowd.finish_at(plan, start)
        fault = crowd.take_fault(audience["id"])
        if fault is not None:
            when = crowd.fault_instant(plan, fault, start, due)
            if when is not None:
                plan["fault"] = {"state": fault["state"], "message": fault["message"], "at": iso(when)}
                due = when
        row = {
            "id": self.ids.new("job"), "pipeline_id": self.ids.new("pl"), "state": "Running", "created_at": at,
            "completed_at": None, "completes_at": iso(due) if due is not None else None, "plan": plan,
            **self.shared_columns(who, definition, revision, audience, name=name, preceding_job_id=preceding_job_id),
        }
        if due is not None and due <= start:
            self._settle(row)
        return row

    @staticmethod
    def shared_columns(who: Principal, definition: dict, revision: dict, audience: dict, *,
                       name: str | None = None, preceding_job_id: str | None = None) -> dict[str, Any]:
        """The columns of a new job that do not depend on when it is made (a steady stretch
        spells out many jobs from one set of them)."""
        return {"name": name or f"{definition['name']}:{revision['revision_number']}",
                "definition_id": definition["id"], "revision_number": revision["revision_number"],
                "audience_id": audience["id"], "is_public": False, "owner_id": who.user_id,
                "owner_mail": who.email, "organization_id": who.organization_id,
                "preceding_job_id": preceding_job_id, "deleted": False}

    def _settle(self, job: dict[str, Any]) -> None:
        """The job's due instant has come: it completes, or its planned fault strikes."""
        plan = job["plan"]
        at = job["completes_at"]
        fault = plan.get("fault")
        if fault and fault["at"] == at:
            self._halt(job, fault["state"], at, message=fault.get("message"))
        else:
            job.update(state="Completed", completed_at=at)

    def _halt(self, job: dict[str, Any], state: str, at: str, *, message: str | None = None) -> None:
        """Stop a running job in ``state`` at ``at``, keeping the work done so far (in the dict)."""
        running = job["state"] == "Running"
        plan = self.crowd.checkpoint(job["plan"], at) if running else dict(job["plan"], since=at)
        plan.pop("fault", None)
        job.update(state=state, plan=plan, completes_at=None)
        if state == "Failed":
            job.update(failure_message=message, failed_at=at)

    def _start(self, who: Principal, definition: dict, revision: dict, audience: dict, *,
               name: str | None = None, preceding_job_id: str | None = None,
               at: str | None = None) -> dict[str, Any]:
        at = at or self.now()
        row = self.new_row(who, definition, revision, audience, at=at, name=name, preceding_job_id=preceding_job_id)
        self.store.insert("jobs", row)
        self.record("job.created", row["id"], at=at, definition=definition["id"],
                    revision=revision["revision_number"], audience=audience["id"], completes_at=row["completes_at"])
        self.record_settled(row)
        self.scheduler.watch_job(row)
        return row

    def get(self, job_id: str, who: Principal | None = None) -> JobRow:
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

    def record_settled(self, job: dict[str, Any]) -> None:
        """The event for a job that just left Running (completed, failed, halted)."""
        if job["state"] == "Completed":
            self.record("job.completed", job["id"], at=job["completed_at"])
        elif job["state"] == "Failed":
            self.record("job.failed", job["id"], at=job["failed_at"], message=job["failure_message"])
        elif job["state"] != "Running":
            self.record("job.halted", job["id"], at=job["plan"]["since"], state=job["state"])

    def complete(self, job: dict[str, Any]) -> None:
        """``job``'s due instant has come (the scheduler calls this in time order)."""
        self._settle(job)
        self.store.update("jobs", job["id"], {k: job[k] for k in (
            "state", "completed_at", "completes_at", "plan", "failure_message", "failed_at") if k in job})
        self.record_settled(job)

    def progress(self, who: Principal, job_id: str) -> dict[str, Any]:
        job = self.get(job_id, who)
        revision = self.store.get("revisions", (job["definition_id"], job["revision_number"]))
        total = self.store.count("datapoints", "dataset_id = ?", [revision["dataset_id"]]) if revision else 0
        fraction = self.crowd.done(job, self.clock.now())
        votes = (job["plan"] or {}).get("votes", total)
        return {"completion_percentage": round(fraction * 100, 2), "total": total,
                "completed": int(total * fraction), "state": LABELING_STATE.get(job["state"], "Created"),
                "response_count": int(votes * fraction)}

    # -- lifecycle ----------------------------------------------------------------

    def pause(self, who: Principal, job_id: str) -> None:
        job = self.get(job_id, who)
        if job["state"] in TERMINAL or job["state"] == "Queued":
            raise ValidationFailed.field("jobId", f"Job '{job_id}' is {job['state']} and cannot be paused.")
        if job["state"] == "Running":
            self._halt(job, "Paused", self.now())
            self.store.update("jobs", job_id, {"state": job["state"], "plan": job["plan"], "completes_at": None})
            self.record("job.paused", job_id)

    def resume(self, who: Principal | None, job_id: str) -> None:
        """Paused, ManualApproval or SpendLimited -> Running again, from where it stood."""
        job = self.get(job_id, who)
        if job["state"] in HALTED:
            now = self.clock.now()
            plan = dict(job["plan"], since=iso(now))
            due = self.crowd.finish_at(plan, now)
            job.update(state="Running", plan=plan, completes_at=iso(due) if due is not None else None)
            self.store.update("jobs", job_id, {"state": "Running", "plan": plan, "completes_at": job["completes_at"]})
            self.record("job.resumed", job_id)
            self.scheduler.watch_job(job)

    def schedule_fault(self, job: dict[str, Any], fault: dict[str, Any]) -> None:
        """A fault injected into one existing job (see ``Crowd.inject``)."""
        if job["state"] != "Running":
            raise SimError(f"Job '{job['id']}' is {job['state']}; only a running job can be made to fail.")
        now = self.clock.now()
        # Bank the work done so far, so at_progress counts from the job's true progress.
        plan = self.crowd.checkpoint(job["plan"], iso(now))
        plan.pop("fixed", None)
        job["plan"] = plan
        finish = parse_iso(job["completes_at"]) if job["completes_at"] else None
        when = self.crowd.fault_instant(plan, fault, now, finish)
        if when is None:
            self.store.update("jobs", job["id"], {"plan": plan})
            return
        plan["fault"] = {"state": fault["state"], "message": fault["message"], "at": iso(when)}
        job["completes_at"] = iso(when)
        self.store.update("jobs", job["id"], {"plan": plan, "completes_at": job["completes_at"]})
        if when <= now:
            self.scheduler.complete_now(job)
        else:
            self.scheduler.watch_job(job)

    def delete(self, who: Principal, job_id: str) -> None:
        job = self.get(job_id, who)
        self.store.update("jobs", job_id, {"deleted": True})
        self.record("job.deleted", job_id)
        if job["state"] not in TERMINAL:
            # A deleted job never finishes: the jobs queued behind it would wait forever. They start now.
            self.start_successors(job, self.now())

    def retry(self, who: Principal, job_id: str) -> None:
        job = self.get(job_id, who)
        if job["state"] == "StaleResults":
            self.store.update("jobs", job_id, {"state": "Completed"})

    # -- preliminary results (a pipeline's download) --------------------------------

    def start_preliminary(self, who: Principal, pipeline_id: str) -> dict[str, Any]:
        """A preliminary download of the job behind ``pipeline_id`` (the caller's organization's)."""
        rows = self.store.select("jobs", "pipeline_id = ? AND deleted = 0 AND organization_id = ?",
                                 [pipeline_id, who.organization_id], limit=1)
        if not rows:
            raise NotFound(f"Pipeline '{pipeline_id}' was not found.")
        return self.store.insert("preliminary_downloads", {"id": self.ids.new("pd"), "job_id": rows[0]["id"],
                                                           "created_at": self.now()})

    def preliminary(self, who: Principal, download_id: str) -> JobRow:
        """The job a preliminary download is of, if ``who`` may see it."""
        row = self.store.get("preliminary_downloads", download_id)
        if row is None:
            raise NotFound(f"Preliminary download '{download_id}' was not found.")
        return self.get(row["job_id"], who)
