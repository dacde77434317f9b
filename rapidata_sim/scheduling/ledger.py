"""Firings decided in a steady stretch (``stretches``) and not yet written as rows.

Per firing only a few numbers are kept (which signal, when, its three drawn ids); the rows
are spelled out when somebody reads their tables (``Store.flush``), byte for byte what firing
one by one writes (through ``firing``'s functions). A simulated year costs what deciding it
costs; reading its rows, what writing them would have.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from ..core.clock import iso
from .firing import fired_event, fired_run, settled_run

if TYPE_CHECKING:
    from ..core.ids import IdFactory
    from ..core.store import Store

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
#: Entry kinds: a firing, or the completion of a firing's job (jobs that take time).
FIRING, COMPLETION = 0, 1
#: Firings spelt out before their rows are written (and let go of): a long stretch's rows are
#: written in batches, so spelling a simulated century costs the memory of a few thousand rows.
WRITE_BATCH = 5_000


def to_us(instant: datetime) -> int:
    """Microseconds since the epoch: the stretch's clock (integers compare and add fast)."""
    delta = instant - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


@dataclass
class Lane:
    """What every firing of one signal in a stretch shares."""

    signal_id: str
    interval_us: int
    duration_us: int
    #: (definition id, revision number, audience id): a job's stream id is derived from these and its instant.
    stream: tuple[Any, ...]
    job: dict[str, Any]  # the job row's constant columns
    behaviour: int  # the plan's behaviour (the latest change when the stretch was decided)
    fixed_plan: dict[str, Any]  # ``Crowd.fixed_plan``: work, rate, fixed, votes
    revision: int


@dataclass
class Stretch:
    lanes: list[Lane]
    kind: bytearray = field(default_factory=bytearray)
    lane: array = field(default_factory=lambda: array("I"))
    due: array = field(default_factory=lambda: array("q"))
    #: Per firing, in firing order: the run's, the job's and the pipeline's drawn id.
    ids: array = field(default_factory=lambda: array("Q"))
    #: Per firing: 1 if its job completed within the stretch.
    done: bytearray = field(default_factory=bytearray)
    #: Per completion entry: the firing (its number in firing order) whose job it completes.
    completes: array = field(default_factory=lambda: array("I"))
    #: ``ids.derived_count("stream", ...)`` at the first instant, per stream tuple (firings
    #: before the stretch at that instant, which its own firings count on from).
    stream_base: dict[tuple[Any, ...], int] = field(default_factory=dict)
    #: Per lane that fired: (its last firing's number, that firing's instant).
    last: dict[int, tuple[int, int]] = field(default_factory=dict)
    first_seq: int = 0
    events: int = 0
    committed: bool = False


def job_ids(stretch: Stretch, firing: int) -> tuple[str, str, str]:
    run, job, pipeline = stretch.ids[3 * firing:3 * firing + 3]
    return f"run_{run:012x}", f"job_{job:012x}", f"pl_{pipeline:012x}"


class Ledger:
    """The stretches not yet written (``Store.deferred``), and what the scheduler needs to
    know of them meanwhile: each signal's latest job, and the jobs still running."""

    def __init__(self, ids: "IdFactory") -> None:
        self.ids = ids
        self.stretches: list[Stretch] = []
        self._written: list[Stretch] = []  # written in the open transaction (back on rollback)
        #: signal id -> (its latest job's id, whether that job finished in its stretch).
        self.latest: dict[str, tuple[str, bool]] = {}
        #: job id -> completes_at, for jobs of a stretch still running when it ended.
        self.running: dict[str, str] = {}

    # -- what the scheduler asks ------------------------------------------------------

    def finished(self, signal_id: str, job_id: str) -> bool | None:
        """Whether a signal's job decided here has finished; None if it was not decided here."""
        latest = self.latest.get(signal_id)
        return latest[1] if latest is not None and latest[0] == job_id else None

    def add(self, stretch: Stretch) -> None:
        self.stretches.append(stretch)
        self._index(stretch)

    def _index(self, stretch: Stretch) -> None:
        for lane_no, (firing, due) in stretch.last.items():
            lane = stretch.lanes[lane_no]
            _, job_id, _ = job_ids(stretch, firing)
            finished = bool(stretch.done[firing])
            self.latest[lane.signal_id] = (job_id, finished)
            if not finished:
                self.running[job_id] = iso(from_us(due + lane.duration_us))

    # -- Store.deferred ---------------------------------------------------------------

    def pending(self) -> bool:
        return bool(self.stretches)

    def last_seq(self) -> int:
        return max((s.first_seq + s.events - 1 for s in self.stretches if s.events), default=0)

    def committed(self) -> None:
        for stretch in self.stretches:
            stretch.committed = True
        self._written.clear()

    def rolled_back(self) -> None:
        kept = [s for s in self._written if s.committed] + [s for s in self.stretches if s.committed]
        self._written.clear()
        self.stretches = []
        self.latest.clear()
        self.running.clear()
        for stretch in kept:
            self.add(stretch)

    def write(self, store: "Store") -> None:
        for stretch in self.stretches:
            self._write(store, stretch)
        self._written.extend(self.stretches)
        self.stretches = []
        self.latest.clear()
        self.running.clear()

    def _write(self, store: "Store", stretch: Stretch) -> None:
        """The rows firing one by one would have written, in the same order.

        Each lane's rows are encoded once with markers in place of what varies per firing
        (``Store.encode``, the encoder ``insert`` uses), and per firing only the markers are
        replaced: the bytes are the store's own, the cost a few string operations."""
        jobs: list[list[Any]] = []
        runs: list[list[Any]] = []
        events: list[list[Any]] = []
        spelt = [_Spelling(store, lane) for lane in stretch.lanes]
        instants: dict[int, str] = {}
        streams: dict[tuple[Any, ...], int] = {}
        first_due = stretch.due[0] if stretch.due else 0
        firing = completion = -1
        seq = stretch.first_seq
        for i, kind in enumerate(stretch.kind):
            due = stretch.due[i]
            at = instants.get(due)
            if at is None:
                at = instants[due] = iso(from_us(due))
            if kind == COMPLETION:
                completion += 1
                _, job_id, _ = job_ids(stretch, stretch.completes[completion])
                events.append([seq, at, "job.completed", job_id, "{}"])
                seq += 1
                continue
            firing += 1
            lane, spelling = stretch.lanes[stretch.lane[i]], spelt[stretch.lane[i]]
            run_id, job_id, pipeline_id = job_ids(stretch, firing)
            key = lane.stream + (due,)
            n = streams.get(key)
            if n is None:
                n = stretch.stream_base.get(lane.stream, 0) if due == first_due else 0
            streams[key] = n + 1
            stream = self.ids.derived_nth("stream", lane.stream + (at,), n)
            end = due + lane.duration_us
            completes_at = instants.get(end)
            if completes_at is None:
                completes_at = instants[end] = iso(from_us(end))
            done = stretch.done[firing]
            jobs.append(spelling.job(job_id, pipeline_id, at, completes_at, stream, done))
            runs.append(spelling.run(run_id, job_id, at, completes_at, done))
            events.append([seq, at, "signal.fired", lane.signal_id, spelling.fired(run_id, job_id, completes_at)])
            seq += 1
            if lane.duration_us == 0:
                events.append([seq, at, "job.completed", job_id, "{}"])
                seq += 1
            if len(jobs) >= WRITE_BATCH:  # memory stays bounded however long the stretch
                _insert(store, jobs, runs, events)
                instants.clear()  # a cache; and counts of earlier instants are never asked again
                streams = {k: v for k, v in streams.items() if k[-1] == due}
        _insert(store, jobs, runs, events)


