"""When things happen: signal firings, manual triggers, job completions.

``Scheduler.sync()`` brings a world up to its clock's ``now`` by processing
every due event in time order (ties: jobs finishing before signals firing,
then creation order), each at its own instant. Every request and every clock
move calls it, so nothing depends on when somebody happened to look.

The skip rule lives in ``skip_reason``: one place, one name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from .clock import iso, parse_iso

if TYPE_CHECKING:
    from .simulator import Simulator

#: skippedReason values a run can carry.
PREVIOUS_JOB_NOT_FINISHED = "PreviousJobNotFinished"
AUDIENCE_NOT_READY = "AudienceNotReady"
AUDIENCE_DELETED = "AudienceDeleted"
JOB_DEFINITION_DELETED = "JobDefinitionDeleted"
REVISION_NOT_FOUND = "RevisionNotFound"


@dataclass
class SchedulerConfig:
    """Knobs for behaviour the real service does not document (see README)."""

    #: Seconds of virtual time between ``trigger()`` and its run starting, unless
    #: the runs are listed first (which starts them at once, as the SDK needs).
    trigger_latency_seconds: float = 5.0
    #: Overlap policy for scheduled firings while the signal's previous job runs:
    #: "skip" (record a Skipped run) or "allow" (fire anyway).
    overlap: str = "skip"
    #: Most missed firings caught up in one sync (protects against huge jumps).
    max_catch_up: int = 100_000


class Scheduler:
    def __init__(self, sim: "Simulator", config: SchedulerConfig | None = None) -> None:
        self.sim = sim
        self.store = sim.store
        self.config = config or SchedulerConfig()

    # -- the skip rule ------------------------------------------------------------

    def skip_reason(self, signal: dict[str, Any], source: str) -> str | None:
        """Why a firing of ``signal`` must not create a job, or None to fire."""
        definition = self.store.get("job_definitions", signal["job_definition_id"])
        if definition is None or definition["deleted"]:
            return JOB_DEFINITION_DELETED
        audience = self.store.get("audiences", signal["audience_id"])
        if audience is None or audience["deleted"]:
            return AUDIENCE_DELETED
        if signal["revision_number"] is not None and self.store.get(
                "revisions", (signal["job_definition_id"], signal["revision_number"])) is None:
            return REVISION_NOT_FOUND
        if audience["status"] == "Pending":
            # Created/Recruiting audiences take the job and fill up (firing starts recruiting);
            # Pending is the state in which the service will not take work.
            return AUDIENCE_NOT_READY
        if source == "Scheduled" and self.config.overlap == "skip" and self._previous_job_running(signal):
            return PREVIOUS_JOB_NOT_FINISHED
        return None

    def _previous_job_running(self, signal: dict[str, Any]) -> bool:
        rows = self.store.select("signal_runs", "signal_id = ? AND audience_job_id IS NOT NULL",
                                 [signal["id"]], order_by="started_at DESC, rowid DESC", limit=1)
        if not rows:
            return False
        job = self.store.get("jobs", rows[0]["audience_job_id"])
        return job is not None and not job["deleted"] and job["state"] not in ("Completed", "Failed")

    # -- firing -------------------------------------------------------------------

    def fire(self, signal: dict[str, Any], source: str, at: str) -> dict[str, Any]:
        """One firing of ``signal`` at instant ``at``: a run, and a job unless skipped."""
        sim = self.sim
        run = {"id": sim.ids.new("run"), "signal_id": signal["id"], "trigger_source": source, "started_at": at}
        reason = self.skip_reason(signal, source)
        if reason is not None:
            run.update(status="Skipped", skipped_reason=reason, completed_at=at)
            self.store.insert("signal_runs", run)
            sim.signals.record("signal.skipped", signal["id"], at=at, run=run["id"], source=source, reason=reason)
        else:
            owner = sim.identity.principal(signal["owner_id"])
            sim.audiences.start_recruiting(None, signal["audience_id"])
            definition = self.store.get("job_definitions", signal["job_definition_id"])
            number = signal["revision_number"] or definition["latest_revision"]
            revision = self.store.get("revisions", (definition["id"], number))
            audience = self.store.get("audiences", signal["audience_id"])
            job = sim.jobs._start(owner, definition, revision, audience, at=at)
            run.update(status="Running", audience_job_id=job["id"])
            self.store.insert("signal_runs", run)
            sim.signals.record("signal.fired", signal["id"], at=at, run=run["id"], source=source, job=job["id"],
                               revision=number)
            if job["state"] == "Completed":
                self._finish_runs(job)
        self.store.update("signals", signal["id"], {"last_run_at": at})
        return run

    def _finish_runs(self, job: dict[str, Any]) -> None:
        for run in self.store.select("signal_runs", "audience_job_id = ? AND status = 'Running'", [job["id"]]):
            failed = job["state"] == "Failed"
            self.store.update("signal_runs", run["id"], {
                "status": "Failed" if failed else "Completed",
                "completed_at": job["failed_at"] if failed else job["completed_at"],
                "result_file_name": None if failed else f"{job['id']}_results.json",
                "failure_message": job["failure_message"] if failed else None,
            })

    def start_pending_triggers(self, signal_id: str) -> None:
        """Start queued manual runs now (called when runs are listed)."""
        signal = self.store.get("signals", signal_id)
        if signal and signal["pending_triggers"]:
            self._start_triggers(signal, self.sim.clock.now())

    def _start_triggers(self, signal: dict[str, Any], at_dt) -> None:
        at = iso(at_dt)
        for _ in range(signal["pending_triggers"]):
            self.fire(signal, "Manual", at)
        self.store.update("signals", signal["id"], {"pending_triggers": 0, "pending_trigger_at": None})

    # -- time ---------------------------------------------------------------------

    def _next_event(self) -> tuple[str, int, Any] | None:
        """(instant, kind order, payload) of the earliest due-able event, or None."""
        candidates: list[tuple[str, int, Any]] = []
        job = self.sim.jobs.next_completion()
        if job is not None:
            candidates.append((job["completes_at"], 0, ("job", job)))
        rows = self.store.select("signals", "deleted = 0 AND is_paused = 0", order_by="next_run_at, rowid", limit=1)
        if rows:
            candidates.append((rows[0]["next_run_at"], 1, ("signal", rows[0])))
        rows = self.store.select("signals", "deleted = 0 AND pending_triggers > 0",
                                 order_by="pending_trigger_at, rowid", limit=1)
        if rows:
            due = parse_iso(rows[0]["pending_trigger_at"]) + timedelta(seconds=self.config.trigger_latency_seconds)
            candidates.append((iso(due), 2, ("trigger", rows[0])))
        return min(candidates, key=lambda c: (c[0], c[1])) if candidates else None

    def next_event_at(self) -> str | None:
        event = self._next_event()
        return event[0] if event else None

    def sync(self) -> int:
        """Process every event due at or before the clock's now; returns how many."""
        now = iso(self.sim.clock.now())
        processed = 0
        with self.store.transaction():
            while processed < self.config.max_catch_up:
                event = self._next_event()
                if event is None or event[0] > now:
                    break
                at, _, (kind, row) = event
                if kind == "job":
                    self.sim.jobs.complete(row)
                    self._finish_runs(row)
                elif kind == "signal":
                    self.fire(row, "Scheduled", at)
                    nxt = parse_iso(at) + timedelta(seconds=row["interval_seconds"])
                    self.store.update("signals", row["id"], {"next_run_at": iso(nxt)})
                else:
                    self._start_triggers(row, parse_iso(at))
                processed += 1
        return processed
