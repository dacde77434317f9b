"""Hypothesis support: strategies for signals, crowds and timelines, ``SignalMachine`` and
``LeaderboardMachine``.

``SignalMachine`` drives a world through the real SDK with the actions of a signal's life;
subclass it, add ``@invariant``s that call your logic, and Hypothesis searches for the
interleaving that breaks it. ``LeaderboardMachine`` does the same for a benchmark (models
evaluated, leaderboards made, the crowd changing its mind). Each step is a scenario timeline entry, so a failing example
prints as a scenario file ``rapidata-sim run`` replays. See ``docs/testing.md``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from hypothesis import note, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule

from ..crowd import Behaviour, Classify, Population, Prefer
from ..scenario.context import Context, hook
from ..scenario.format import Scenario
from ..scenario.runner import act, create_benchmark, create_definition
from ..scenario.backends import LocalWorld
from ..serving.server import SharedServer

#: Durations as scenarios write them.
DURATIONS = ["1m", "30m", "1h", "6h", "12h", "23h", "1d", "2d", "3d"]
FAULTS = ("Failed", "Paused", "ManualApproval", "SpendLimited")


def interval_hours() -> st.SearchStrategy[float]:
    """Signal intervals the service accepts (>= 60 s), weighted towards the usual ones."""
    return st.one_of(st.sampled_from([1.0, 6.0, 12.0, 24.0, 168.0]),
                     st.integers(min_value=60, max_value=14 * 86400).map(lambda s: s / 3600))


def signal_configs(definitions: tuple[str, ...] = ("pairs",),
                   audiences: tuple[str, ...] = ("global",)) -> st.SearchStrategy[dict[str, Any]]:
    """A scenario ``[signals.*]`` table: interval, pinned or latest revision, public or not."""
    return st.fixed_dictionaries({
        "audience": st.sampled_from(audiences), "definition": st.sampled_from(definitions),
        "interval_hours": interval_hours(), "is_public": st.booleans(),
    }, optional={"revision": st.just(1)})


def populations() -> st.SearchStrategy[Population]:
    """Crowds from a trickle (a job takes days) to a flood (minutes)."""
    return st.builds(Population, responses_per_hour=st.sampled_from([2.0, 20.0, 200.0, 2_000.0, 20_000.0]),
                     score_mean=st.floats(0.5, 0.95))


def compare_models() -> st.SearchStrategy[Prefer]:
    """Bradley–Terry crowds: no configured quality, or a quality for A-side / B-side names."""
    qualities = st.one_of(st.none(), st.dictionaries(st.sampled_from(["*a *", "*b *"]), st.floats(-2, 2),
                                                     min_size=1, max_size=2))
    return st.builds(Prefer, quality=qualities, strength=st.floats(0.1, 3.0), noise=st.floats(0.0, 0.5),
                     unsure=st.floats(0.0, 0.3))


def behaviours() -> st.SearchStrategy[Behaviour]:
    return st.builds(Behaviour, compare=compare_models(),
                     classify=st.builds(Classify, accuracy=st.floats(0.3, 1.0)))


def actions(signals: tuple[str, ...] = ("daily",), audiences: tuple[str, ...] = ("global",)
            ) -> st.SearchStrategy[dict[str, Any]]:
    """One scenario timeline entry."""
    sig, aud = st.sampled_from(signals), st.sampled_from(audiences)
    return st.one_of(
        st.builds(lambda d: {"advance": d}, st.sampled_from(DURATIONS)),
        st.builds(lambda s: {"trigger": s}, sig),
        st.builds(lambda s: {"pause": s}, sig),
        st.builds(lambda s: {"resume": s}, sig),
        st.builds(lambda s, h: {"update": s, "interval_hours": h}, sig, interval_hours()),
        st.builds(lambda d: {"outage": d}, st.sampled_from(DURATIONS[:6])),
        st.builds(lambda a, p: {"population": a, **_population_changes(p)}, aud, populations()),
        st.builds(lambda a, b: {"behave": a, "compare": b.to_dict()["compare"]}, aud, behaviours()),
        st.builds(lambda a, s: {"fault": a, "state": s, "jobs": 1}, aud, st.sampled_from(FAULTS)),
    )


def timelines(signals: tuple[str, ...] = ("daily",), audiences: tuple[str, ...] = ("global",),
              max_steps: int = 12) -> st.SearchStrategy[list[dict[str, Any]]]:
    """A scenario ``timeline``: what happens to a world, in order."""
    return st.lists(actions(signals, audiences), min_size=1, max_size=max_steps)


def _population_changes(p: Population) -> dict[str, Any]:
    return {"responses_per_hour": p.responses_per_hour, "score_mean": p.score_mean}


# -- the state machine ------------------------------------------------------------------


#: One server and one SDK client for every example of every machine in the process.
_SHARED = SharedServer()



def _fresh_world(seed: int, start: str) -> tuple[Any, Any]:
    """A frozen world at ``start`` behind the session's shared server, and its SDK client."""
    from . import offline_sdk
    from ..core.clock import Clock, parse_iso
    from ..simulator import Simulator

    offline_sdk.quiet_env()
    offline_sdk.skip_version_check()
    sim = Simulator(seed=seed, clock=Clock.frozen(parse_iso(start)))
    _SHARED.enter(sim)
    return sim, _SHARED.client()


