"""Steady stretches change nothing anyone can observe: the same calls on two worlds, one
taking steady firings in stretches (``SchedulerConfig.fast_forward``, the default) and one
firing one by one, leave the same rows (every table, in the same order), the same event
log and the same ids. Hypothesis drives both through signals, clock jumps, pauses,
triggers, revisions, faults, outages and reads that write the deferred rows mid-way."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from rapidata_sim import Clock, NotFound, SchedulerConfig, SimConfig, Simulator, ValidationFailed
from rapidata_sim.testing.builders import text_definition
from rapidata_sim.core.querying import Query

START = datetime(2026, 1, 1, tzinfo=timezone.utc)
INTERVALS = [60, 600, 3600, 86400]
#: Fixed labeling times (steady when at most the interval), and None: the crowd's own pace.
LABELING = [0, 0, 1, 60, 600, 3600, 5400, None]
ADVANCE = st.one_of(st.sampled_from([0, 1, 59, 60, 61, 600, 3600, 5400, 86_400]), st.integers(0, 6 * 3600),
                    st.integers(0, 3 * 86_400))


def world(fast: bool, seed: int) -> Simulator:
    sim = Simulator(seed=seed, clock=Clock(start=START, follow_wall=False),
                    config=SimConfig(scheduler=SchedulerConfig(fast_forward=fast)))
    me = sim.principal()
    text_definition(sim, name="pairs", datapoints=2, votes=3, who=me)
    text_definition(sim, name="more", datapoints=1, votes=1, who=me)
    return sim


def state(sim: Simulator) -> str:
    """Everything observable, as text (reading it writes the deferred rows)."""
    return sim.event_log() + json.dumps(sim.store.snapshot(), sort_keys=True, default=str)


class TwoWorlds(RuleBasedStateMachine):
    """Every rule runs on both worlds; a rule that raises must raise the same on both."""

    def __init__(self) -> None:
        super().__init__()
        self.worlds: list[Simulator] = []
        self.signals: list[str] = []
        self.audiences: list[str] = []

    def teardown(self) -> None:
        if self.worlds:
            assert state(self.worlds[0]) == state(self.worlds[1])
        for sim in self.worlds:
            sim.close()

    def both(self, call) -> tuple[str, Any]:
        outcomes = []
        for sim in self.worlds:
            try:
                outcomes.append(("ok", call(sim, sim.principal())))
            except (NotFound, ValidationFailed) as exc:
                outcomes.append((type(exc).__name__, str(exc)))
        assert outcomes[0] == outcomes[1]
        return outcomes[0]

    @initialize(seed=st.integers(0, 2**16), labeling=st.sampled_from(LABELING))
    def setup(self, seed: int, labeling: int | None) -> None:
        self.worlds = [world(True, seed), world(False, seed)]
        self.audiences = ["global"]
        for sim in self.worlds:
            sim.audiences.configure("global", labeling_seconds=labeling)
            # A custom audience: Created until a firing starts its recruiting, Ready later.
            custom = sim.audiences.create_custom(sim.principal(), name="custom")["id"]
            sim.audiences.configure(custom, labeling_seconds=labeling)
        self.audiences.append(custom)

    def definition(self, sim: Simulator, index: int) -> str:
        rows = sim.store.select("job_definitions", order_by="rowid")
        return rows[index % len(rows)]["id"]

    def pick(self, index: int) -> str:
        return self.signals[index % len(self.signals)]

    @precondition(lambda self: len(self.signals) < 6)
    @rule(interval=st.sampled_from(INTERVALS), definition=st.integers(0, 1), pinned=st.booleans(),
          public=st.booleans(), audience=st.integers(0, 1))
    def create(self, interval: int, definition: int, pinned: bool, public: bool, audience: int) -> None:
        def create(sim: Simulator, me) -> str:
            return sim.signals.create(me, name="s", audience_id=self.audiences[audience],
                                      job_definition_id=self.definition(sim, definition), interval_seconds=interval,
                                      revision_number=1 if pinned else None, is_public=public)["id"]

        outcome = self.both(create)
        if outcome[0] == "ok":
            self.signals.append(outcome[1])

    @rule(seconds=ADVANCE)
    def advance(self, seconds: int) -> None:
        for sim in self.worlds:
            sim.advance(timedelta(seconds=seconds))

    @rule(seconds=st.integers(0, 3 * 86_400))
    def outage(self, seconds: int) -> None:
        self.both(lambda sim, me: sim.outage(timedelta(seconds=seconds)))

    @precondition(lambda self: self.signals)
    @rule(index=st.integers(0, 9), paused=st.booleans())
    def pause_or_resume(self, index: int, paused: bool) -> None:
        self.both(lambda sim, me: sim.signals.set_paused(me, self.pick(index), paused))

    @precondition(lambda self: self.signals)
    @rule(index=st.integers(0, 9))
    def trigger(self, index: int) -> None:
        self.both(lambda sim, me: sim.signals.trigger(me, self.pick(index)))

    @precondition(lambda self: self.signals)
    @rule(index=st.integers(0, 9), interval=st.sampled_from(INTERVALS))
    def update_interval(self, index: int, interval: int) -> None:
        self.both(lambda sim, me: sim.signals.update(me, self.pick(index), {"interval_seconds": interval}))

    @precondition(lambda self: self.signals)
    @rule(index=st.integers(0, 9))
    def delete(self, index: int) -> None:
        self.both(lambda sim, me: sim.signals.delete(me, self.pick(index)))

    @rule(definition=st.integers(0, 1))
    def new_revision(self, definition: int) -> None:
        self.both(lambda sim, me: sim.definitions.create_revision(me, self.definition(sim, definition),
                                                                 changes={})["revision_number"])

    @rule(labeling=st.sampled_from(LABELING), audience=st.integers(0, 1))
    def configure_labeling(self, labeling: int | None, audience: int) -> None:
        self.both(lambda sim, me: sim.audiences.configure(self.audiences[audience], labeling_seconds=labeling))

    @rule(jobs=st.integers(1, 3), state=st.sampled_from(["Failed", "Paused"]), audience=st.integers(0, 1))
    def fault(self, jobs: int, state: str, audience: int) -> None:
        self.both(lambda sim, me: sim.crowd.inject(state, audience_id=self.audiences[audience], jobs=jobs))

    @rule(audience=st.integers(0, 1))
    def delete_audience(self, audience: int) -> None:
        self.both(lambda sim, me: sim.audiences.delete(me, self.audiences[audience]))

    @rule(policy=st.sampled_from([{"overlap": "allow"}, {"overlap": "skip"}, {"overlap": "buffer_one"},
                                  {"paused": "skip"}, {"paused": "none"}, {"catch_up": "all"}]))
    def configure(self, policy: dict) -> None:
        self.both(lambda sim, me: sim.configure(**policy))

    @precondition(lambda self: self.signals)
    @rule(index=st.integers(0, 9))
    def list_runs(self, index: int) -> None:
        """A read of the runs (writes the deferred rows, starts queued triggers)."""
        self.both(lambda sim, me: [r["id"] for r in sim.signals.runs(me, self.pick(index), Query()).items])

    @rule(seconds=ADVANCE)
    def failed_request(self, seconds: int) -> None:
        """The clock moves (as in real time), then a request catches the world up and fails:
        the firings it took are rolled back in both worlds alike (and taken again later)."""
        for sim in self.worlds:
            sim.clock.advance(timedelta(seconds=seconds))
            with pytest.raises(RuntimeError):
                with sim.store.transaction():
                    sim.scheduler.sync()
                    raise RuntimeError("the handler failed")

    @invariant()
    def same_clock_and_queue_head(self) -> None:
        if self.worlds:
            assert self.worlds[0].clock.now() == self.worlds[1].clock.now()
            assert self.worlds[0].next_event_at() == self.worlds[1].next_event_at()


TestTwoWorlds = TwoWorlds.TestCase
TestTwoWorlds.settings = settings(max_examples=120, stateful_step_count=25, deadline=None)


def test_a_year_of_steady_firings_is_written_on_first_read():
    """The benchmark's world: the fast world keeps the year's rows deferred until read, then
    writes exactly what the one-by-one world wrote."""
    sims = [world(True, 3), world(False, 3)]
    for sim in sims:
        sim.audiences.configure("global", labeling_seconds=0)
        definition = sim.store.select("job_definitions", order_by="rowid")[0]["id"]
        for i in range(3):
            sim.signals.create(sim.principal(), name=f"s{i}", audience_id="global", job_definition_id=definition,
                               interval_seconds=3600 * (i + 1))
        for _ in range(12):
            sim.advance(timedelta(days=30))
    fast, slow = sims
    assert fast.scheduler.ledger.pending()  # nothing read yet: still deferred
    assert not slow.scheduler.ledger.pending()
    assert fast.store.count("signal_runs") == slow.store.count("signal_runs") == 24 * 360 * (1 + 1 / 2 + 1 / 3)
    assert not fast.scheduler.ledger.pending()
    assert state(fast) == state(slow)


def test_a_long_stretch_is_written_in_batches_with_the_same_rows(monkeypatch):
    """The ledger writes a long stretch's rows a batch at a time (memory bounded), and the rows,
    their order and the event log are what the one-by-one world wrote."""
    from rapidata_sim.scheduling import ledger

    monkeypatch.setattr(ledger, "WRITE_BATCH", 7)
    inserts: list[int] = []
    sims = [world(True, 5), world(False, 5)]
    for sim in sims:
        sim.audiences.configure("global", labeling_seconds=0)
        definition = sim.store.select("job_definitions", order_by="rowid")[0]["id"]
        for i in range(2):
            sim.signals.create(sim.principal(), name=f"s{i}", audience_id="global", job_definition_id=definition,
                               interval_seconds=3600 * (i + 1))
        sim.advance(timedelta(days=5))
    fast, slow = sims
    assert fast.scheduler.ledger.pending()
    original = fast.store.insert_encoded
    monkeypatch.setattr(fast.store, "insert_encoded",
                        lambda table, rows: (inserts.append(len(rows)), original(table, rows))[1])
    assert state(fast) == state(slow)
    assert max(inserts) <= 7 * 2 and len(inserts) > 10  # runs/jobs: 7 a batch; events: up to 2 a firing


@pytest.mark.parametrize("triggered", [0, 1])
@pytest.mark.parametrize("labeling", [0, 600])
def test_a_stretch_meeting_one_by_one_firings_at_one_instant(triggered, labeling):
    """Two signals of one definition fire at the same instants; one of them has a manual run
    queued for that instant, so it fires one by one there while the other is in a stretch
    (which a third signal, firing every ten minutes, has started before that instant).
    Their jobs' stream ids count each other (``ids.derived``), in either queue order."""
    states = []
    for fast in (True, False):
        sim = world(fast, 11)
        sim.audiences.configure("global", labeling_seconds=labeling)
        me = sim.principal()
        definition = sim.store.select("job_definitions", order_by="rowid")[0]["id"]
        signals = [sim.signals.create(me, name=f"s{i}", audience_id="global", job_definition_id=definition,
                                      interval_seconds=3600)["id"] for i in range(2)]
        # A third that fires often: the stretch before the instant, in the same sync.
        sim.signals.create(me, name="often", audience_id="global", job_definition_id=definition,
                           interval_seconds=600)
        sim.advance(timedelta(hours=2) - timedelta(seconds=5))
        sim.signals.trigger(me, signals[triggered])
        sim.advance(timedelta(hours=3))
        states.append(state(sim))
        sim.close()
    assert states[0] == states[1]


def test_a_world_on_disk_writes_its_stretches_before_each_commit(tmp_path):
    """An acknowledged write is a written one: a world on disk keeps nothing deferred past a
    commit, and what it wrote is what the one-by-one world holds, after a reopen too."""
    states = []
    for fast in (True, False):
        db = tmp_path / f"{fast}.sqlite3"
        sim = Simulator.open(db, seed=5, speed=0, start=START,
                             config=SimConfig(scheduler=SchedulerConfig(fast_forward=fast)))
        sim.audiences.configure("global", labeling_seconds=0)
        definition = text_definition(sim, name="pairs", datapoints=1, votes=1)["id"]
        for interval in (3600, 7200):
            sim.signals.create(sim.principal(), name="s", audience_id="global", job_definition_id=definition,
                               interval_seconds=interval)
        sim.advance(timedelta(days=3))
        assert not sim.scheduler.ledger.pending()
        sim.close()
        again = Simulator.open(db, seed=5, speed=0)
        assert again.store.count("signal_runs", "status = 'Completed'") == 3 * (24 + 12)
        states.append(again.event_log())
        again.close()
    assert states[0] == states[1]
