"""Job plans: how a world's crowd answers each job (``sim.crowd``), binding the pure models
of ``rapidata_sim.crowd`` to a world: behaviours over time, injected faults, plans.

A job is planned once, when it is created (the behaviour in effect then, its votes needed,
when they arrive), so a later change never rewrites results; its votes are drawn only when
its results are read, from its own seeded streams. See ``docs/crowd.md``.
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from typing import Any

from ..core.clock import check_instant, iso, parse_iso
from ..core.world import World
from ..crowd import referees
from ..crowd.behaviour import Behaviour
from ..crowd.labeling import JobCrowd
from ..crowd.population import Population
from ..crowd.timeline import Rate
from .base import Service
from .ports import JobFaults, VoteCounts

#: Job states a fault can put a job in. All but Failed wait for ``Jobs.resume``.
FAULT_STATES = {"Failed", "Paused", "ManualApproval", "SpendLimited"}
#: Feature flag the SDK's AllowNeitherBothSetting sends (compare "unsure" button).
UNSURE_FLAG = "compare_unsure"
#: Fault rules of an audience that still apply to new jobs.
_ACTIVE_FAULTS = "audience_id = ? AND (remaining IS NULL OR remaining > 0)"


def _fixed_rate(seconds: int) -> dict[str, float]:
    """One unit of work over ``seconds`` (0: done at once)."""
    return {"per_hour": 3600 / seconds if seconds > 0 else 0.0}


class Crowd(Service):
    #: Bound by ``bind`` (the jobs and results services read the crowd too, so they come after it).
    jobs: JobFaults
    results: VoteCounts

    def __init__(self, world: World) -> None:
        super().__init__(world)
        #: Behaviours by row id, including ones holding callables (never stored).
        self._behaviours: dict[int, Behaviour] = {}

    def bind(self, *, jobs: JobFaults, results: VoteCounts) -> None:
        self.jobs = jobs
        self.results = results

    # -- populations ------------------------------------------------------------------

    def population(self, audience: dict[str, Any]) -> Population:
        return Population.from_dict(audience.get("population"))

    # -- behaviours -------------------------------------------------------------------

    def behave(self, audience_id: str, behaviour: Behaviour | None = None, *, definition_id: str | None = None,
               at: datetime | None = None, **models: Any) -> int:
        """From ``at`` (default now; never the past), jobs on this audience are answered so.

        Pass a whole ``Behaviour`` or swap single models (``compare=Prefer(...)``) into
        the behaviour in effect. ``definition_id`` narrows it to one job definition.
        Returns the change's number (its order among changes).
        """
        now = self.clock.now()
        at = check_instant(at or now)
        if at < now:
            raise ValueError(f"a behaviour change cannot start in the past ({iso(at)} < {iso(now)})")
        with self.store.transaction():
            self._get_live("audiences", audience_id, "Audience")
            if behaviour is None:
                behaviour = self.behaviour_for(audience_id, definition_id, iso(at)).replace(**models)
            elif models:
                behaviour = behaviour.replace(**models)
            try:
                spec: dict[str, Any] = behaviour.to_dict()
            except TypeError:
                spec = {"callable": True}
            row = self.store.insert("behaviours", {
                "audience_id": audience_id, "definition_id": definition_id, "from_at": iso(at),
                "spec": spec, "created_at": iso(now)})
            seq = row["id"]
            self._behaviours[seq] = behaviour
            self.record("crowd.behaviour", audience_id, at=iso(now), change=seq, starts=row["from_at"],
                        definition=definition_id, spec=spec)
        return seq

    def latest_change(self) -> int:
        return self.store.conn.execute("SELECT COALESCE(MAX(rowid), 0) FROM behaviours").fetchone()[0]

    def behaviour_for(self, audience_id: str, definition_id: str | None, at: str,
                      upto: int | None = None) -> Behaviour:
        """The behaviour answering a job of (audience, definition) created at ``at``,
        counting only the changes made before it (``upto``)."""
        rows = self.store.conn.execute(
            "SELECT rowid, definition_id, spec FROM behaviours WHERE audience_id = ? AND from_at <= ? "
            "AND (definition_id IS NULL OR definition_id = ?) AND rowid <= ? "
            "ORDER BY definition_id IS NOT NULL, from_at, rowid",
            [audience_id, at, definition_id, upto if upto is not None else 2**62]).fetchall()
        if not rows:
            return Behaviour()
        seq, _, spec = rows[-1]
        if seq in self._behaviours:
            return self._behaviours[seq]
        data = json.loads(spec)
        # A callable behaviour from an earlier process is gone: fall back to the default.
        return Behaviour() if data.get("callable") else Behaviour.from_dict(data)

    # -- faults -----------------------------------------------------------------------

    def inject(self, state: str, *, audience_id: str | None = None, job_id: str | None = None,
               message: str | None = None, after: timedelta = timedelta(0), at_progress: float | None = None,
               jobs: int | None = None) -> None:
        """Make jobs go ``state`` (Failed, Paused, ManualApproval, SpendLimited).

        On ``job_id``: that job, ``after`` from now (or when it reaches ``at_progress``).
        On ``audience_id``: every job created on it from now on (the next ``jobs`` of them, if
        given), ``after`` from its creation or at ``at_progress``. ``clear_faults`` ends it.
        """
        if state not in FAULT_STATES:
            raise ValueError(f"state must be one of {sorted(FAULT_STATES)}, not {state!r}")
        if (audience_id is None) == (job_id is None):
            raise ValueError("give exactly one of audience_id or job_id")
        if at_progress is not None and not 0 <= at_progress <= 1:
            raise ValueError("at_progress is a fraction between 0 and 1")
        if message is None and state == "Failed":
            message = "The job failed (injected by rapidata-sim)."
        fault = {"state": state, "message": message, "after": after.total_seconds(), "at_progress": at_progress}
        with self.store.transaction():
            if audience_id is not None:
                self._get_live("audiences", audience_id, "Audience")
                self.store.insert("faults", {"id": self.ids.new("flt"), "audience_id": audience_id,
                                             "fault": fault, "remaining": jobs, "created_at": self.now()})
                self.record("crowd.fault", audience_id, **fault, jobs=jobs)
                return
            job = self.jobs.get(job_id)  # type: ignore[arg-type]
            self.record("crowd.fault", job["id"], **fault)
            self.jobs.schedule_fault(job, fault)

    def clear_faults(self, audience_id: str) -> None:
        with self.store.transaction():
            self.store.conn.execute("DELETE FROM faults WHERE audience_id = ?", [audience_id])
            self.record("crowd.faults_cleared", audience_id)

    def has_faults(self, audience_id: str) -> bool:
        """Would a new job on this audience get an injected fault (``take_fault``)?"""
        return bool(self.store.count("faults", _ACTIVE_FAULTS, [audience_id]))

    def take_fault(self, audience_id: str) -> dict[str, Any] | None:
        """The fault rule a new job on this audience gets, if any (counting it down)."""
        rows = self.store.select("faults", _ACTIVE_FAULTS, [audience_id], order_by="rowid", limit=1)
        if not rows:
            return None
        row = rows[0]
        if row["remaining"] is not None:
            self.store.update("faults", row["id"], {"remaining": row["remaining"] - 1})
        return row["fault"]

    # -- planning a job ---------------------------------------------------------------

    def plan(self, definition: dict, revision: dict, audience: dict, *, at: str) -> dict[str, Any]:
        """A new job's plan: its stream, behaviour, votes, and crowd rate from ``at``."""
        stream = self.ids.derived("stream", *self.stream_parts(definition, revision, audience), at)
        plan: dict[str, Any] = {"stream": stream, "behaviour": self.latest_change(), "done": 0.0, "since": at}
        fixed = self.fixed_plan(definition, revision, audience)
        if fixed is not None:
            plan.update(fixed)
            return plan
        seconds = audience.get("labeling_seconds")
        if seconds is not None:
            # A fixed labeling time, votes decided by the answers: draw them.
            plan.update(work=1.0, rate=_fixed_rate(seconds), fixed=seconds)
            plan["votes"] = self.votes_needed(definition, revision, audience, plan, at)
            return plan
        population = self.population(audience)
        rate = Rate.of(population, recruiting_started=audience.get("recruiting_started_at")
                       if audience.get("status") in ("Recruiting", "Created") else None)
        votes = self.votes_needed(definition, revision, audience, plan, at)
        work = random.Random(f"{self.world.seed}/{stream}/work").gammavariate(votes, 1.0) if votes else 0.0
        plan.update(work=work, rate=rate.to_dict(), votes=votes)
        return plan

    @staticmethod
    def stream_parts(definition: dict, revision: dict, audience: dict) -> tuple[Any, ...]:
        """What a job's stream id is derived from, besides its instant
        (``ids.derived("stream", *parts, at)``)."""
        return definition["id"], revision["revision_number"], audience["id"]

    def fixed_plan(self, definition: dict, revision: dict, audience: dict) -> dict[str, Any] | None:
        """The part of a plan that every job of (definition, revision, audience) shares, when
        there is one: the audience labels in a fixed time (``labeling_seconds``, scheduler
        tests and benchmarks) and the vote count does not depend on the answers. None when
        each job's plan is its own (a crowd's rate, or answer-dependent votes)."""
        seconds = audience.get("labeling_seconds")
        if seconds is None:
            return None
        votes = self.fixed_votes(revision) if seconds else 0
        if votes is None:
            return None
        return {"work": 1.0, "rate": _fixed_rate(seconds), "fixed": seconds, "votes": votes}

    def fixed_votes(self, revision: dict) -> int | None:
        """A job's vote count when the answers do not decide it (a fixed referee outside
        rankings, or no datapoints), else None."""
        datapoints = self.store.count("datapoints", "dataset_id = ?", [revision["dataset_id"]])
        fixed = referees.fixed_votes(revision["referee"])
        ranking = revision["workflow"].get("_t") in ("GroupedRankingWorkflow", "RankingWorkflow")
        if (fixed is not None and not ranking) or not datapoints:
            return datapoints * referees.max_votes(revision["referee"])
        return None

    def votes_needed(self, definition: dict, revision: dict, audience: dict, plan: dict, at: str) -> int:
        votes = self.fixed_votes(revision)
        if votes is not None:
            return votes
        # The answers decide when a datapoint stops, or a ranking group counts its pairs:
        # draw them (the results draw the same).
        job = {"definition_id": definition["id"], "revision_number": revision["revision_number"],
               "audience_id": audience["id"], "created_at": at, "plan": plan}
        return self.results.vote_count(job)

    def job_crowd(self, job: dict[str, Any], revision: dict[str, Any]) -> JobCrowd:
        plan = job["plan"] or {}
        audience = self.store.get("audiences", job["audience_id"]) or {}
        behaviour = self.behaviour_for(job["audience_id"], job["definition_id"], job["created_at"],
                                       upto=plan.get("behaviour"))
        flags = {f.get("key") for f in (revision.get("feature_flags") or []) if isinstance(f, dict)}
        return JobCrowd(seed=self.world.seed, stream=plan.get("stream") or job.get("id", ""), behaviour=behaviour,
                        population=self.population(audience), referee=revision["referee"],
                        allow_unsure=UNSURE_FLAG in flags)

    # -- progress ---------------------------------------------------------------------

    @staticmethod
    def rate(plan: dict[str, Any]) -> Rate:
        return Rate.from_dict(plan["rate"])

    def checkpoint(self, plan: dict[str, Any], at: str) -> dict[str, Any]:
        """``plan`` (a running job's) with the work done up to ``at`` banked and counting from there."""
        done = plan.get("done", 0.0) + self.rate(plan).work(parse_iso(plan["since"]), parse_iso(at))
        return {**plan, "done": done, "since": at}

    def done(self, job: dict[str, Any], now: datetime) -> float:
        """Fraction of the job's work its crowd has delivered at ``now``."""
        plan = job["plan"] or {}
        if job["state"] == "Completed":
            return 1.0
        work = plan.get("work") or 0.0
        if work <= 0:
            return 1.0 if job["state"] == "Running" else 0.0
        done = plan.get("done", 0.0)
        if job["state"] == "Running":
            if job.get("completes_at") and parse_iso(job["completes_at"]) <= now:
                return 1.0
            done += self.rate(plan).work(parse_iso(plan["since"]), now)
        return max(0.0, min(1.0, done / work))

    def finish_at(self, plan: dict[str, Any], since: datetime) -> datetime | None:
        """When the rest of the job's work is done, working from ``since``."""
        left = (plan.get("work") or 0.0) - plan.get("done", 0.0)
        if plan.get("fixed") is not None and plan.get("done", 0.0) == 0.0:
            return since + timedelta(seconds=plan["fixed"])
        return self.rate(plan).finish(since, left)

    def fault_instant(self, plan: dict[str, Any], fault: dict[str, Any], start: datetime,
                      finish: datetime | None) -> datetime | None:
        """When ``fault`` strikes a job planned from ``start`` (None: never, it finishes first)."""
        if fault.get("at_progress") is not None:
            left = (plan.get("work") or 0.0) * fault["at_progress"] - plan.get("done", 0.0)
            when = self.rate(plan).finish(start, max(0.0, left)) if left > 0 else start
        else:
            when = start + timedelta(seconds=fault.get("after") or 0)
        if when is None or (finish is not None and when > finish):
            return None
        return when

