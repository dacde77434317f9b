"""When things happen: signal firings, manual triggers, job completions.

``Scheduler.sync()`` brings a world up to its clock's ``now``: it processes
every due event in time order — job completions, then firings, then manual
triggers at the same instant, then the order they were scheduled in — each
stamped with its own due time. Every request and every clock move calls it,
so nothing depends on when somebody happened to look.

The queue is an in-memory heap of *hints*; the store stays the truth. A popped
entry is acted on only if the row still says it is due at that instant (a
paused, deleted, re-timed or rolled-back row makes it stale), so a lost race
or a rolled-back request can leave a stale hint, never a wrong firing; and a
duplicate hint is harmless, because acting on an entry moves its row on (the
grid advances, the job completes, the trigger starts).

Vocabulary (borrowed from Temporal schedules, Kubernetes CronJob, APScheduler):

- **grid**: ``nextRunAt = createdAt + interval``, then every interval.
- **overlap policy** (``SchedulerConfig.overlap``), when a firing finds the
  signal's previous job unfinished: ``skip`` (record a Skipped run),
  ``allow`` (fire anyway), ``buffer_one`` (hold one firing and run it the
  moment the previous job finishes; further firings meanwhile are skipped).
- **paused policy** (``paused``): ``none`` records nothing while paused;
  ``skip`` records a Skipped run (``SignalPaused``) at each grid point.
- **catch-up policy** (``catch_up``), applied when an outage ends: ``none``,
  ``latest`` (one firing for the missed points) or ``all`` (one per point).

The skip rule lives in ``skip_reason``: one place, one name.

**Steady stretches** (``fast_forward``): firings nothing in a sync can change (``_lane``
says which) are taken in one pass over a local copy of the queue, in the same order and
with the same ids, and their rows are written when read (``ledger``). Everything else is
taken one event at a time, as above.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal

from ..core.clock import HORIZON, CalendarError, iso, parse_iso
from ..core.world import World
from ..domain.jobs import results_file_name
from .ledger import COMPLETION, FIRING, Lane, Ledger, Stretch, from_us, to_us

if TYPE_CHECKING:
    from ..domain.audiences import Audiences
    from ..domain.identity import Identity
    from ..domain.job_plans import Crowd
    from ..domain.jobs import Jobs
    from ..domain.signals import Signals

#: A run's status for the state its job is created in.
RUN_STATUS = {"Completed": "Completed", "Failed": "Failed"}

#: skippedReason values a run can carry.
PREVIOUS_JOB_NOT_FINISHED = "PreviousJobNotFinished"
AUDIENCE_NOT_READY = "AudienceNotReady"
AUDIENCE_DELETED = "AudienceDeleted"
JOB_DEFINITION_DELETED = "JobDefinitionDeleted"
REVISION_NOT_FOUND = "RevisionNotFound"
SIGNAL_PAUSED = "SignalPaused"

# Heap entry kinds, in tie-break order at one instant.
_AUDIENCE, _JOB, _FIRE, _TRIGGER = -1, 0, 1, 2


@dataclass
class SchedulerConfig:
    """Knobs for behaviour the real service does not document (see ``docs/behaviour.md``)."""

    #: Seconds of virtual time between ``trigger()`` and its run starting, unless
    #: the runs are listed first (which starts them at once, as the SDK needs).
    trigger_latency_seconds: float = 5.0
    overlap: Literal["skip", "allow", "buffer_one"] = "skip"
    #: Whether manual triggers obey the overlap policy ("obey") or always fire ("ignore").
    trigger_overlap: Literal["obey", "ignore"] = "obey"
    paused: Literal["none", "skip"] = "none"
    catch_up: Literal["none", "latest", "all"] = "latest"
    #: Most events one sync processes (a guard against runaway loops, not a policy).
    max_events_per_sync: int = 50_000_000
    #: Take steady stretches of firings at once and write their rows when read (``ledger``).
    #: Changes nothing anyone can observe, only how long a long jump takes; off, every
    #: firing is written as it happens (the tests compare the two).
    fast_forward: bool = True


class Scheduler:
    """Implements ``domain.ports.Scheduling``: services tell it about work through ``watch_*``,
    ``complete_now`` and ``start_pending_triggers``.

    Built before the services (they are given it) and bound to the ones it acts through by
    ``bind``; until then it only reads rows.
    """

    identity: Identity
    audiences: Audiences
    jobs: Jobs
    signals: Signals
    crowd: Crowd

    def __init__(self, world: World, config: SchedulerConfig | None = None) -> None:
        self.world = world
        self.store = world.store
        self.clock = world.clock
        self.ids = world.ids
        self.log = world.log
        self.config = config or SchedulerConfig()
        self._heap: list[tuple[str, int, int, str]] = []
        self._seq = itertools.count()
        #: Events processed since the world opened (firings, completions, trigger starts, ...).
        self.processed = 0
        # Read cache, valid while the store lock is held (one sync, one next_event_at): the
        # rows the scheduler reads and writes itself; it updates the cached dicts as it writes.
        self._rows: dict[tuple, Any] = {}
        #: Firings of steady stretches, decided but not yet written as rows.
        self.ledger = Ledger(world.ids)
        self.store.deferred = self.ledger
        self.rebuild()
        # A rolled-back transaction may have undone firings whose queue entries were already
        # popped (the grid's next point pushed, the row back at the old one): start again from rows.
        self.store.on_rollback.append(self.rebuild)

    def bind(self, *, identity: Identity, audiences: Audiences, jobs: Jobs, signals: Signals, crowd: Crowd) -> None:
        """The services the scheduler acts through (firings create jobs, completions settle them)."""
        self.identity = identity
        self.audiences = audiences
        self.jobs = jobs
        self.signals = signals
        self.crowd = crowd

    # -- the queue ----------------------------------------------------------------

    def rebuild(self) -> None:
        """Recreate the queue from the store (a reopened world, or after direct edits)."""
        self._heap = []
        for audience in self.store.select("audiences", "status = 'Recruiting' AND deleted = 0", order_by="rowid"):
            self.watch_audience(audience)
        for job in self.store.select("jobs", "state = 'Running' AND deleted = 0", order_by="rowid"):
            self.watch_job(job)
        for signal in self.store.select("signals", "deleted = 0", order_by="rowid"):
            self.watch_signal(signal)

    def _push(self, due: str, kind: int, key: str) -> None:
        heapq.heappush(self._heap, (due, kind, next(self._seq), key))

    def watch_job(self, job: dict[str, Any]) -> None:
        if job["state"] == "Running" and not job.get("deleted") and job["completes_at"] is not None:
            self._push(job["completes_at"], _JOB, job["id"])

    def watch_audience(self, audience: dict[str, Any]) -> None:
        """A recruiting audience turns Ready at its ``ready_at`` instant."""
        if audience["status"] == "Recruiting" and audience.get("ready_at") and not audience["deleted"]:
            self._push(audience["ready_at"], _AUDIENCE, audience["id"])

    def watch_signal(self, signal: dict[str, Any]) -> None:
        if signal.get("deleted"):
            return
        if not signal["is_paused"] or self.config.paused == "skip":
            self._push(signal["next_run_at"], _FIRE, signal["id"])
        if signal.get("pending_triggers"):
            self._push(self._trigger_due(signal), _TRIGGER, signal["id"])

    def _trigger_due(self, signal: dict[str, Any]) -> str:
        return iso(parse_iso(signal["pending_trigger_at"]) + timedelta(seconds=self.config.trigger_latency_seconds))

    def _live(self, entry: tuple[str, int, int, str], *, flush: bool = True) -> dict[str, Any] | None:
        """The row an entry is about, if the entry is still true; None if stale.
        ``flush=False``: a job is read only as written (for one the ledger does not hold)."""
        due, kind, _, key = entry
        if kind == _AUDIENCE:
            audience = self._cached("audiences", key)
            return audience if audience and audience["status"] == "Recruiting" and not audience["deleted"] \
                and audience.get("ready_at") == due else None
        if kind == _JOB:
            job = self._cached("jobs", key, flush=flush)
            return job if job and job["state"] == "Running" and not job["deleted"] and job["completes_at"] == due \
                else None
        signal = self._cached("signals", key)
        if signal is None or signal["deleted"]:
            return None
        if kind == _FIRE:
            active = not signal["is_paused"] or self.config.paused == "skip"
            return signal if active and signal["next_run_at"] == due else None
        return signal if signal["pending_triggers"] and self._trigger_due(signal) == due else None

    def _peek(self) -> tuple[tuple[str, int, int, str], dict[str, Any]] | None:
        while self._heap:
            entry = self._heap[0]
            row = self._live(entry)
            if row is not None:
                return entry, row
            heapq.heappop(self._heap)
        return None

    def next_event_at(self) -> str | None:
        """When the next thing happens (firing, trigger start, job completion), or None."""
        with self.store.transaction():
            self._rows.clear()
            peeked = self._peek()
            self._rows.clear()
        return peeked[0][0] if peeked else None

    def has_pending_work(self) -> bool:
        """Is a job running or a trigger queued? (Firings recur forever, so they do not count.)"""
        return bool(self.store.count("jobs", "state = 'Running' AND deleted = 0")
                    or self.store.count("signals", "deleted = 0 AND pending_triggers > 0"))

    # -- the skip rule ------------------------------------------------------------

    def _cached(self, table: str, key: str, *, flush: bool = True) -> dict[str, Any] | None:
        row = self._rows.get((table, key))
        if row is None:
            row = self._rows[(table, key)] = self.store.get(table, key, flush=flush)
        return row

    def _owner(self, signal: dict[str, Any]) -> Any:
        """The signal's owner, as the jobs it creates are made by (cached like the rows)."""
        owner = self._rows.get(("principal", signal["owner_id"]))
        if owner is None:
            owner = self._rows[("principal", signal["owner_id"])] = self.identity.principal(signal["owner_id"])
        return owner

    def skip_reason(self, signal: dict[str, Any], source: str) -> str | None:
        """Why a firing of ``signal`` must not create a job now, or None to fire."""
        if signal["is_paused"] and source == "Scheduled":
            return SIGNAL_PAUSED
        definition = self._cached("job_definitions", signal["job_definition_id"])
        if definition is None or definition["deleted"]:
            return JOB_DEFINITION_DELETED
        audience = self._cached("audiences", signal["audience_id"])
        if audience is None or audience["deleted"]:
            return AUDIENCE_DELETED
        if signal["revision_number"] is not None and self.store.get(
                "revisions", (signal["job_definition_id"], signal["revision_number"])) is None:
            return REVISION_NOT_FOUND
        if audience["status"] == "Pending":
            # Created/Recruiting audiences take the job and fill up (firing starts recruiting);
            # Pending is the state in which the service will not take work.
            return AUDIENCE_NOT_READY
        if self._overlap_applies(source) and self.config.overlap != "allow" and self.previous_job_running(signal):
            return PREVIOUS_JOB_NOT_FINISHED
        return None

    def _overlap_applies(self, source: str) -> bool:
        return source == "Scheduled" or self.config.trigger_overlap == "obey"

    def previous_job_running(self, signal: dict[str, Any]) -> bool:
        job_id = signal.get("last_job_id")
        if not job_id:
            return False
        finished = self.ledger.finished(signal["id"], job_id)
        if finished is not None:
            return not finished
        job = self._cached("jobs", job_id, flush=False)  # not the ledger's: written already
        return job is not None and not job["deleted"] and job["state"] not in ("Completed", "Failed")

    # -- firing -------------------------------------------------------------------

    def fire(self, signal: dict[str, Any], source: str, at: str, *, next_run_at: str | None = None) -> dict[str, Any]:
        """One firing of ``signal`` at instant ``at``: a run, and a job unless skipped.

        ``next_run_at`` (scheduled firings) moves the grid on in the same write.
        """
        grid = {"next_run_at": next_run_at} if next_run_at else {}
        run = {"id": self.ids.new("run"), "signal_id": signal["id"], "trigger_source": source, "started_at": at}
        reason = self.skip_reason(signal, source)
        if (reason == PREVIOUS_JOB_NOT_FINISHED and self.config.overlap == "buffer_one"
                and not signal.get("buffered_at")):
            self.store.update("signals", signal["id"], {"buffered_at": at, **grid})
            signal.update(buffered_at=at, **grid)
            self.log.record("signal.buffered", signal["id"], at=at, source=source)
            return run
        if reason is not None:
            run.update(status="Skipped", skipped_reason=reason, completed_at=at)
            self.store.insert("signal_runs", run)
            if grid:
                self.store.update("signals", signal["id"], grid)
                signal.update(grid)
            self.log.record("signal.skipped", signal["id"], at=at, run=run["id"], source=source, reason=reason)
            return run
        audience = self._cached("audiences", signal["audience_id"])
        if audience["status"] == "Created" and self.audiences.start_recruiting(None, audience["id"], at=at):
            audience = self._rows[("audiences", audience["id"])] = self.store.get("audiences", audience["id"])
        owner = self._owner(signal)
        definition = self._cached("job_definitions", signal["job_definition_id"])
        number = signal["revision_number"] or definition["latest_revision"]
        revision = self._rows.get(("revision", definition["id"], number))
        if revision is None:
            revision = self._rows[("revision", definition["id"], number)] = self.store.get(
                "revisions", (definition["id"], number))
        job = self.jobs.new_row(owner, definition, revision, audience, at=at)
        self.store.insert("jobs", job)
        self._rows[("jobs", job["id"])] = job
        run.update(status=RUN_STATUS.get(job["state"], "Running"), audience_job_id=job["id"])
        if job["state"] == "Completed":
            run.update(completed_at=at, result_file_name=results_file_name(job["id"]))
        elif job["state"] == "Failed":
            run.update(completed_at=at, failure_message=job["failure_message"])
        self.store.insert("signal_runs", run)
        self.store.update("signals", signal["id"], {"last_run_at": at, "last_job_id": job["id"], **grid})
        signal.update(last_run_at=at, last_job_id=job["id"], **grid)
        self.log.record("signal.fired", signal["id"], at=at, run=run["id"], source=source, job=job["id"],
                        revision=number, completes_at=job["completes_at"])
        self.jobs.record_settled(job)
        self.watch_job(job)
        return run

    def complete_now(self, job: dict[str, Any]) -> None:
        """Settle a job whose due instant is now (a fault injected to strike at once)."""
        with self.store.transaction():
            self._rows.clear()
            self._job_completed(job)
            self._rows.clear()

    def _job_completed(self, job: dict[str, Any]) -> None:
        at = job["completes_at"]
        self.jobs.complete(job)
        if job["state"] not in ("Completed", "Failed"):
            return  # halted (Paused, ManualApproval, SpendLimited): its run is still running
        runs = self.store.select("signal_runs", "audience_job_id = ? AND status = 'Running'", [job["id"]])
        for run in runs:
            if job["state"] == "Completed":
                self.store.update("signal_runs", run["id"], {
                    "status": "Completed", "completed_at": job["completed_at"],
                    "result_file_name": results_file_name(job["id"])})
            else:
                self.store.update("signal_runs", run["id"], {
                    "status": "Failed", "completed_at": at, "failure_message": job["failure_message"]})
            signal = self._cached("signals", run["signal_id"])
            if signal and signal["buffered_at"] and not signal["deleted"]:
                # buffer_one: the held firing runs the moment its predecessor finishes.
                self.store.update("signals", signal["id"], {"buffered_at": None})
                signal["buffered_at"] = None
                self.fire(signal, "Scheduled", at)

    def start_pending_triggers(self, signal_id: str) -> None:
        """Start queued manual runs now (called when runs are listed)."""
        with self.store.transaction():
            self._rows.clear()
            signal = self._cached("signals", signal_id)
            if signal and signal["pending_triggers"]:
                self._start_triggers(signal, iso(self.clock.now()))
            self._rows.clear()

    def _start_triggers(self, signal: dict[str, Any], at: str) -> None:
        count = signal["pending_triggers"]
        self.store.update("signals", signal["id"], {"pending_triggers": 0, "pending_trigger_at": None})
        signal.update(pending_triggers=0, pending_trigger_at=None)
        for _ in range(count):
            self.fire(signal, "Manual", at)

    @staticmethod
    def _next_point(signal: dict[str, Any], due: str) -> str:
        return iso(parse_iso(due) + timedelta(seconds=signal["interval_seconds"]))

    # -- time ---------------------------------------------------------------------

    def sync(self, until: str | None = None, *, missed: dict[str, list[str]] | None = None) -> int:
        """Process every event due at or before ``until`` (default: the clock's now).

        With ``missed`` (an outage), firings are not made but collected per signal,
        and trigger starts due at ``until`` itself wait for the caller's catch-up.
        """
        until = until or iso(self.clock.now())
        processed = 0
        limit = self.config.max_events_per_sync
        fast = self.config.fast_forward and missed is None
        retry_at = 0  # when to look for a steady stretch again (each look scans the queue)
        with self.store.transaction():
            self._rows.clear()
            while processed < limit:
                if fast and processed >= retry_at:
                    taken = self._fast_forward(until, limit - processed)
                    processed += taken
                    # Found one: look again after the next event. None: not before as many
                    # events as the queue is long, so looking costs O(1) per event.
                    retry_at = processed + (1 if taken else max(16, len(self._heap)))
                    if processed >= limit:
                        break
                peeked = self._peek()
                if peeked is None or peeked[0][0] > until:
                    break
                if missed is not None and peeked[0][0] == until and peeked[0][1] == _TRIGGER:
                    # An outage's end instant: its catch-up firing comes before trigger starts.
                    break
                entry, row = peeked
                heapq.heappop(self._heap)
                due, kind = entry[0], entry[1]
                if kind == _AUDIENCE:
                    self.audiences.become_ready(row, due)
                elif kind == _JOB:
                    self._job_completed(row)
                elif kind == _FIRE:
                    nxt = self._next_point(row, due)
                    if missed is not None and not row["is_paused"]:
                        missed.setdefault(row["id"], []).append(due)
                        self.log.record("signal.missed", row["id"], at=due)
                        self.store.update("signals", row["id"], {"next_run_at": nxt})
                        row["next_run_at"] = nxt
                    else:
                        self.fire(row, "Scheduled", due, next_run_at=nxt)
                    self._push(nxt, _FIRE, row["id"])
                else:
                    self._start_triggers(row, due)
                processed += 1
                if not processed % 4096:
                    self._rows.clear()  # a read cache: dropped now and then, so a long sync's memory is bounded
            self._rows.clear()
        self.processed += processed
        return processed

    # -- steady stretches -----------------------------------------------------------

    def _lane(self, signal: dict[str, Any], memo: dict[tuple, Any]) -> Lane | None:
        """What ``signal``'s coming firings share, if they are steady; else None.

        Steady: nothing within this sync can change how they turn out. The signal fires (no
        skip reason, its previous job finished, no manual run or held firing queued), on a
        Ready audience whose jobs all take the same fixed time, at most its interval (so each
        job is done by the next grid point), and are planned alike (``Crowd.fixed_plan``),
        with no injected fault waiting. Every other firing is taken one by one.
        """
        if signal["deleted"] or signal["is_paused"] or signal.get("buffered_at") or signal.get("pending_triggers"):
            return None
        if self.skip_reason(signal, "Scheduled") is not None:
            return None
        audience = self._cached("audiences", signal["audience_id"])
        seconds = audience.get("labeling_seconds")
        if audience["status"] != "Ready" or seconds is None or seconds > signal["interval_seconds"]:
            return None
        definition = self._cached("job_definitions", signal["job_definition_id"])
        number = signal["revision_number"] or definition["latest_revision"]
        key = (definition["id"], number, audience["id"])
        if key not in memo:
            crowd = self.crowd
            revision = self.store.get("revisions", (definition["id"], number))
            fixed = crowd.fixed_plan(definition, revision, audience) if revision else None
            memo[key] = None if fixed is None or crowd.has_faults(audience["id"]) else (
                revision, fixed, crowd.stream_parts(definition, revision, audience), crowd.latest_change())
        if memo[key] is None:
            return None
        revision, fixed, stream, behaviour = memo[key]
        job = self.jobs.shared_columns(self._owner(signal), definition, revision, audience)
        return Lane(signal_id=signal["id"], interval_us=signal["interval_seconds"] * 1_000_000,
                    duration_us=seconds * 1_000_000, stream=stream, job=job, behaviour=behaviour,
                    fixed_plan=fixed, revision=number)

    def _fast_forward(self, until: str, budget: int) -> int:
        """Take the steady firings due up to ``until`` in one stretch (``ledger``), up to the
        first queued event that is not one (a job of its own finishing, a trigger starting,
        an audience turning Ready, a firing that is not steady). Returns the events taken.

        Same order, same ids, same rows as one by one: a local queue replays the real one
        (same keys, same sequence numbers) and the ids are drawn in the same order; only
        the writing waits.
        """
        if not self._heap or self._heap[0][0] > until:
            return 0  # nothing due (most requests): no need to look at the queue
        memo: dict[tuple, Any] = {}
        lanes: list[Lane] = []
        lane_of: dict[str, int] = {}
        chain: list[int] = []  # per lane: its next grid point (nextRunAt), in µs
        local: list[tuple] = []
        kept: list[tuple[str, int, int, str]] = []
        barrier: tuple[int, int, int] | None = None
        for entry in self._heap:
            due, kind, seq, key = entry
            if due > until:
                kept.append(entry)  # not this sync's business, whatever it is
                continue
            if kind == _FIRE:
                no = lane_of.get(key)
                if no is None:
                    signal = self._cached("signals", key)
                    lane = self._lane(signal, memo) if signal is not None else None
                    no = lane_of[key] = -1 if lane is None else len(lanes)
                    if lane is not None:
                        lanes.append(lane)
                        chain.append(to_us(parse_iso(signal["next_run_at"])))  # type: ignore[index]
                if no >= 0:
                    # Every hint of a steady signal goes along, stale ones too: one that names a
                    # later grid point comes true when the signal gets there, as in the queue.
                    local.append((to_us(parse_iso(due)), _FIRE, seq, no))
                    continue
                live = self._live(entry) is not None
            elif kind == _JOB and key in self.ledger.running:
                live = self.ledger.running[key] == due
            else:
                live = self._live(entry, flush=False) is not None
            kept.append(entry)
            if live:
                mark = (to_us(parse_iso(due)), kind, seq)
                barrier = mark if barrier is None or mark < barrier else barrier
        if not local:
            return 0
        heapq.heapify(local)
        until_us = to_us(parse_iso(until))
        stretch = Stretch(lanes)
        kinds, lane_nos, dues, ids, done, completes, last = (
            stretch.kind, stretch.lane, stretch.due, stretch.ids, stretch.done, stretch.completes, stretch.last)
        push, pop, counter = heapq.heappush, heapq.heappop, self._seq
        taken = firing = settled_at_once = 0
        with self.ids.raw() as draw:
            while local and taken < budget:
                top = local[0]
                if top[0] > until_us or (barrier is not None and top > barrier):
                    break
                pop(local)
                due, kind, _, no = top[:4]
                lane = lanes[no]
                if kind == _FIRE:
                    if due != chain[no]:
                        continue  # a stale hint: passed over, as the queue does
                    chain[no] = due + lane.interval_us
                    kinds.append(FIRING)
                    lane_nos.append(no)
                    dues.append(due)
                    ids.append(draw(48))  # the run's, the job's, the pipeline's: fire()'s order
                    ids.append(draw(48))
                    ids.append(draw(48))
                    last[no] = (firing, due)
                    if lane.duration_us:
                        done.append(0)
                        push(local, (due + lane.duration_us, _JOB, next(counter), no, firing))
                    else:
                        done.append(1)
                        settled_at_once += 1
                    push(local, (due + lane.interval_us, _FIRE, next(counter), no))
                    firing += 1
                else:
                    kinds.append(COMPLETION)
                    lane_nos.append(no)
                    dues.append(due)
                    completes.append(top[4])
                    done[top[4]] = 1
                taken += 1
        if not taken:
            return 0
        stretch.events = len(kinds) + settled_at_once
        stretch.first_seq = self.store.reserve_seqs(stretch.events)
        self._count_streams(stretch)
        # The queue from here: what was not taken, and the stretch's next firings and running jobs.
        for entry in local:
            if entry[1] == _FIRE:
                kept.append((iso(from_us(entry[0])), _FIRE, entry[2], lanes[entry[3]].signal_id))
            else:
                job_id = f"job_{ids[3 * entry[4] + 1]:012x}"
                kept.append((iso(from_us(entry[0])), _JOB, entry[2], job_id))
        heapq.heapify(kept)
        self._heap = kept
        for no, (last_firing, due) in last.items():
            self.store.update("signals", lanes[no].signal_id, {
                "last_run_at": iso(from_us(due)), "last_job_id": f"job_{ids[3 * last_firing + 1]:012x}",
                "next_run_at": iso(from_us(chain[no]))})
        self.ledger.add(stretch)
        self._rows.clear()
        return taken

    def _count_streams(self, stretch: Stretch) -> None:
        """Stream ids count repeats of (definition, revision, audience, instant): take over the
        count at the stretch's first instant, and leave it right at its last (the only two
        instants anything outside the stretch can share with it)."""
        ids = self.ids
        first, last = stretch.due[0], max(due for _, due in stretch.last.values())
        first_at, last_at = iso(from_us(first)), iso(from_us(last))
        for lane in stretch.lanes:
            if lane.stream not in stretch.stream_base:
                stretch.stream_base[lane.stream] = ids.derived_count("stream", lane.stream + (first_at,))
        at_last: dict[tuple, int] = {}
        for i in range(len(stretch.kind) - 1, -1, -1):
            if stretch.due[i] < last:
                break
            if stretch.kind[i] == FIRING:
                stream = stretch.lanes[stretch.lane[i]].stream
                at_last[stream] = at_last.get(stream, 0) + 1
        for stream, count in at_last.items():
            base = stretch.stream_base.get(stream, 0) if last == first else 0
            ids.set_derived_count("stream", stream + (last_at,), base + count)

    def outage(self, duration: timedelta) -> dict[str, list[str]]:
        """The service is down for ``duration``: firings in it are missed, then caught up.

        Jobs keep progressing (labelers do not depend on the scheduler). When the
        outage ends, ``catch_up`` decides what fires: nothing, the latest missed
        point once, or every missed point, all at the end instant.
        """
        self.sync()
        start = self.clock.now()
        if not timedelta(0) <= duration <= HORIZON - start:
            raise CalendarError(f"an outage cannot be negative or end after {iso(HORIZON)}, "
                                "the end of the simulated calendar")
        end = start + duration
        self.log.record("outage.started", "world", at=iso(start), until=iso(end))
        missed: dict[str, list[str]] = {}
        with self.store.transaction():
            self.sync(until=iso(end), missed=missed)
            at = iso(self.clock.advance_to(end, or_stay=True))
            self.log.record("outage.ended", "world", at=at, missed=sum(len(v) for v in missed.values()),
                            policy=self.config.catch_up)
            self._rows.clear()
            for signal_id, points in missed.items():
                signal = self._cached("signals", signal_id)
                times = {"none": 0, "latest": 1, "all": len(points)}[self.config.catch_up]
                for _ in range(times):
                    self.fire(signal, "Scheduled", at)
            self._rows.clear()
        self.sync()
        return missed

    def grid(self, signal: dict[str, Any], count: int) -> list[str]:
        """The next ``count`` grid points of a signal."""
        start = parse_iso(signal["next_run_at"])
        step = timedelta(seconds=signal["interval_seconds"])
        return [iso(start + i * step) for i in range(count)]

    def counters(self, signal_id: str, upcoming: int = 5) -> dict[str, Any]:
        """Fired, skipped by reason, missed in outages, and the next grid points."""
        signal = self.store.get("signals", signal_id)
        if signal is None:
            from ..core.errors import NotFound
            raise NotFound(f"Signal '{signal_id}' was not found.")
        self.store.flush()
        rows = self.store.conn.execute(
            "SELECT status, skipped_reason, trigger_source, COUNT(*) FROM signal_runs WHERE signal_id = ? "
            "GROUP BY status, skipped_reason, trigger_source", [signal_id]).fetchall()
        fired = {"Scheduled": 0, "Manual": 0}
        skipped: dict[str, int] = {}
        for status, reason, source, n in rows:
            if status == "Skipped":
                skipped[reason] = skipped.get(reason, 0) + n
            else:
                fired[source] += n
        missed = self.store.count("events", "kind = 'signal.missed' AND subject = ?", [signal_id])
        return {"signal_id": signal_id, "fired": fired, "skipped": skipped, "missed": missed,
                "next_run_at": signal["next_run_at"], "is_paused": signal["is_paused"],
                "upcoming": [] if signal["deleted"] or signal["is_paused"] else self.grid(signal, upcoming)}
