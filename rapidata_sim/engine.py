"""``Engine``: one simulated Rapidata world and everything that acts on it, wired together.

It is the ``Simulator`` without the doors that lead out of the package's lower layers (the
HTTPS server, the SDK client, the HTTP faults, the process clock): those are added by
``simulator.Simulator``, which is what users build. The layers behind the doors (``http``,
``serving``, ``testing``) take an ``Engine``, so none of them imports the facade that
imports them.
"""

from __future__ import annotations

import json
import threading
import time
import tomllib
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Iterator, Literal, Self, get_args, get_origin, get_type_hints

from .core.clock import HORIZON, CalendarError, Clock, check_instant, check_span, iso, parse_iso
from .crowd import Behaviour
from .domain.audiences import Audiences
from .domain.benchmarks import Benchmarks
from .domain.leaderboards import Leaderboards
from .domain.billing import Billing
from .domain.base import Principal
from .domain.job_plans import Crowd
from .domain.datasets import Datasets
from .domain.definitions import Definitions
from .domain.flows import Flows
from .domain.identity import Identity
from .domain.jobs import Jobs
from .domain.results import Results
from .domain.signals import Signals
from .domain.validation_sets import ValidationSets
from .core.events import EventLog
from .core.ids import IdFactory
from .core.world import World
from .scheduling.policies import SchedulerConfig
from .scheduling.scheduler import Scheduler
from .core.store import Store


def fixtures_dir() -> Path:
    """The seed files: packaged copy in a wheel, the repository's ``fixtures/`` otherwise."""
    packaged = Path(__file__).parent / "_fixtures"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parent.parent / "fixtures"


@dataclass
class SimConfig:
    token_lifetime_seconds: int = 3600
    #: Largest request body (JSON or multipart upload) the HTTP layer accepts, in bytes; a larger
    #: one gets 413 problem+json naming this limit. Default 32 MiB.
    max_body_bytes: int = 32 * 1024 * 1024
    assets_base_url: str = "https://assets.rapidata.ai"
    #: ``start_recruiting()`` on an audience whose graduation rule needs N validation tasks
    #: (``minTasks``) but has fewer than N examples is refused with 400, as the real service
    #: answers ("The graduation rule needs 10 validation tasks…"). False lets it recruit anyway
    #: (what the simulator did before the setting existed). Assigning a job to a custom audience that never
    #: recruited still starts its recruiting without this check (the job is the service's own
    #: call, not the user's).
    recruit_requires_examples: bool = True
    #: Most signal grid points one HTTP request may move the clock across (an advance, an
    #: outage); more is a 400 naming this bound (``scheduling/budget.py``). The Python API is not
    #: bounded.
    max_firings_per_request: int = 100_000
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    #: Server-side auto-advance (``http/polling.py``): "next-event" moves the world to the next
    #: thing that happens to a job, flow item or signal a client polls again while it is unfinished;
    #: "off" (the library default: in-process, the SDK's own sleeps advance) leaves time alone.
    #: ``rapidata-sim serve`` turns it on unless ``--poll-advance off``.
    poll_advance: str = "off"