class SignalMachine(RuleBasedStateMachine):
    """A world with one signal, driven through the real SDK by Hypothesis.

    Class settings: ``seed``, ``start`` (frozen clock), ``definition`` (a scenario
    ``[definitions.*]`` table), ``signal`` (a ``[signals.*]`` table; ``audience`` and
    ``interval_hours``), ``checks`` (``module:function`` hooks the exported scenario
    expects to pass). In invariants: ``self.sim``, ``self.client``, ``self.signals``,
    ``self.context()``, ``self.counters()``, ``self.sim.events()``.
    """

    seed: ClassVar[int] = 0
    start: ClassVar[str] = "2026-01-05T00:00:00Z"
    definition: ClassVar[dict[str, Any]] = {"type": "compare", "instruction": "Which answer is better?",
                                            "generate": {"count": 4, "a": "model-a answer {i}",
                                                         "b": "model-b answer {i}"}, "responses": 5}
    signal: ClassVar[dict[str, Any]] = {"audience": "global", "interval_hours": 24}
    checks: ClassVar[list[str]] = []
    #: The scenario of the example that ran last (after a failure: the minimal failing one).
    last_scenario: ClassVar[Scenario | None] = None

    def __init__(self) -> None:
        super().__init__()
        self.sim, self.client = _fresh_world(self.seed, self.start)
        self.definitions: dict[str, Any] = {}
        self.signals: dict[str, Any] = {}
        self.timeline: list[dict[str, Any]] = []
        self.paused = False

    # -- setup and the record of what happened ----------------------------------------

    @initialize()
    def create_signal(self) -> None:
        self.definitions["pairs"] = create_definition(self.client, "pairs", dict(self.definition))
        spec = {"definition": "pairs", **self.signal}
        self.signals["daily"] = self.client.signals.create_signal(
            name="daily", audience=spec["audience"], job_definition=self.definitions["pairs"],
            interval_hours=float(spec["interval_hours"]), revision_number=spec.get("revision"))

    def context(self, **step: Any) -> Context:
        return Context(self.sim, self.client, self.signals, self.definitions, step, world=LocalWorld.of(self.sim))

    def counters(self, name: str = "daily") -> dict[str, Any]:
        return self.sim.counters(self.signals[name].id)

    def do(self, step: dict[str, Any]) -> None:
        """Play one timeline entry and record it."""
        self.timeline.append(step)
        act(self.context(), step)

    def scenario(self) -> Scenario:
        """What this example did, as a scenario file ``rapidata-sim run`` replays."""
        return Scenario(
            name=f"{type(self).__name__} counterexample",
            description="Found by Hypothesis (rapidata_sim.testing.strategies.SignalMachine).",
            world={"seed": self.seed, "start": self.start},
            definitions={"pairs": dict(self.definition)},
            signals={"daily": {"definition": "pairs", **self.signal}},
            timeline=list(self.timeline),
            expect=[{"call": c} for c in self.checks] or [{"signal": "daily", "fired": self.counters()["fired"]
                                                           ["Scheduled"]}])

    def run_checks(self) -> None:
        """Run the ``checks`` hooks, as the exported scenario will."""
        for target in self.checks:
            hook(target)(self.context())

    def teardown(self) -> None:
        scenario = type(self).last_scenario = self.scenario()
        note("Scenario that replays this example (save it as a .toml file, then "
             "`rapidata-sim run FILE`):\n" + scenario.to_toml())
        _SHARED.leave(self.sim)

    # -- rules ------------------------------------------------------------------------

    @rule(d=st.sampled_from(DURATIONS))
    def advance(self, d: str) -> None:
        self.do({"advance": d})

    @rule()
    def trigger(self) -> None:
        self.do({"trigger": "daily"})

    @precondition(lambda self: not self.paused)
    @rule()
    def pause(self) -> None:
        self.do({"pause": "daily"})
        self.paused = True

    @precondition(lambda self: self.paused)
    @rule()
    def resume(self) -> None:
        self.do({"resume": "daily"})
        self.paused = False

    @rule(hours=st.sampled_from([1.0, 6.0, 12.0, 24.0, 48.0]))
    def update_interval(self, hours: float) -> None:
        self.do({"update": "daily", "interval_hours": hours})

    @rule(d=st.sampled_from(["30m", "3h", "1d", "2d"]))
    def outage(self, d: str) -> None:
        self.do({"outage": d})

    @rule(rate=st.sampled_from([2.0, 20.0, 2_000.0, 20_000.0]))
    def crowd_speed(self, rate: float) -> None:
        self.do({"population": self.signal["audience"], "responses_per_hour": rate})

    @rule(side=st.sampled_from(["model-a*", "model-b*"]), strength=st.sampled_from([0.5, 2.0]))
    def crowd_prefers(self, side: str, strength: float) -> None:
        self.do({"behave": self.signal["audience"],
                 "compare": {"quality": {side: 1.0}, "strength": strength, "noise": 0.05, "unsure": 0.0}})


