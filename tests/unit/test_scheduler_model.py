"""The scheduler against an independent reference model (Hypothesis stateful testing).

The model below knows nothing of ``rapidata_sim.scheduling``: it keeps, per signal, a
handful of integers (seconds since ``START``) and replays the documented rules
(``docs/behaviour.md``, the ``scheduler`` docstring) with the default policies:

- grid ``createdAt + k*interval``; a firing that finds the previous job unfinished is
  Skipped ``PreviousJobNotFinished`` (overlap ``skip``); a job finishing at the firing's
  instant finished first;
- a paused signal records nothing (paused ``none``); resume moves a past ``nextRunAt``
  to the first grid point strictly after now; an interval update regrids from the last
  firing (or creation) to the first point strictly after now;
- ``trigger()`` queues a Manual run that starts 5 s after the first queued trigger, or
  when the runs are listed; Manual runs obey the overlap rule (``trigger_overlap="obey"``);
- an outage misses the grid points in ``(start, end]``; catch-up ``latest`` fires once,
  at the end instant, for each signal that missed at least one point.

Signals never interact, so the model runs each one on its own timeline. After every
step the store (``signals``, ``signal_runs``, ``jobs``, ``events``) and
``sim.counters()`` are compared with the model, and structural invariants are checked
on the store alone (every grid point of an active span is exactly one of
fired/skipped/missed; never two unfinished jobs per signal; ...).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from rapidata_sim import Clock, NotFound, Simulator, ValidationFailed
from rapidata_sim.core.querying import Query

START = datetime(2026, 1, 1, tzinfo=timezone.utc)
LATENCY = 5  # SchedulerConfig.trigger_latency_seconds (default)
SKIP = "PreviousJobNotFinished"

INTERVALS = [60, 600, 3600, 86400]
LABELING = [0, 1, 5, 60, 600, 3600, 5400, 86400, 100_000]
# Seconds to advance: exact edges (trigger latency, grid points, job lengths), spans that
# cross a few grid points of the short intervals, and now and then a day or two.
ADVANCE = st.one_of(
    st.sampled_from([0, 1, 4, 5, 6, 59, 60, 61, 599, 600, 601, 3599, 3600, 3601, 5400]),
    st.integers(0, 3 * 3600),
)
#: Long jumps (for daily signals), taken only while no active signal fires more often than
#: every 10 minutes, so that a step stays cheap.
FAR = st.sampled_from([86_399, 86_400, 86_401, 2 * 86_400])
OUTAGE = st.one_of(
    st.sampled_from([0, 1, 4, 5, 6, 60, 61, 600, 3600, 3601, 86_400]),
    st.integers(0, 4 * 3600),
)


#: The documented order at one instant is "job completions, then firings, then trigger
#: starts"; the catch-up firing at an outage's end instant is a firing, so it comes before a
#: manual run due at that same instant. (False: the model follows the scheduler instead.)
CATCH_UP_BEFORE_TRIGGERS = True


def stamp(seconds: int) -> str:
    """The model's instant (seconds since START) as the store writes it."""
    return (START + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# -- the reference model -------------------------------------------------------------


@dataclass
class MRun:
    source: str          # "Scheduled" | "Manual"
    started: int
    skipped: bool
    job_end: int | None  # when its job completes (fired runs)
    catch_up: bool = False


@dataclass
class MSignal:
    id: str
    created: int
    interval: int
    next_due: int
    paused: bool = False
    deleted: bool = False
    last_fired: int | None = None
    last_job_end: int | None = None
    pending: int = 0
    pending_at: int | None = None
    runs: list[MRun] = field(default_factory=list)
    missed: list[int] = field(default_factory=list)
    # The grid as closed-form spans (lo, hi, anchor, step): the points anchor + k*step
    # (k >= 1) with lo < point <= hi (hi None = still open). Independent of next_due.
    spans: list[list] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return not self.paused and not self.deleted

    def open_span(self, now: int, anchor: int, step: int) -> None:
        self.spans.append([now, None, anchor, step])

    def close_span(self, now: int) -> None:
        if self.spans and self.spans[-1][1] is None:
            self.spans[-1][1] = now

    def grid_points(self, now: int) -> list[int]:
        points = []
        for lo, hi, anchor, step in self.spans:
            top = now if hi is None else min(hi, now)
            k = max(1, (lo - anchor) // step + 1)
            while anchor + k * step <= top:
                if anchor + k * step > lo:
                    points.append(anchor + k * step)
                k += 1
        return points


class Model:
    def __init__(self) -> None:
        self.now = 0
        self.labeling = 0
        self.signals: list[MSignal] = []

    # firing and time

    def fire(self, sig: MSignal, source: str, at: int, *, catch_up: bool = False) -> MRun:
        busy = sig.last_job_end is not None and sig.last_job_end > at
        if busy:
            run = MRun(source, at, True, None, catch_up)
        else:
            run = MRun(source, at, False, at + self.labeling, catch_up)
            sig.last_fired, sig.last_job_end = at, at + self.labeling
        sig.runs.append(run)
        return run

    def start_triggers(self, sig: MSignal, at: int) -> None:
        count, sig.pending, sig.pending_at = sig.pending, 0, None
        for _ in range(count):
            self.fire(sig, "Manual", at)

    def run_signal(self, sig: MSignal, until: int, *, missing: bool = False, strictly_before: bool = False) -> int:
        """Play ``sig``'s events up to ``until`` (firings before triggers at one instant).
        ``missing``: grid points are missed, not fired (an outage). Returns how many were missed."""
        missed = 0
        while True:
            fire_at = sig.next_due if sig.active else None
            trig_at = sig.pending_at + LATENCY if sig.pending and not sig.deleted else None
            due = min(t for t in (fire_at, trig_at, until + 1) if t is not None)
            if due > until or (strictly_before and due == until):
                return missed
            if due == fire_at:
                if missing:
                    sig.missed.append(due)
                    missed += 1
                else:
                    self.fire(sig, "Scheduled", due)
                sig.next_due += sig.interval
            else:
                self.start_triggers(sig, due)

    def advance(self, seconds: int) -> None:
        for sig in self.signals:
            self.run_signal(sig, self.now + seconds)
        self.now += seconds

    def outage(self, seconds: int) -> None:
        """Missed points in (start, end]; at the end instant the documented order holds:
        the catch-up firing (a firing) before trigger starts due at that instant."""
        end = self.now + seconds
        for sig in self.signals:
            if not CATCH_UP_BEFORE_TRIGGERS:
                missed = self.run_signal(sig, end, missing=True)
            else:
                missed = self.run_signal(sig, end, missing=True, strictly_before=True)
                if sig.active and sig.next_due == end:   # a grid point at the end instant
                    sig.missed.append(end)
                    sig.next_due += sig.interval
                    missed += 1
            if missed:
                self.fire(sig, "Scheduled", end, catch_up=True)
        self.now = end
        for sig in self.signals:
            self.run_signal(sig, end)                    # trigger starts due at the end instant

    def next_event(self) -> int | None:
        """The next instant anything happens: a firing, a trigger start, a job completing."""
        due = []
        for sig in self.signals:
            if sig.active:
                due.append(sig.next_due)
            if sig.pending and not sig.deleted:
                due.append(sig.pending_at + LATENCY)
            due.extend(r.job_end for r in sig.runs if not r.skipped and r.job_end > self.now)
        return min(due, default=None)

    def idle_at(self) -> int:
        """With jobs done at once (labeling 0): when the last running job or queued trigger ends."""
        assert self.labeling == 0
        ends = [self.now]
        for sig in self.signals:
            if sig.pending and not sig.deleted:
                ends.append(sig.pending_at + LATENCY)
            ends.extend(r.job_end for r in sig.runs if not r.skipped)
        return max(ends)

    # requests

    def create(self, sig_id: str, interval: int) -> MSignal:
        sig = MSignal(sig_id, self.now, interval, self.now + interval)
        sig.open_span(self.now, self.now, interval)
        self.signals.append(sig)
        return sig

    def pause(self, sig: MSignal) -> None:
        if not sig.paused:
            sig.paused = True
            sig.close_span(self.now)

    def resume(self, sig: MSignal) -> None:
        if sig.paused:
            sig.paused = False
            if sig.next_due <= self.now:
                sig.next_due += ((self.now - sig.next_due) // sig.interval + 1) * sig.interval
            anchor = sig.spans[-1][2] if sig.spans else sig.created
            step = sig.spans[-1][3] if sig.spans else sig.interval
            sig.open_span(self.now, anchor, step)

    def update_interval(self, sig: MSignal, interval: int) -> None:
        if interval == sig.interval:
            return
        anchor = sig.created if sig.last_fired is None else sig.last_fired
        sig.interval = interval
        sig.next_due = anchor + ((self.now - anchor) // interval + 1) * interval
        was_open = bool(sig.spans) and sig.spans[-1][1] is None
        sig.close_span(self.now)
        if was_open:
            sig.open_span(self.now, anchor, interval)
        else:  # paused: remember the new grid for the resume
            sig.spans.append([self.now, self.now, anchor, interval])

    def trigger(self, sig: MSignal) -> None:
        sig.pending += 1
        if sig.pending_at is None:
            sig.pending_at = self.now

    def delete(self, sig: MSignal) -> None:
        sig.deleted = True
        sig.pending, sig.pending_at = 0, None
        sig.close_span(self.now)

    # what the store should say

    def expected_runs(self, sig: MSignal) -> list[tuple]:
        out = []
        for run in sig.runs:
            if run.skipped:
                out.append((run.source, stamp(run.started), "Skipped", SKIP, stamp(run.started), None))
            elif run.job_end <= self.now:
                out.append((run.source, stamp(run.started), "Completed", None, stamp(run.job_end),
                            stamp(run.job_end)))
            else:
                out.append((run.source, stamp(run.started), "Running", None, None, stamp(run.job_end)))
        return out


# -- the machine ---------------------------------------------------------------------


def build_world(seed: int) -> tuple[Simulator, object, str]:
    sim = Simulator(seed=seed, clock=Clock(start=START, follow_wall=False))
    me = sim.principal()
    ds = sim.datasets.create(me, "pairs")
    sim.datasets.add_datapoint(me, ds["id"], [
        {"key": "asset", "kind": "Asset", "asset": {"_t": "MultiAssetInput", "assets": [
            {"_t": "TextAssetInput", "text": "left"}, {"_t": "TextAssetInput", "text": "right"}]}}], sort_index=0)
    workflow = {"_t": "SimpleWorkflow", "rapid": {"_t": "Compare", "asset": {"segment": "asset"},
                                                  "criteria": {"literal": "Which is better?"}}}
    definition, _ = sim.definitions.create(me, name="pairs", workflow=workflow,
                                           referee={"_t": "NaiveReferee", "totalVotes": 5}, dataset_id=ds["id"])
    return sim, me, definition["id"]


class SchedulerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.sim: Simulator | None = None
        self.model = Model()
        self.event_seq = 0
        self.last_run_at: dict[str, str | None] = {}
        self.event_counts: dict[str, Counter] = {}
        self.last_event_at = stamp(0)

    def teardown(self) -> None:
        if self.sim is not None:
            self.sim.close()

    @initialize(seed=st.integers(0, 2**16), labeling=st.sampled_from(LABELING))
    def setup(self, seed: int, labeling: int) -> None:
        self.sim, self.me, self.definition_id = build_world(seed)
        self.sim.audiences.configure("global", labeling_seconds=labeling)
        self.model.labeling = labeling

    def pick(self, index: int) -> MSignal:
        return self.model.signals[index % len(self.model.signals)]

    def expect_gone(self, sig: MSignal, call) -> bool:
        """A deleted signal is 404 for every request; returns whether it was."""
        if sig.deleted:
            with pytest.raises(NotFound):
                call()
            return True
        return False

    # -- rules ------------------------------------------------------------------------

    @precondition(lambda self: len(self.model.signals) < 5)
    @rule(interval=st.sampled_from(INTERVALS))
    def create(self, interval: int) -> None:
        row = self.sim.signals.create(self.me, name="s", audience_id="global",
                                      job_definition_id=self.definition_id, interval_seconds=interval)
        assert row["created_at"] == stamp(self.model.now)
        self.model.create(row["id"], interval)
        self.last_run_at[row["id"]] = None

    @precondition(lambda self: self.model.signals)
    @rule(index=st.integers(0, 9))
    def pause(self, index: int) -> None:
        sig = self.pick(index)
        if not self.expect_gone(sig, lambda: self.sim.signals.set_paused(self.me, sig.id, True)):
            self.sim.signals.set_paused(self.me, sig.id, True)
            self.model.pause(sig)

    @precondition(lambda self: self.model.signals)
    @rule(index=st.integers(0, 9))
    def resume(self, index: int) -> None:
        sig = self.pick(index)
        if not self.expect_gone(sig, lambda: self.sim.signals.set_paused(self.me, sig.id, False)):
            self.sim.signals.set_paused(self.me, sig.id, False)
            self.model.resume(sig)

    @precondition(lambda self: self.model.signals)
    @rule(index=st.integers(0, 9))
    def trigger(self, index: int) -> None:
        sig = self.pick(index)
        if not self.expect_gone(sig, lambda: self.sim.signals.trigger(self.me, sig.id)):
            self.sim.signals.trigger(self.me, sig.id)
            self.model.trigger(sig)

    @precondition(lambda self: self.model.signals)
    @rule(index=st.integers(0, 9), interval=st.sampled_from(INTERVALS + [59]))
    def update_interval(self, index: int, interval: int) -> None:
        sig = self.pick(index)
        call = lambda: self.sim.signals.update(self.me, sig.id, {"interval_seconds": interval})  # noqa: E731
        if self.expect_gone(sig, call):
            return
        if interval < 60:
            with pytest.raises(ValidationFailed):
                call()
            return
        call()
        self.model.update_interval(sig, interval)

    @precondition(lambda self: self.model.signals)
    @rule(index=st.integers(0, 9))
    def delete(self, index: int) -> None:
        sig = self.pick(index)
        if not self.expect_gone(sig, lambda: self.sim.signals.delete(self.me, sig.id)):
            self.sim.signals.delete(self.me, sig.id)
            self.model.delete(sig)

    @rule(seconds=ADVANCE)
    def advance(self, seconds: int) -> None:
        self.sim.advance(timedelta(seconds=seconds))
        self.model.advance(seconds)

    @precondition(lambda self: all(s.interval >= 600 for s in self.model.signals if s.active))
    @rule(seconds=FAR)
    def advance_far(self, seconds: int) -> None:
        self.advance(seconds)

    def _to_next_event(self, offset: int, outage: bool) -> None:
        nxt = self.model.next_event()
        if nxt is not None:
            seconds = max(0, nxt - self.model.now + offset)
            self.outage(seconds) if outage else self.advance(seconds)

    @rule(offset=st.sampled_from([-5, -1, 0, 0, 1]))
    def advance_to_next_event(self, offset: int) -> None:
        """Just before, at or after the next event: same-instant edges."""
        self._to_next_event(offset, outage=False)

    @rule(offset=st.sampled_from([-1, 0, 0, 1]))
    def outage_to_next_event(self, offset: int) -> None:
        """An outage ending just before, at or after the next event."""
        self._to_next_event(offset, outage=True)

    @precondition(lambda self: self.model.signals)
    @rule(index=st.integers(0, 9), lead=st.sampled_from([5, 5, 3, 0]),
          then=st.sampled_from([None, "advance", "outage"]))
    def trigger_before_firing(self, index: int, lead: int, then: str | None) -> None:
        """Trigger ``lead`` seconds before the signal's next firing, so that the manual run
        starts at (lead 5) or just after (lead 3) that firing's instant; ``then`` passes that
        instant in normal operation or in an outage ending there."""
        sig = self.pick(index)
        firing = sig.next_due if sig.active else None
        if firing is not None and 0 <= firing - lead - self.model.now <= 3600:
            self.advance(firing - lead - self.model.now)
        self.trigger(index)
        if then is not None and firing is not None and firing >= self.model.now:
            (self.outage if then == "outage" else self.advance)(firing - self.model.now)

    @precondition(lambda self: self.model.labeling == 0)
    @rule()
    def run_until_idle(self) -> None:
        """New jobs finish at once, so idle is when the last running job or queued trigger ends."""
        until = self.model.idle_at()
        assert self.sim.run_until_idle() == START + timedelta(seconds=until)
        self.model.advance(until - self.model.now)

    @rule(seconds=OUTAGE)
    def outage(self, seconds: int) -> None:
        before = {sig.id: len(sig.missed) for sig in self.model.signals}
        missed = self.sim.outage(timedelta(seconds=seconds))
        self.model.outage(seconds)
        expected = {sig.id: [stamp(t) for t in sig.missed[before[sig.id]:]]
                    for sig in self.model.signals if len(sig.missed) > before[sig.id]}
        assert missed == expected

    @rule(labeling=st.sampled_from(LABELING))
    def configure_labeling(self, labeling: int) -> None:
        self.sim.audiences.configure("global", labeling_seconds=labeling)
        self.model.labeling = labeling

    @precondition(lambda self: self.model.signals)
    @rule(index=st.integers(0, 9))
    def list_runs(self, index: int) -> None:
        sig = self.pick(index)
        if self.expect_gone(sig, lambda: self.sim.signals.runs(self.me, sig.id, Query())):
            return
        page = self.sim.signals.runs(self.me, sig.id, Query(page_size=1000))
        self.model.start_triggers(sig, self.model.now)
        assert page.total == len(sig.runs)
        for run in page.items:
            assert run["signal_id"] == sig.id
            if run["status"] == "Skipped":
                assert run["audience_job_id"] is None, run
            else:
                assert self.sim.store.get("jobs", run["audience_job_id"]) is not None, run
        # default sort: newest first
        assert [r["started_at"] for r in page.items] == sorted((r["started_at"] for r in page.items), reverse=True)

    # -- invariants -------------------------------------------------------------------

    @invariant()
    def clock_agrees(self) -> None:
        if self.sim is not None:
            assert self.sim.clock.now() == START + timedelta(seconds=self.model.now)

    @invariant()
    def next_event_agrees(self) -> None:
        if self.sim is not None:
            expected = self.model.next_event()
            assert self.sim.next_event_at() == (None if expected is None else START + timedelta(seconds=expected))

    @invariant()
    def store_matches_model(self) -> None:
        if self.sim is None:
            return
        store, now = self.sim.store, stamp(self.model.now)
        for sig in self.model.signals:
            row = store.get("signals", sig.id)
            assert row["deleted"] == sig.deleted and row["is_paused"] == sig.paused
            assert row["interval_seconds"] == sig.interval
            assert row["next_run_at"] == stamp(sig.next_due), (sig.id, row["next_run_at"], stamp(sig.next_due))
            if sig.active:
                assert row["next_run_at"] > now
            assert row["last_run_at"] == (None if sig.last_fired is None else stamp(sig.last_fired))
            previous = self.last_run_at[sig.id]
            assert previous is None or (row["last_run_at"] is not None and row["last_run_at"] >= previous)
            self.last_run_at[sig.id] = row["last_run_at"]
            assert (row["pending_triggers"] or 0) == sig.pending
            assert row["pending_trigger_at"] == (None if sig.pending_at is None else stamp(sig.pending_at))

            runs = store.select("signal_runs", "signal_id = ?", [sig.id], order_by="started_at, rowid")
            jobs = {j["id"]: j for j in store.select(
                "jobs", "id IN (SELECT audience_job_id FROM signal_runs WHERE signal_id = ?)", [sig.id])}
            got = []
            for r in runs:
                job = jobs.get(r["audience_job_id"]) if r["audience_job_id"] else None
                if r["status"] == "Skipped":
                    assert r["audience_job_id"] is None and r["result_file_name"] is None, r
                else:
                    assert job is not None, r
                    assert job["created_at"] == r["started_at"], (r, job)
                    assert job["state"] == r["status"], (r, job)
                    assert job["completed_at"] == r["completed_at"], (r, job)
                    assert r["result_file_name"] == (f"{job['id']}_results.json" if r["status"] == "Completed"
                                                     else None), r
                got.append((r["trigger_source"], r["started_at"], r["status"], r["skipped_reason"],
                            r["completed_at"], job["completes_at"] if job else None))
            assert got == self.model.expected_runs(sig), sig.id

            # Skip policy: this signal's jobs never overlap (a job may start the instant the last ends).
            spans = sorted((j["created_at"], j["completes_at"]) for j in jobs.values())
            for (_, end), (begin, _) in zip(spans, spans[1:]):
                assert end <= begin, spans
            assert sum(j["state"] != "Completed" for j in jobs.values()) <= 1

            # Every grid point of the signal's active spans is exactly one of fired/skipped/missed.
            missed = [e["at"] for e in store.select("events", "kind = 'signal.missed' AND subject = ?", [sig.id],
                                                    order_by="seq")]
            assert missed == [stamp(t) for t in sig.missed]
            # (the lists agree, so the model says which Scheduled runs were catch-up firings)
            on_grid = [r["started_at"] for r, m in zip(runs, sig.runs)
                       if r["trigger_source"] == "Scheduled" and not m.catch_up]
            assert sorted(on_grid + missed) == [stamp(t) for t in sig.grid_points(self.model.now)], sig.id

            counters = self.sim.counters(sig.id)
            fired = Counter(r.source for r in sig.runs if not r.skipped)
            skipped = sum(r.skipped for r in sig.runs)
            assert counters["fired"] == {"Scheduled": fired["Scheduled"], "Manual": fired["Manual"]}
            assert counters["skipped"] == ({SKIP: skipped} if skipped else {})
            assert counters["missed"] == len(sig.missed)
            assert counters["next_run_at"] == stamp(sig.next_due)
            assert counters["upcoming"] == ([] if not sig.active else
                                            [stamp(sig.next_due + i * sig.interval) for i in range(5)])

    @invariant()
    def event_log_is_in_time_order(self) -> None:
        if self.sim is None:
            return
        for event in self.sim.events(self.event_seq):
            assert event["at"] >= self.last_event_at, event
            self.last_event_at = event["at"]
            self.event_seq = event["seq"]
            if event["kind"] in ("signal.fired", "signal.skipped"):
                self.event_counts.setdefault(event["subject"], Counter())[event["kind"]] += 1
        for sig in self.model.signals:
            counts = self.event_counts.get(sig.id, Counter())
            assert counts["signal.fired"] == sum(not r.skipped for r in sig.runs)
            assert counts["signal.skipped"] == sum(r.skipped for r in sig.runs)


def replay(*steps) -> None:
    """Run machine steps by hand (a shrunk Hypothesis example), checking every invariant."""
    machine = SchedulerMachine()
    checks = [machine.clock_agrees, machine.next_event_agrees, machine.store_matches_model,
              machine.event_log_is_in_time_order]
    try:
        for name, kwargs in steps:
            getattr(machine, name)(**kwargs)
            for check in checks:
                check()
    finally:
        machine.teardown()


def test_replay_listing_after_labeling_change_uses_the_new_labeling_time():
    """Found by the machine at d791d27: a listing started queued triggers with the audience row
    the scheduler had cached at the previous listing (stale labeling_seconds)."""
    replay(("setup", dict(seed=0, labeling=0)), ("create", dict(interval=3600)),
           ("trigger", dict(index=0)), ("list_runs", dict(index=0)),
           ("configure_labeling", dict(labeling=600)),
           ("trigger", dict(index=0)), ("list_runs", dict(index=0)))


def test_replay_catch_up_firing_before_trigger_start_at_outage_end():
    """Found by the machine: a manual run due at an outage's end instant starts before the
    catch-up firing at that instant (documented: firings, then trigger starts)."""
    replay(("setup", dict(seed=0, labeling=600)), ("create", dict(interval=60)),
           ("trigger_before_firing", dict(index=0, lead=5, then="outage")))


TestScheduler = SchedulerMachine.TestCase
TestScheduler.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