class Engine:
    """A world: its store, clock, seed, and the services that act on them (see ``Simulator``)."""

    def __init__(
        self,
        *,
        seed: int = 0,
        db: str = ":memory:",
        clock: Clock | None = None,
        config: SimConfig | None = None,
        fixtures: str | Path | None = "default",
    ) -> None:
        self.seed = seed
        self.config = config or SimConfig()
        self.store = Store(db)
        self.clock = clock or Clock()
        self.ids = IdFactory(self._id_stream(seed))
        # Derived ids follow the store's transactions: a rolled-back request uses none up.
        self.ids.in_transaction = self.store.in_transaction
        self.store.on_commit.append(self.ids.committed)
        self.store.on_rollback.append(self.ids.rolled_back)
        #: What every part shares; each is given it and the collaborators it needs, never this facade.
        self.world = World(store=self.store, clock=self.clock, ids=self.ids, config=self.config,
                           log=EventLog(self.store, self.clock), seed=seed)
        world = self.world
        # The scheduler first: services tell it about new work. It acts through them once bound.
        self.scheduler = scheduler = Scheduler(world, self.config.scheduler)
        self.identity = Identity(world)
        self.audiences = Audiences(world, scheduler=scheduler)
        self.datasets = Datasets(world)
        self.crowd = Crowd(world)
        self.validation_sets = ValidationSets(world, behaviour_for=self.crowd.behaviour_for)
        self.definitions = Definitions(world, validation_sets=self.validation_sets)
        self.billing = Billing(world, crowd=self.crowd)
        self.jobs = Jobs(world, audiences=self.audiences, definitions=self.definitions, crowd=self.crowd,
                         scheduler=scheduler)
        self.results = Results(world, datasets=self.datasets, crowd=self.crowd)
        self.signals = Signals(world, audiences=self.audiences, definitions=self.definitions, scheduler=scheduler)
        self.benchmarks = Benchmarks(world, datasets=self.datasets)
        self.leaderboards = Leaderboards(world, benchmarks=self.benchmarks, audiences=self.audiences, crowd=self.crowd)
        self.crowd.bind(jobs=self.jobs, results=self.results)
        scheduler.bind(identity=self.identity, audiences=self.audiences, jobs=self.jobs, signals=self.signals,
                       crowd=self.crowd)
        self.flows = Flows(world, audiences=self.audiences, datasets=self.datasets, crowd=self.crowd,
                           scheduler=scheduler)
        scheduler.add_timed(self.flows)
        #: The HTTPS server serving this world, if any (a ``serving.server.Server``; ``Simulator.serve``).
        self._server: Any = None
        #: How the SDK's blocking calls move time (see ``autoadvance``): "next-event" or "off".
        self.auto_advance = "next-event"
        self._realtime: threading.Thread | None = None
        #: One timer for many worlds (``serving.ticker.Ticker``), or None: a thread of its own.
        self.timer: Any = None
        self._closing = threading.Event()
        self.default_client: dict[str, Any] | None = None
        if fixtures is not None:
            path = fixtures_dir() / "world.toml" if fixtures == "default" else Path(fixtures)
            self.load_fixtures(path, create=self.store.count("organizations") == 0)

    def _id_stream(self, seed: int) -> str:
        """Seed for ids: the seed itself for a new world; reopening a stored world starts a
        fresh stream so new ids never collide with the ones already issued."""
        row = self.store.get("meta", "opened")
        opened = int(row["value"]) if row else 0
        with self.store.transaction():
            self.store.conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('opened', ?)", [str(opened + 1)])
        return str(seed) if opened == 0 else f"{seed}/reopened-{opened}"

    # -- seed data ----------------------------------------------------------------

    def load_fixtures(self, path: Path, *, create: bool = True) -> None:
        """Create the organizations, users, clients and audiences a TOML file declares.

        The file's first client becomes ``default_client`` (what ``client()`` and
        ``env()`` connect as); ``create=False`` only reads that, for a reopened store.
        """
        data = tomllib.loads(Path(path).read_text())
        self.default_client = data.get("clients", [None])[0]
        if not create:
            return
        with self.store.transaction():
            for org in data.get("organizations", []):
                self.identity.create_organization(org["id"], org["name"])
            for user in data.get("users", []):
                self.identity.create_user(user["email"], user["organization"], user_id=user["id"],
                                          role=user.get("role", "Customer"))
            for client in data.get("clients", []):
                self.identity.create_client(client["user"], client_id=client["id"], secret=client["secret"])
            for aud in data.get("audiences", []):
                owner = self.store.get("users", aud["owner"])
                self.audiences.create(
                    audience_id=aud["id"], name=aud["name"], description=aud.get("description"),
                    organization_id=owner["organization_id"], owner_id=owner["id"], owner_mail=owner["email"],
                    status=aud.get("status", "Ready"), is_public=aud.get("public", False),
                    users_per_state=aud.get("users_per_state"), capacity=aud.get("capacity", "Sufficient"),
                    labeling_seconds=aud.get("labeling_seconds"), filters=aud.get("filters"),
                    created_at=aud.get("created_at"), population=aud.get("population"),
                )
                if "behaviour" in aud:
                    self.crowd.behave(aud["id"], Behaviour.from_dict(aud["behaviour"]))

    # -- a world kept on disk ----------------------------------------------------------

    @classmethod
    def open(cls, db: str | Path, *, seed: int | None = 0, speed: float | None = 1.0,
             start: datetime | None = None, downtime: tuple[float, float] | None = None, **kwargs: Any) -> Self:
        """A world stored in ``db``, its clock continuing from where it stood when last saved.

        A server that follows the wall clock (``speed`` > 0) was down in between: the
        virtual span its downtime stands for is an outage, so the firings it missed are
        recorded and caught up by ``SchedulerConfig.catch_up``. A frozen one (``speed``
        0) just resumes at the saved instant. A new file (or ``:memory:``) starts a new
        world, its clock at ``start`` (default: now, or ``FROZEN_START`` when frozen).

        ``seed`` or ``speed`` None: the ones the world was saved with (a world keeps its own
        seed and clock mode; new worlds get 0 and 1). ``downtime``: the wall interval (epoch
        seconds, from, to) in which no server ran; the rest of the time since the save the
        world was alive but closed (a server closes idle worlds), so what fell due then
        happens as it would have, not as an outage. None: all of it was downtime.
        """
        probe = Store(str(db))
        row = probe.get("meta", "clock")
        stored_seed = probe.get("meta", "seed")
        # The clock is saved about once a wall second; a process killed in between had run on, and
        # what the world recorded since (its newest events) is the least it had reached.
        (recorded,) = probe.conn.execute(
            "SELECT MAX(at) FROM (SELECT at FROM events ORDER BY seq DESC LIMIT 1000)").fetchone()
        probe.conn.close()
        if seed is None:
            seed = int(stored_seed["value"]) if stored_seed else 0
        if row is None:
            speed = 1.0 if speed is None else speed
            clock = Clock(start, speed=speed) if speed > 0 else Clock.frozen(start)
            sim = cls(seed=seed, db=str(db), clock=clock, **kwargs)
            with sim.store.transaction():
                sim.store.conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('seed', ?)", [str(seed)])
        else:
            saved = json.loads(row["value"])
            speed = float(saved.get("speed", 1.0)) if speed is None else speed
            saved_at = parse_iso(saved["virtual"])
            resume = max(saved_at, parse_iso(recorded)) if recorded else saved_at
            sim = cls(seed=seed, db=str(db), clock=Clock.frozen(resume), **kwargs)
            try:
                # The time since the save: alive (events fall due as usual), then down (an outage),
                # then alive again; less what the world had already lived through; at most up to
                # the horizon (a clock that stopped there missed nothing since).
                now, wall = time.time(), saved["wall"]
                down_from, down_to = (wall, now) if downtime is None else downtime
                down_from = min(max(down_from, wall), now)
                down_to = min(max(down_to, down_from), now)
                spans = [(down_from - wall) * speed, (down_to - down_from) * speed, (now - down_to) * speed]
                lived = (resume - saved_at).total_seconds()
                for i, span in enumerate(spans):
                    taken = min(span, lived)
                    spans[i], lived = span - taken, lived - taken
                with sim.store.transaction():  # one commit: the downtime's outage and the clock it moved
                    for i, span in enumerate(spans):
                        span = min(span, (HORIZON - sim.clock.now()).total_seconds())
                        if span <= 0:
                            continue
                        if i == 1:
                            sim.outage(timedelta(seconds=span))
                        else:  # alive: what fell due happens now, as the realtime loop would have done it
                            target = sim.clock.now() + timedelta(seconds=span)
                            sim.scheduler.sync(until=iso(target))
                            sim.clock.advance_to(target)
                            sim.scheduler.sync()
                    sim.clock.set_speed(speed)
                    sim.save_clock()
            except BaseException:
                sim.store.conn.close()  # the caller gets the error, not a half-open world
                raise
        sim.save_clock()
        sim.clock.on_move(lambda _now: sim.save_clock())
        return sim

    def save_clock(self) -> None:
        """Remember where the clock stands (and when, in wall time), for ``open`` after a restart
        (nothing to remember for a world in memory)."""
        if self.store.path == ":memory:":
            return
        value = json.dumps({"virtual": iso(self.clock.now()), "wall": time.time(), "speed": self.clock.speed})
        with self.store.transaction():
            self.store.conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('clock', ?)", [value])

    # -- time ---------------------------------------------------------------------

    def sync(self) -> int:
        """Process everything due up to the clock's now (firings, completions)."""
        return self.scheduler.sync()

    def advance(self, delta: timedelta | None = None, **units: float) -> datetime:
        """Move the clock forward (``advance(timedelta(days=3))`` or ``advance(days=3)``) and
        process every event on the way, in time order."""
        delta = (delta or timedelta()) + timedelta(**units)
        if delta < timedelta(0):
            raise ValueError("the clock never goes backwards")
        if delta > HORIZON - self.clock.now():
            raise CalendarError(f"the clock cannot pass {iso(HORIZON)}, the end of the simulated calendar")
        # A clock that follows the wall may have moved on since ``now``: never ask it to go back.
        return self._advance_to(self.clock.now() + delta, at_least_now=True)

    def advance_to(self, instant: datetime) -> datetime:
        """Move the clock to ``instant`` (never backwards, never past ``clock.HORIZON``),
        processing every event on the way."""
        return self._advance_to(instant, at_least_now=False)

    def _advance_to(self, instant: datetime, *, at_least_now: bool) -> datetime:
        check_instant(instant)
        with self.store.transaction():
            if at_least_now:
                instant = max(instant, self.clock.now())
            self.scheduler.sync(until=iso(instant))
            now = self.clock.advance_to(instant, or_stay=at_least_now)
            self.scheduler.sync()
            self.signals.record("clock.advanced", "clock", to=iso(now))
        return now

    def set_speed(self, speed: float) -> None:
        """Run the clock at ``speed`` virtual seconds per wall second from now on (0: frozen);
        events then fire as virtual time reaches them."""
        with self.store.transaction():
            self.sync()
            self.clock.set_speed(speed)
            self.signals.record("clock.speed", "clock", speed=speed)
        if speed > 0:
            self.run_realtime()
        self.save_clock()

    def next_event_at(self) -> datetime | None:
        """When the next firing, trigger start or job completion happens, if anything is scheduled."""
        at = self.scheduler.next_event_at()
        return parse_iso(at) if at else None

    def run_until_idle(self, max_steps: int = 100_000) -> datetime:
        """Advance event by event until no job is running and no trigger is queued.

        Scheduled firings on the way happen as usual (and may start new jobs);
        ``max_steps`` guards against a world that never goes idle.
        """
        self.sync()
        for _ in range(max_steps):
            if not self.scheduler.has_pending_work():
                return self.clock.now()
            nxt = self.next_event_at()
            if nxt is None:
                break
            self.advance_to(max(nxt, self.clock.now()))
        if self.scheduler.has_pending_work():
            raise RuntimeError(f"the world did not go idle within {max_steps} events")
        return self.clock.now()

    def advance_until_event(self, subject: str, max_steps: int = 10_000) -> datetime:
        """Advance event by event until the event log names ``subject`` (something happened to it)
        or nothing more is scheduled; ``max_steps`` bounds a world whose events never touch it."""
        (since,) = self.store.conn.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()
        self.sync()
        for _ in range(max_steps):
            if self.store.conn.execute("SELECT 1 FROM events WHERE seq > ? AND subject = ? LIMIT 1",
                                       [since, subject]).fetchone():
                break
            nxt = self.next_event_at()
            if nxt is None:
                break
            self._advance_to(nxt, at_least_now=True)  # a clock that follows the wall may be past it
        return self.clock.now()

    def outage(self, delta: timedelta | None = None, **units: float) -> dict[str, list[str]]:
        """The service is down for a while: firings in it are missed, then caught up per
        ``SchedulerConfig.catch_up``. Returns the missed grid points per signal."""
        with self.store.transaction():  # one commit: never an outage.started without its end
            return self.scheduler.outage((delta or timedelta()) + timedelta(**units))

    def configure(self, **policy: Any) -> None:
        """Change policies: ``overlap``, ``trigger_overlap``, ``paused``, ``catch_up``,
        ``trigger_latency_seconds`` (``SchedulerConfig``), ``auto_advance`` and ``poll_advance``."""
        cfg = self.config.scheduler
        choices = {name: get_args(hint) for name, hint in get_type_hints(SchedulerConfig).items()
                   if get_origin(hint) is Literal}
        choices["auto_advance"] = choices["poll_advance"] = ("next-event", "off")
        for key, value in policy.items():  # all checked before any is applied
            if key == "trigger_latency_seconds":
                check_span(value)
            elif key not in choices:
                raise TypeError(f"unknown policy {key!r}")
            elif value not in choices[key]:
                raise ValueError(f"{key} must be one of {', '.join(map(repr, choices[key]))}, not {value!r}")
        for key, value in policy.items():
            if key == "auto_advance":
                self.auto_advance = value
            elif key == "poll_advance":
                self.config.poll_advance = value
            else:
                setattr(cfg, key, value)
        if "paused" in policy:
            self.scheduler.rebuild()  # paused signals enter or leave the queue
        self.signals.record("policy.changed", "world", **policy)

    def counters(self, signal_id: str, upcoming: int = 5) -> dict[str, Any]:
        """Per signal: fired (scheduled/manual), skipped by reason, missed, next grid points."""
        return self.signals.counters(signal_id, upcoming)

    # -- observing ----------------------------------------------------------------

    def events(self, since: int = 0) -> list[dict[str, Any]]:
        """The event log: what happened, when, in order."""
        return self.world.log.events(since)

    def event_log(self) -> str:
        """The event log as text, one line per event: the thing determinism tests compare."""
        return self.world.log.text()

    def events_jsonl(self, since: int = 0, limit: int | None = None) -> str:
        """The event log as JSON lines (``seq``, ``at``, ``kind``, ``subject``, ``data``), at most
        ``limit`` events after ``since``."""
        return self.world.log.jsonl(since, limit)

    def principal(self, email: str | None = None) -> Principal:
        """Act as a user from Python (default: the default client's user)."""
        if email is None:
            return self.identity.principal(self.default_client["user"])
        return self.identity.principal_for_email(email)


    # -- running ------------------------------------------------------------------

    @contextmanager
    def auto_advance_off(self) -> Iterator[None]:
        """Within the block the SDK's waits sleep for real: unfinished states stay observable."""
        previous, self.auto_advance = self.auto_advance, "off"
        try:
            yield
        finally:
            self.auto_advance = previous

    def run_realtime(self) -> threading.Thread | None:
        """Fire events as virtual time reaches them, on a background thread (for a clock
        with a speed; requests sync on their own, this is for events nobody asks about).
        A world given a ``timer`` (a server of many worlds) is handed to it instead."""
        if self.timer is not None:
            self.timer.add(self)
            return None
        if self._realtime is None:
            def loop() -> None:
                while not self._closing.is_set():
                    nxt = self.next_event_at()
                    wait = 1.0 if nxt is None else min(1.0, self.clock.wall_until(nxt))
                    if self._closing.wait(wait):
                        return
                    self.sync()
                    self.save_clock()  # at most ~1 s stale if the process is killed
            self._realtime = threading.Thread(target=loop, name="rapidata-sim realtime", daemon=True)
            self._realtime.start()
        return self._realtime

    def close(self) -> None:
        self._closing.set()
        if self.timer is not None:
            self.timer.discard(self)
        if self._realtime is not None:
            self._realtime.join(timeout=5)
        if self._server is not None:
            self._server.stop()
            self._server = None
        self.save_clock()
        self.store.conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["Engine", "SimConfig", "fixtures_dir"]