class LeaderboardMachine(RuleBasedStateMachine):
    """A world with one benchmark (``arena``), driven through the real SDK by Hypothesis.

    Class settings: ``seed``, ``start``, ``benchmark`` (a scenario ``[benchmarks.*]`` table),
    ``checks`` (``module:function`` hooks). Rules: time passes, the crowd prefers one model,
    a new model is evaluated, a new leaderboard is made. In invariants: ``self.sim``,
    ``self.client``, ``self.models``, ``self.context()`` (``ctx.benchmarks``, ``ctx.leaderboards``),
    ``self.standings(name)``. A failing example prints as a scenario file.
    """

    seed: ClassVar[int] = 0
    start: ClassVar[str] = "2026-01-05T00:00:00Z"
    benchmark: ClassVar[dict[str, Any]] = {
        "generate": {"count": 4, "text": "prompt {i}"}, "models": ["model-a", "model-b"],
        "answer": "{model} answer to {prompt}", "leaderboards": {"main": {"instruction": "Which answer is better?",
                                                                          "responses": 60}}}
    checks: ClassVar[list[str]] = []
    last_scenario: ClassVar[Scenario | None] = None
    MAX_MODELS: ClassVar[int] = 5
    MAX_LEADERBOARDS: ClassVar[int] = 3

    def __init__(self) -> None:
        super().__init__()
        self.sim, self.client = _fresh_world(self.seed, self.start)
        self.benchmarks: dict[str, Any] = {}
        self.leaderboards: dict[tuple[str, str], Any] = {}
        self.models: list[str] = list(self.benchmark.get("models") or [])
        self.timeline: list[dict[str, Any]] = []

    @initialize()
    def create_benchmark(self) -> None:
        create_benchmark(self.context(), "arena", dict(self.benchmark))

    def context(self, **step: Any) -> Context:
        return Context(self.sim, self.client, {}, {}, step, world=LocalWorld.of(self.sim),
                       benchmarks=self.benchmarks, leaderboards=self.leaderboards)

    def standings(self, leaderboard: str | None = None) -> list[tuple[str, float | None]]:
        """(model, score) first to last, as the SDK reads them now (``None``: the overall standings)."""
        from ..scenario.checks import standings

        return standings(self.context(), "arena", leaderboard)

    def do(self, step: dict[str, Any]) -> None:
        self.timeline.append(step)
        act(self.context(), step)

    def scenario(self) -> Scenario:
        """What this example did, as a scenario file ``rapidata-sim run`` replays."""
        first = next(iter(self.benchmark.get("leaderboards") or {}), None)
        observed = [n for n, score in self.standings(first) if score is not None] if first else []
        expect = [{"call": c} for c in self.checks] or [{"benchmark": "arena", "leaderboard": first,
                                                         "standings": observed}]
        return Scenario(name=f"{type(self).__name__} counterexample",
                        description="Found by Hypothesis (rapidata_sim.testing.strategies.LeaderboardMachine).",
                        world={"seed": self.seed, "start": self.start}, benchmarks={"arena": dict(self.benchmark)},
                        timeline=list(self.timeline), expect=expect)

    def run_checks(self) -> None:
        for target in self.checks:
            hook(target)(self.context())

    def teardown(self) -> None:
        if self.benchmarks:
            scenario = type(self).last_scenario = self.scenario()
            note("Scenario that replays this example (save it as a .toml file, then "
                 "`rapidata-sim run FILE`):\n" + scenario.to_toml())
        _SHARED.leave(self.sim)

    @rule(d=st.sampled_from(["1m", "5m", "1h", "1d"]))
    def advance(self, d: str) -> None:
        self.do({"advance": d})

    @rule(data=st.data(), strength=st.sampled_from([0.5, 2.0]))
    def crowd_prefers(self, data: st.DataObject, strength: float) -> None:
        model = data.draw(st.sampled_from(self.models), label="model")
        self.do({"behave": "global", "compare": {"quality": {f"{model}*": 1.0}, "strength": strength,
                                                 "noise": 0.05, "unsure": 0.0}})

    @precondition(lambda self: len(self.models) < self.MAX_MODELS)
    @rule()
    def evaluate(self) -> None:
        model = f"model-{chr(ord('a') + len(self.models))}"
        self.models.append(model)
        self.do({"evaluate": "arena", "model": model, "answer": self.benchmark.get("answer", "{model}: {prompt}")})

    @precondition(lambda self: len(self.leaderboards) < self.MAX_LEADERBOARDS)
    @rule()
    def create_leaderboard(self) -> None:
        self.do({"create_leaderboard": "arena", "name": f"board-{len(self.leaderboards) + 1}",
                 "instruction": "Which answer is better?", "responses": 60})


__all__ = ["DURATIONS", "LeaderboardMachine", "SignalMachine", "actions", "behaviours", "compare_models", "interval_hours",
           "populations", "signal_configs", "timelines"]
