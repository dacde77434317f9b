"""Running a scenario: build the world, play the timeline through the real SDK, check.

The format is ``format``; hooks get a ``context.Context``; ``narration`` tells the story and
``checks`` judges it; ``backends`` says where it runs (in process, or a server's scratch world).
"""

from __future__ import annotations

from typing import Any, Callable

from ..core.clock import parse_iso
from ..crowd import Behaviour, Population
from .backends import LocalWorld, RemoteWorld, World
from .checks import call_failure, judge
from .context import Context, Outcome, hook, signal_named
from .format import ACTIONS, LEADERBOARD_KEYS, Scenario, ScenarioError, duration
from .narration import narrate

__all__ = ["run", "Scenario", "ScenarioError", "Context", "Outcome"]


def run(scenario: Scenario, *, echo: Callable[[str], None] | None = None,
        server: dict[str, str] | None = None, keep_world: bool = False) -> Outcome:
    """Build the world, play the timeline through the SDK, check the expectations.

    In a fresh in-process world, or with ``server`` (connection settings, as
    ``rapidata_sim.serving.remote.connection`` reads them) on that running server, in a scratch
    world of its own with the scenario's seed and start; the world of the settings'
    credentials is left as it was. The scratch world is deleted afterwards unless
    ``keep_world`` (then ``Outcome.kept_world`` says how to reach it)."""
    spec = scenario.world
    start = parse_iso(spec["start"]) if "start" in spec else None
    seed = int(spec.get("seed", 0))
    world: World = (RemoteWorld(server, seed, start, keep=keep_world) if server is not None
                    else LocalWorld(seed, start))
    outcome = Outcome(scenario)
    if isinstance(world, RemoteWorld):
        outcome.kept_world = world.kept()
    try:
        if spec.get("policy"):
            world.configure(**spec["policy"])
        for audience_id, settings in scenario.audiences.items():
            _configure_audience(world, audience_id, settings)
        client = world.client()
        ctx = Context(world.sim, client, {}, {}, home=scenario.path.parent.resolve() if scenario.path else None,
                      world=world)
        for name, spec in scenario.definitions.items():
            ctx.definitions[name] = create_definition(client, name, spec)
        for name, spec in scenario.signals.items():
            ctx.signals[name] = client.signals.create_signal(
                name=name, audience=spec["audience"], job_definition=ctx.definitions[spec["definition"]],
                interval_hours=float(spec["interval_hours"]), description=spec.get("description"),
                revision_number=spec.get("revision"), is_public=bool(spec.get("is_public", False)))
        for name, spec in scenario.benchmarks.items():
            create_benchmark(ctx, name, spec)
        seen = world.last_event()
        for i, step in enumerate(scenario.timeline):
            try:
                act(ctx, step)
            except Exception as exc:  # a timeline ``call`` that fails is a finding, as in expectations
                if "call" not in step or isinstance(exc, ScenarioError):
                    raise
                outcome.failures.append(call_failure(f"timeline[{i}] call {step['call']}", exc, ctx))
            seen = narrate(ctx, outcome, seen, step, echo)
        for expectation in scenario.expect:
            judge(ctx, expectation, outcome)
    finally:
        world.close()
    return outcome


def _configure_audience(world: Any, audience_id: str, settings: dict[str, Any]) -> None:
    unknown = set(settings) - {"population", "behaviour", "labeling_seconds"}
    if unknown:
        raise ScenarioError(f"audience {audience_id!r}: unknown settings {sorted(unknown)}")
    try:
        if "population" in settings:
            Population.from_dict(settings["population"])
            world.set_population(audience_id, settings["population"])
        if "labeling_seconds" in settings:
            world.set_labeling_seconds(audience_id, settings["labeling_seconds"])
        if "behaviour" in settings:
            Behaviour.from_dict(settings["behaviour"])
            world.behave(audience_id, settings["behaviour"])
    except (TypeError, ValueError) as exc:
        raise ScenarioError(f"audience {audience_id!r}: {exc}") from None


def _datapoints(name: str, spec: dict[str, Any]) -> list[Any]:
    if "datapoints" in spec:
        return spec["datapoints"]
    gen = spec.get("generate")
    if not gen:
        raise ScenarioError(f"definition {name!r} needs datapoints or generate")
    count = int(gen["count"])
    if spec.get("type", "compare") == "compare":
        return [[gen.get("a", "a {i}").format(i=i), gen.get("b", "b {i}").format(i=i)] for i in range(count)]
    return [gen.get("text", "item {i}").format(i=i) for i in range(count)]


def create_definition(client: Any, name: str, spec: dict[str, Any]) -> Any:
    kind = spec.get("type", "compare")
    common = dict(name=spec.get("name", name), instruction=spec.get("instruction", "Which is better?"),
                  datapoints=_datapoints(name, spec), data_type="text",
                  responses_per_datapoint=int(spec.get("responses", 10)))
    stopping = {k: spec[k] for k in ("confidence_threshold", "quorum_threshold") if k in spec}
    if kind == "compare":
        return client.job.create_compare_job_definition(**common, **stopping)
    if kind == "classification":
        return client.job.create_classification_job_definition(
            answer_options=spec.get("answer_options", ["Yes", "No"]), **common, **stopping)
    if kind == "free_text":
        return client.job.create_free_text_job_definition(**common)
    raise ScenarioError(f"definition {name!r}: unknown type {kind!r} (compare, classification, free_text)")


