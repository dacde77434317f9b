"""Steady stretches: firings nothing in a sync can change, taken in one pass.

``Stretches.take`` replays the queue locally (same keys, same sequence numbers, ids drawn in
the same order) for the firings ``lane`` calls steady, and hands them to the ``ledger``, which
writes their rows when somebody reads them. Same order, same ids, same rows as one by one;
only the writing waits (``SchedulerConfig.fast_forward``; ``tests/unit/test_fast_forward.py``).
"""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING, Any

from ..core.clock import iso, parse_iso
from .firing import signal_after
from .ledger import COMPLETION, FIRING, Lane, Ledger, Stretch, from_us, to_us
from .policies import SchedulerConfig
from .queue import FIRE, JOB, Entry, Queue
from .skips import skip_reason

if TYPE_CHECKING:
    from ..core.ids import IdFactory
    from ..core.store import Store
    from ..domain.job_plans import Crowd
    from ..domain.jobs import Jobs
    from .rows import Rows


class Stretches:
    jobs: "Jobs"
    crowd: "Crowd"

    def __init__(self, *, queue: Queue, rows: "Rows", ledger: Ledger, store: "Store", ids: "IdFactory",
                 config: SchedulerConfig) -> None:
        self.queue, self.rows, self.ledger, self.store, self.ids, self.config = queue, rows, ledger, store, ids, config

    def lane(self, signal: dict[str, Any], memo: dict[tuple, Any]) -> Lane | None:
        """What ``signal``'s coming firings share, if they are steady; else None.

        Steady: nothing within this sync can change how they turn out. The signal fires (no
        skip reason, its previous job finished, no manual run or held firing queued), on a
        Ready audience whose jobs all take the same fixed time, at most its interval (so each
        job is done by the next grid point), and are planned alike (``Crowd.fixed_plan``),
        with no injected fault waiting. Every other firing is taken one by one.
        """
        if signal["deleted"] or signal["is_paused"] or signal.get("buffered_at") or signal.get("pending_triggers"):
            return None
        rows = self.rows
        if skip_reason(signal, "Scheduled", rows=rows, ledger=self.ledger, config=self.config) is not None:
            return None
        audience = rows.get("audiences", signal["audience_id"])
        seconds = audience.get("labeling_seconds")
        if audience["status"] != "Ready" or seconds is None or seconds > signal["interval_seconds"]:
            return None
        definition = rows.get("job_definitions", signal["job_definition_id"])
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
        job = self.jobs.shared_columns(rows.owner(signal), definition, revision, audience)
        return Lane(signal_id=signal["id"], interval_us=signal["interval_seconds"] * 1_000_000,
                    duration_us=seconds * 1_000_000, stream=stream, job=job, behaviour=behaviour,
                    fixed_plan=fixed, revision=number)

    def take(self, until: str, budget: int) -> int:
        """Take the steady firings due up to ``until`` in one stretch (``ledger``), up to the
        first queued event that is not one (a job of its own finishing, a trigger starting,
        an audience turning Ready, a firing that is not steady). Returns the events taken.
        """
        queue = self.queue
        if not queue.heap or queue.heap[0][0] > until:
            return 0  # nothing due (most requests): no need to look at the queue
        memo: dict[tuple, Any] = {}
        lanes: list[Lane] = []
        lane_of: dict[str, int] = {}
        chain: list[int] = []  # per lane: its next grid point (nextRunAt), in µs
        local: list[tuple] = []
        kept: list[Entry] = []
        barrier: tuple[int, int, int] | None = None
        for entry in queue.heap:
            due, kind, seq, key = entry
            if due > until:
                kept.append(entry)  # not this sync's business, whatever it is
                continue
            if kind == FIRE:
                no = lane_of.get(key)
                if no is None:
                    signal = self.rows.get("signals", key)
                    lane = self.lane(signal, memo) if signal is not None else None
                    no = lane_of[key] = -1 if lane is None else len(lanes)
                    if lane is not None:
                        lanes.append(lane)
                        chain.append(to_us(parse_iso(signal["next_run_at"])))  # type: ignore[index]
                if no >= 0:
                    # Every hint of a steady signal goes along, stale ones too: one that names a
                    # later grid point comes true when the signal gets there, as in the queue.
                    local.append((to_us(parse_iso(due)), FIRE, seq, no))
                    continue
                live = queue.live(entry) is not None
            elif kind == JOB and key in self.ledger.running:
                live = self.ledger.running[key] == due
            else:
                live = queue.live(entry, flush=False) is not None
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
        push, pop, counter = heapq.heappush, heapq.heappop, queue.seq
        taken = firing = settled_at_once = 0
        with self.ids.raw() as draw:
            while local and taken < budget:
                top = local[0]
                if top[0] > until_us or (barrier is not None and top > barrier):
                    break
                pop(local)
                due, kind, _, no = top[:4]
                lane = lanes[no]
                if kind == FIRE:
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
                        push(local, (due + lane.duration_us, JOB, next(counter), no, firing))
                    else:
                        done.append(1)
                        settled_at_once += 1
                    push(local, (due + lane.interval_us, FIRE, next(counter), no))
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
            if entry[1] == FIRE:
                kept.append((iso(from_us(entry[0])), FIRE, entry[2], lanes[entry[3]].signal_id))
            else:
                job_id = f"job_{ids[3 * entry[4] + 1]:012x}"
                kept.append((iso(from_us(entry[0])), JOB, entry[2], job_id))
        heapq.heapify(kept)
        queue.heap = kept
        for no, (last_firing, due) in last.items():
            self.store.update("signals", lanes[no].signal_id, signal_after(
                iso(from_us(due)), f"job_{ids[3 * last_firing + 1]:012x}", iso(from_us(chain[no]))))
        self.ledger.add(stretch)
        self.rows.clear()
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