def _insert(store: "Store", jobs: list[list[Any]], runs: list[list[Any]], events: list[list[Any]]) -> None:
    """Write the rows spelt so far (each table keeps its order) and let go of them."""
    store.insert_encoded("jobs", jobs)
    store.insert_encoded("signal_runs", runs)
    store.insert_encoded("events", events)
    jobs.clear()
    runs.clear()
    events.clear()


class _Template:
    """An encoded row with markers (``@@run@@``...) where each firing differs."""

    def __init__(self, encoded: list[Any]) -> None:
        self.row = encoded
        self.slots = [(i, v) for i, v in enumerate(encoded) if isinstance(v, str) and "@@" in v]

    def fill(self, values: dict[str, str]) -> list[Any]:
        row = self.row.copy()
        for i, cell in self.slots:
            filled = values.get(cell)
            if filled is None:
                filled = cell
                for marker, value in values.items():
                    filled = filled.replace(marker, value)
            row[i] = filled
        return row


class _Spelling:
    """One lane's rows, encoded once with markers where each firing differs. The run and the
    event are ``firing``'s, as ``Scheduler.fire`` writes them; the job is the jobs service's."""

    def __init__(self, store: "Store", lane: Lane) -> None:
        plan = {"stream": "@@stream@@", "behaviour": lane.behaviour, "done": 0.0, "since": "@@at@@",
                **lane.fixed_plan}
        self.job_row = store.encode("jobs", {**lane.job, "id": "", "pipeline_id": "", "state": "",
                                             "created_at": "", "completed_at": None, "completes_at": "",
                                             "plan": plan})
        names = store.columns("jobs")
        self.j = [names.index(c) for c in ("id", "pipeline_id", "state", "created_at", "completed_at",
                                           "completes_at", "plan")]
        self.plan = self.job_row[self.j[6]]
        running_job = {"id": "@@job@@", "state": "Running"}
        running = fired_run("@@run@@", lane.signal_id, "Scheduled", "@@at@@", running_job)
        settled = settled_run({"id": "@@job@@", "state": "Completed", "completed_at": "@@completes@@"}, "@@at@@")
        self.running_run = _Template(store.encode("signal_runs", running))
        self.done_run = _Template(store.encode("signal_runs", {**running, **settled}))
        self.fired_data = store.encode("events", {"data": fired_event(
            "@@run@@", "Scheduled", "@@job@@", lane.revision, "@@completes@@")})[store.columns("events").index("data")]

    def job(self, job_id: str, pipeline_id: str, at: str, completes_at: str, stream: str, done: int) -> list[Any]:
        row = self.job_row.copy()
        i, p, state, created, completed, completes, plan = self.j
        row[i], row[p], row[created], row[completes] = job_id, pipeline_id, at, completes_at
        row[state] = "Completed" if done else "Running"
        row[completed] = completes_at if done else None
        row[plan] = self.plan.replace("@@stream@@", stream).replace("@@at@@", at)
        return row

    def run(self, run_id: str, job_id: str, at: str, completes_at: str, done: int) -> list[Any]:
        template = self.done_run if done else self.running_run
        return template.fill({"@@run@@": run_id, "@@job@@": job_id, "@@at@@": at, "@@completes@@": completes_at})

    def fired(self, run_id: str, job_id: str, completes_at: str) -> str:
        return self.fired_data.replace("@@run@@", run_id).replace("@@job@@", job_id).replace(
            "@@completes@@", completes_at)
