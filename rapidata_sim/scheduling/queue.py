"""The scheduler's queue: an in-memory heap of *hints*; the store stays the truth.

A popped entry is acted on only if its row still says it is due at that instant (a paused,
deleted, re-timed or rolled-back row makes it stale), so a lost race or a rolled-back request
can leave a stale hint, never a wrong firing; and a duplicate hint is harmless, because acting
on an entry moves its row on (the grid advances, the job completes, the trigger starts).
"""

from __future__ import annotations

import heapq
import itertools
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from ..core.clock import iso, parse_iso
from .policies import SchedulerConfig

if TYPE_CHECKING:
    from ..core.store import Store
    from ..domain.ports import Timed
    from .rows import Rows

#: Entry kinds, in tie-break order at one instant: an audience turning Ready, a job's due
#: instant, a scheduled firing, a manual trigger's start, a row of a ``Timed`` service (its key
#: "table:key"; flow items).
AUDIENCE, JOB, FIRE, TRIGGER, TIMED = -1, 0, 1, 2, 3

#: (due instant, kind, sequence number, row id)
Entry = tuple[str, int, int, str]


class Queue:
    def __init__(self, rows: "Rows", config: SchedulerConfig) -> None:
        self.rows = rows
        self.config = config
        self.heap: list[Entry] = []
        self.seq = itertools.count()
        #: Services whose rows settle at their own instants (``domain.ports.Timed``), by table.
        self.timed: dict[str, "Timed"] = {}

    def rebuild(self, store: "Store") -> None:
        """Recreate the hints from the store (a reopened world, or after a rollback)."""
        self.heap = []
        for audience in store.select("audiences", "status = 'Recruiting' AND deleted = 0", order_by="rowid"):
            self.watch_audience(audience)
        for job in store.select("jobs", "state = 'Running' AND deleted = 0", order_by="rowid"):
            self.watch_job(job)
        for signal in store.select("signals", "deleted = 0", order_by="rowid"):
            self.watch_signal(signal)
        for table, service in self.timed.items():
            for key, due in service.pending():
                self.watch_due(table, key, due)

    def push(self, due: str, kind: int, key: str) -> None:
        heapq.heappush(self.heap, (due, kind, next(self.seq), key))

    def pop(self) -> Entry:
        return heapq.heappop(self.heap)

    def watch_job(self, job: dict[str, Any]) -> None:
        if job["state"] == "Running" and not job.get("deleted") and job["completes_at"] is not None:
            self.push(job["completes_at"], JOB, job["id"])

    def watch_due(self, table: str, key: str, due: str) -> None:
        self.push(due, TIMED, f"{table}:{key}")

    def watch_audience(self, audience: dict[str, Any]) -> None:
        """A recruiting audience turns Ready at its ``ready_at`` instant."""
        if audience["status"] == "Recruiting" and audience.get("ready_at") and not audience["deleted"]:
            self.push(audience["ready_at"], AUDIENCE, audience["id"])

    def watch_signal(self, signal: dict[str, Any]) -> None:
        if signal.get("deleted"):
            return
        if not signal["is_paused"] or self.config.paused == "skip":
            self.push(signal["next_run_at"], FIRE, signal["id"])
        if signal.get("pending_triggers"):
            self.push(self.trigger_due(signal), TRIGGER, signal["id"])

    def trigger_due(self, signal: dict[str, Any]) -> str:
        return iso(parse_iso(signal["pending_trigger_at"]) + timedelta(seconds=self.config.trigger_latency_seconds))

    def live(self, entry: Entry, *, flush: bool = True) -> dict[str, Any] | None:
        """The row an entry is about, if the entry is still true; None if stale.
        ``flush=False``: a job is read only as written (for one the ledger does not hold)."""
        due, kind, _, key = entry
        rows = self.rows
        if kind == AUDIENCE:
            audience = rows.get("audiences", key)
            return audience if audience and audience["status"] == "Recruiting" and not audience["deleted"] \
                and audience.get("ready_at") == due else None
        if kind == TIMED:
            table, _, row_key = key.partition(":")
            service = self.timed.get(table)
            return service.due_row(row_key, due) if service is not None else None
        if kind == JOB:
            job = rows.get("jobs", key, flush=flush)
            return job if job and job["state"] == "Running" and not job["deleted"] and job["completes_at"] == due \
                else None
        signal = rows.get("signals", key)
        if signal is None or signal["deleted"]:
            return None
        if kind == FIRE:
            active = not signal["is_paused"] or self.config.paused == "skip"
            return signal if active and signal["next_run_at"] == due else None
        return signal if signal["pending_triggers"] and self.trigger_due(signal) == due else None

    def peek(self, until: str) -> tuple[Entry, dict[str, Any]] | None:
        """The first live entry due at or before ``until``, and its row (stale ones on top are
        dropped). Entries after ``until`` are not looked at: reading a row a steady stretch has
        not written yet would write the stretch now."""
        heap = self.heap
        while heap and heap[0][0] <= until:
            entry = heap[0]
            row = self.live(entry)
            if row is not None:
                return entry, row
            heapq.heappop(heap)
        return None

    def next_due(self, running: dict[str, str]) -> str | None:
        """When the first live entry is due. A job of a steady stretch still running (``running``:
        the ledger's, job id -> due) is live without reading its row, so nothing is written."""
        heap = self.heap
        while heap:
            due, kind, _, key = heap[0]
            if kind == JOB and running.get(key) == due:
                return due
            if self.live(heap[0]) is not None:
                return due
            heapq.heappop(heap)
        return None
