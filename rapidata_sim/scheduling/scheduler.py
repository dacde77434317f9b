"""When things happen: signal firings, manual triggers, job completions, audiences turning Ready.

``Scheduler.sync()`` brings a world up to its clock's ``now``: it processes every due event in
time order (job completions, then firings, then manual triggers at one instant, then the order
they were scheduled in), each stamped with its own due time. Every request and every clock move
calls it, so nothing depends on when somebody happened to look. The parts, one concept each:
``queue`` (hints; rows stay the truth), ``skips`` (the skip rule), ``firing`` (what a firing
writes), ``stretches`` + ``ledger`` (steady firings taken at once), ``outages``, ``policies``.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Iterator

from ..core.clock import iso
from ..core.world import World
from ..domain.signals import next_point
from . import firing
from .ledger import Ledger
from .outages import outage
from .policies import SchedulerConfig
from .queue import AUDIENCE, FIRE, JOB, TIMED, TRIGGER, Queue
from .rows import Rows
from .skips import PREVIOUS_JOB_NOT_FINISHED, skip_reason
from .stretches import Stretches

if TYPE_CHECKING:
    from ..domain.audiences import Audiences
    from ..domain.identity import Identity
    from ..domain.job_plans import Crowd
    from ..domain.jobs import Jobs
    from ..domain.ports import Timed
    from ..domain.signals import Signals

__all__ = ["Scheduler", "SchedulerConfig"]


class Scheduler:
    """Implements ``domain.ports.Scheduling``: services tell it about work through ``watch_*``,
    ``complete_now`` and ``start_pending_triggers``.

    Built before the services (they are given it) and bound to the ones it acts through by
    ``bind``; until then it only reads rows.
    """

    audiences: Audiences
    jobs: Jobs
    signals: Signals

    def __init__(self, world: World, config: SchedulerConfig | None = None) -> None:
        self.world = world
        self.store = world.store
        self.clock = world.clock
        self.ids = world.ids
        self.log = world.log
        self.config = config or SchedulerConfig()
        #: Events processed since the world opened (firings, completions, trigger starts, ...).
        self.processed = 0
        self.rows = Rows(self.store)
        self.queue = Queue(self.rows, self.config)
        #: Firings of steady stretches, decided but not yet written as rows.
        self.ledger = Ledger(world.ids)
        self.store.deferred = self.ledger
        self.stretches = Stretches(queue=self.queue, rows=self.rows, ledger=self.ledger, store=self.store,
                                   ids=self.ids, config=self.config)
        self.rebuild()
        # A rolled-back transaction may have undone firings whose queue entries were already
        # popped (the grid's next point pushed, the row back at the old one): start again from rows.
        self.store.on_rollback.append(self.rebuild)

    def bind(self, *, identity: Identity, audiences: Audiences, jobs: Jobs, signals: Signals, crowd: Crowd) -> None:
        """The services the scheduler acts through (firings create jobs, completions settle them)."""
        self.rows.identity = identity
        self.audiences = audiences
        self.jobs = self.stretches.jobs = jobs
        self.signals = signals
        self.stretches.crowd = crowd

    def add_timed(self, service: Timed) -> None:
        """Settle ``service``'s rows at their due instants (``watch_due``), its pending ones from now."""
        self.queue.timed[service.table] = service
        for key, due in service.pending():
            self.queue.watch_due(service.table, key, due)

    # -- Scheduling (what services tell it) -------------------------------------------

    def rebuild(self) -> None:
        """Recreate the queue from the store (a reopened world, or after direct edits)."""
        self.queue.rebuild(self.store)

    def watch_job(self, job: dict[str, Any]) -> None:
        self.queue.watch_job(job)

    def watch_audience(self, audience: dict[str, Any]) -> None:
        self.queue.watch_audience(audience)

    def watch_due(self, table: str, key: str, due: str) -> None:
        self.queue.watch_due(table, key, due)

    def watch_signal(self, signal: dict[str, Any]) -> None:
        self.queue.watch_signal(signal)

    def complete_now(self, job: dict[str, Any]) -> None:
        """Settle a job whose due instant is now (a fault injected to strike at once)."""
        with self._locked():
            self._job_completed(job)

    def start_pending_triggers(self, signal_id: str) -> None:
        """Start queued manual runs now (called when runs are listed)."""
        with self._locked():
            signal = self.rows.get("signals", signal_id)
            if signal and signal["pending_triggers"]:
                self._start_triggers(signal, iso(self.clock.now()))

    # -- reading ------------------------------------------------------------------------

    def next_event_at(self) -> str | None:
        """When the next thing happens (firing, trigger start, job completion), or None."""
        with self._locked():
            return self.queue.next_due(self.ledger.running)

    def has_pending_work(self) -> bool:
        """Is a job running or a trigger queued? (Firings recur forever, so they do not count.)"""
        return bool(self.store.count("jobs", "state = 'Running' AND deleted = 0")
                    or self.store.count("signals", "deleted = 0 AND pending_triggers > 0")
                    or any(service.has_pending() for service in self.queue.timed.values()))

    def skip_reason(self, signal: dict[str, Any], source: str) -> str | None:
        """``skips.skip_reason`` with this world's rows, ledger and policies."""
        return skip_reason(signal, source, rows=self.rows, ledger=self.ledger, config=self.config)

    # -- firing -------------------------------------------------------------------

    def fire(self, signal: dict[str, Any], source: str, at: str, *, next_run_at: str | None = None) -> dict[str, Any]:
        """One firing of ``signal`` at instant ``at``: a run, and a job unless skipped.

        ``next_run_at`` (scheduled firings) moves the grid on in the same write.
        """
        grid = {"next_run_at": next_run_at} if next_run_at else {}
        run_id = self.ids.new("run")
        reason = self.skip_reason(signal, source)
        if (reason == PREVIOUS_JOB_NOT_FINISHED and self.config.overlap == "buffer_one"
                and not signal.get("buffered_at")):
            self.store.update("signals", signal["id"], {"buffered_at": at, **grid})
            signal.update(buffered_at=at, **grid)
            self.log.record("signal.buffered", signal["id"], at=at, source=source)
            return {"id": run_id, "signal_id": signal["id"], "trigger_source": source, "started_at": at}
        if reason is not None:
            run = firing.skipped_run(run_id, signal["id"], source, at, reason)
            self.store.insert("signal_runs", run)
            if grid:
                self.store.update("signals", signal["id"], grid)
                signal.update(grid)
            self.log.record("signal.skipped", signal["id"], at=at, run=run_id, source=source, reason=reason)
            return run
        rows = self.rows
        audience = rows.get("audiences", signal["audience_id"])
        if audience["status"] == "Created" and self.audiences.start_recruiting(None, audience["id"], at=at):
            audience = rows.reread("audiences", audience["id"])
        definition = rows.get("job_definitions", signal["job_definition_id"])
        number = signal["revision_number"] or definition["latest_revision"]
        revision = rows.get("revisions", (definition["id"], number))
        job = self.jobs.new_row(rows.owner(signal), definition, revision, audience, at=at)
        rows.put("jobs", job["id"], job)
        self.store.insert("jobs", job)
        run = firing.fired_run(run_id, signal["id"], source, at, job)
        self.store.insert("signal_runs", run)
        after = firing.signal_after(at, job["id"], next_run_at)
        self.store.update("signals", signal["id"], after)
        signal.update(after)
        self.log.record("signal.fired", signal["id"], at=at,
                        **firing.fired_event(run_id, source, job["id"], number, job["completes_at"]))
        self.jobs.record_settled(job)
        self.queue.watch_job(job)
        return run

    def _job_completed(self, job: dict[str, Any]) -> None:
        at = job["completes_at"]
        self.jobs.complete(job)
        if job["state"] not in ("Completed", "Failed"):
            return  # halted (Paused, ManualApproval, SpendLimited): its run is still running
        self.jobs.start_successors(job, job["completed_at"] or job["failed_at"] or at)
        runs = self.store.select("signal_runs", "audience_job_id = ? AND status = 'Running'", [job["id"]])
        for run in runs:
            self.store.update("signal_runs", run["id"], firing.settled_run(job, at))
            signal = self.rows.get("signals", run["signal_id"])
            if signal and signal["buffered_at"] and not signal["deleted"]:
                # buffer_one: the held firing runs the moment its predecessor finishes.
                self.store.update("signals", signal["id"], {"buffered_at": None})
                signal["buffered_at"] = None
                self.fire(signal, "Scheduled", at)

    def _start_triggers(self, signal: dict[str, Any], at: str) -> None:
        count = signal["pending_triggers"]
        self.store.update("signals", signal["id"], {"pending_triggers": 0, "pending_trigger_at": None})
        signal.update(pending_triggers=0, pending_trigger_at=None)
        for _ in range(count):
            self.fire(signal, "Manual", at)

    # -- time ---------------------------------------------------------------------

    def sync(self, until: str | None = None, *, missed: dict[str, list[str]] | None = None) -> int:
        """Process every event due at or before ``until`` (default: the clock's now).

        With ``missed`` (an outage), firings are not made but collected per signal,
        and trigger starts due at ``until`` itself wait for the caller's catch-up.
        """
        until = until or iso(self.clock.now())
        queue = self.queue
        if missed is None and (not queue.heap or queue.heap[0][0] > until):
            return 0  # nothing due (most requests): no transaction, no read
        processed = 0
        limit = self.config.max_events_per_sync
        fast = self.config.fast_forward and missed is None
        retry_at = 0  # when to look for a steady stretch again (each look scans the queue)
        with self._locked():
            while processed < limit:
                if fast and processed >= retry_at:
                    taken = self.stretches.take(until, limit - processed)
                    processed += taken
                    # Found one: look again after the next event. None: not before as many
                    # events as the queue is long, so looking costs O(1) per event.
                    retry_at = processed + (1 if taken else max(16, len(queue.heap)))
                    if processed >= limit:
                        break
                peeked = queue.peek(until)
                if peeked is None:
                    break
                if missed is not None and peeked[0][0] == until and peeked[0][1] == TRIGGER:
                    # An outage's end instant: its catch-up firing comes before trigger starts.
                    break
                entry, row = peeked
                queue.pop()
                due, kind = entry[0], entry[1]
                if kind == AUDIENCE:
                    self.audiences.become_ready(row, due)
                elif kind == JOB:
                    self._job_completed(row)
                elif kind == TIMED:
                    queue.timed[entry[3].partition(":")[0]].settle(row, due)
                elif kind == FIRE:
                    nxt = next_point(row, due)
                    if missed is not None and not row["is_paused"]:
                        missed.setdefault(row["id"], []).append(due)
                        self.log.record("signal.missed", row["id"], at=due)
                        self.store.update("signals", row["id"], {"next_run_at": nxt})
                        row["next_run_at"] = nxt
                    else:
                        self.fire(row, "Scheduled", due, next_run_at=nxt)
                    queue.push(nxt, FIRE, row["id"])
                else:
                    self._start_triggers(row, due)
                processed += 1
                if not processed % 4096:
                    self.rows.clear()  # a read cache: dropped now and then, so a long sync's memory is bounded
        self.processed += processed
        return processed

    def outage(self, duration: timedelta) -> dict[str, list[str]]:
        """The service is down for ``duration`` (``outages``). Returns the missed grid points per signal."""
        return outage(self, duration)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """The store's transaction, with the row cache valid inside it only."""
        with self.store.transaction():
            self.rows.clear()
            try:
                yield
            finally:
                self.rows.clear()
