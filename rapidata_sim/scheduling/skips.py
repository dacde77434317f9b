"""The skip rule: why a firing of a signal makes no job. One place, one name: ``skip_reason``.

A skipped firing still leaves a run (status ``Skipped``, its ``skippedReason``); what a
firing writes is in ``firing``. The overlap and paused policies it obeys are in ``policies``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .policies import SchedulerConfig

if TYPE_CHECKING:
    from .ledger import Ledger
    from .rows import Rows

#: skippedReason values a run can carry.
PREVIOUS_JOB_NOT_FINISHED = "PreviousJobNotFinished"
AUDIENCE_NOT_READY = "AudienceNotReady"
AUDIENCE_DELETED = "AudienceDeleted"
JOB_DEFINITION_DELETED = "JobDefinitionDeleted"
REVISION_NOT_FOUND = "RevisionNotFound"
SIGNAL_PAUSED = "SignalPaused"


def skip_reason(signal: dict[str, Any], source: str, *, rows: "Rows", ledger: "Ledger",
                config: SchedulerConfig) -> str | None:
    """Why a firing of ``signal`` (``source``: Scheduled or Manual) must not create a job now, or None."""
    if signal["is_paused"] and source == "Scheduled":
        return SIGNAL_PAUSED
    definition = rows.get("job_definitions", signal["job_definition_id"])
    if definition is None or definition["deleted"]:
        return JOB_DEFINITION_DELETED
    audience = rows.get("audiences", signal["audience_id"])
    if audience is None or audience["deleted"]:
        return AUDIENCE_DELETED
    if signal["revision_number"] is not None and rows.store.get(
            "revisions", (signal["job_definition_id"], signal["revision_number"])) is None:
        return REVISION_NOT_FOUND
    if audience["status"] == "Pending":
        # Created/Recruiting audiences take the job and fill up (firing starts recruiting);
        # Pending is the state in which the service will not take work.
        return AUDIENCE_NOT_READY
    overlap_applies = source == "Scheduled" or config.trigger_overlap == "obey"
    if overlap_applies and config.overlap != "allow" and previous_job_running(signal, rows=rows, ledger=ledger):
        return PREVIOUS_JOB_NOT_FINISHED
    return None


def previous_job_running(signal: dict[str, Any], *, rows: "Rows", ledger: "Ledger") -> bool:
    job_id = signal.get("last_job_id")
    if not job_id:
        return False
    finished = ledger.finished(signal["id"], job_id)
    if finished is not None:
        return not finished
    job = rows.get("jobs", job_id, flush=False)  # not the ledger's: written already
    return job is not None and not job["deleted"] and job["state"] not in ("Completed", "Failed")