def _prompts(name: str, spec: dict[str, Any]) -> list[str]:
    if "prompts" in spec:
        return [str(p) for p in spec["prompts"]]
    gen = spec["generate"]
    return [gen.get("text", "prompt {i}").format(i=i) for i in range(int(gen["count"]))]


def create_benchmark(ctx: Context, name: str, spec: dict[str, Any]) -> Any:
    """The benchmark through the SDK, then its leaderboards, then its models (each submitted: the
    leaderboards' runs start as the real service starts them)."""
    benchmark = ctx.client.mri.create_new_benchmark(spec.get("name", name), prompts=_prompts(name, spec))
    ctx.benchmarks[name] = benchmark
    for board, settings in (spec.get("leaderboards") or {}).items():
        create_leaderboard(ctx, name, board, settings)
    for model in spec.get("models") or []:
        evaluate(ctx, name, model, spec.get("answer"))
    return benchmark


def create_leaderboard(ctx: Context, benchmark: str, name: str, settings: dict[str, Any]) -> Any:
    kwargs: dict[str, Any] = {}
    if "responses" in settings:
        kwargs["level_of_detail"] = int(settings["responses"])  # the response budget of each run
    if "min_responses" in settings:
        kwargs["min_responses_per_matchup"] = int(settings["min_responses"])
    if "audience" in settings:
        kwargs["audience_id"] = settings["audience"]
    if "vote_aggregation" in settings:
        from rapidata.rapidata_client.benchmark.leaderboard.vote_aggregation import VoteAggregation

        choices = {"MajorityVote": VoteAggregation.MAJORITY_VOTE, "AllVotes": VoteAggregation.ALL_VOTES}
        if settings["vote_aggregation"] not in choices:
            raise ScenarioError(f"leaderboard {name!r}: vote_aggregation is one of {sorted(choices)}")
        kwargs["vote_aggregation"] = choices[settings["vote_aggregation"]]
    board = ctx.benchmarks[benchmark].create_leaderboard(
        name, settings.get("instruction", "Which is better?"), **kwargs)
    ctx.leaderboards[(benchmark, name)] = board
    return board


def evaluate(ctx: Context, benchmark: str, model: str, answer: str | None = None) -> None:
    """``evaluate_model`` with one text answer per prompt (``answer``, default ``"{model}: {prompt}"``;
    the crowd's ``Prefer`` matches the answer's text, then the model's name)."""
    bench = ctx.benchmarks[benchmark]
    prompts = [p for p in bench.prompts if p is not None]
    media = [(answer or "{model}: {prompt}").format(model=model, prompt=p, i=i) for i, p in enumerate(prompts)]
    bench.evaluate_model(model, media=media, prompts=prompts, data_type="text")


def act(ctx: Context, step: dict[str, Any]) -> None:
    world = ctx.world
    action = next(a for a in ACTIONS if a in step)
    target = step[action]
    if action == "advance":
        world.advance(duration(target))
    elif action == "outage":
        world.outage(duration(target))
    elif action == "trigger":
        signal = signal_named(ctx, target)
        signal.trigger()
        signal.wait_for_next_job(timeout=60)
    elif action in ("pause", "resume", "delete"):
        getattr(signal_named(ctx, target), action)()
    elif action == "update":
        changes = {k: step[k] for k in ("name", "description", "interval_hours") if k in step}
        signal_named(ctx, target).update(**changes)
    elif action == "revise":
        definition = ctx.definitions[target]
        if "responses" in step:
            definition.responses_per_datapoint = int(step["responses"])
        if "instruction" in step:
            definition.instruction = step["instruction"]
        definition.save()
    elif action == "behave":
        models = {k: step[k] for k in ("compare", "classify", "free_text") if k in step}
        Behaviour.from_dict(models)  # a bad model fails here; the named ones replace those in effect
        world.behave(target, models)
    elif action == "population":
        changes = {k: v for k, v in step.items() if k != "population"}
        Population.from_dict(changes)
        world.set_population(target, changes)
    elif action == "fault":
        world.inject(target, step["state"], message=step.get("message"), after=duration(step.get("after", 0)),
                     at_progress=step.get("at_progress"), jobs=step.get("jobs"))
    elif action == "clear_faults":
        world.clear_faults(target)
    elif action == "policy":
        world.configure(**target)
    elif action == "call":
        hook(target, ctx.home)(ctx.for_step(step))
    elif action == "evaluate":
        evaluate(ctx, target, str(step["model"]), step.get("answer"))
    elif action == "create_leaderboard":
        settings = {k: v for k, v in step.items() if k in LEADERBOARD_KEYS}
        create_leaderboard(ctx, target, str(step["name"]), settings)
