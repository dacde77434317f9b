"""Scenario files: a world, a timeline and expectations, in TOML, run through the real SDK.

    name = "Slow labelers skip firings"
    [world]                      seed, start (a frozen clock), policy = { overlap = "skip", ... }
    [audiences.global]           population = {...}, behaviour = {...}, labeling_seconds = n
    [definitions.pairs]          type = compare | classification | free_text, instruction,
                                 datapoints (text; pairs for compare) or generate = { count, a, b },
                                 responses, answer_options, confidence_threshold, quorum_threshold
    [signals.daily]              audience, definition, interval_hours, revision, is_public
    [[timeline]]                 one action per entry (below), in order
    [[expect]]                   one check per entry (below)

Timeline actions: ``advance = "3d"`` (s/m/h/d/w), ``outage = "3h"``, ``trigger = "daily"``
(then the SDK's ``wait_for_next_job``), ``pause``/``resume``/``delete = "daily"``,
``update = "daily"`` with ``interval_hours``/``name``/``description``, ``revise = "pairs"``
with ``responses`` (a new revision through the SDK), ``behave = "global"`` with
``compare``/``classify``/``free_text`` models, ``population = "global"`` with settings,
``fault = "global"`` with ``state``, ``message``, ``after``, ``at_progress``, ``jobs``,
``clear_faults = "global"``, ``policy = {...}``, ``call = "module:function"`` (user code,
called with a ``Context``; if it raises, that is reported as a failure, as in expectations).

Expectations (each on ``signal = "daily"``): ``jobs`` (what ``get_jobs()`` lists), ``fired``,
``manual``, ``skipped`` (by reason), ``missed``, ``statuses`` (run statuses in order),
``job_states``, ``winner_share = { prefix, job, min, max }`` (a compare job's vote share;
``job`` indexes the signal's jobs oldest first, default -1), ``category_share = { category,
job, min, max }``, and ``call = "module:function"``: user code that must not raise (its
``AssertionError`` message is the failure). Hooks read the world through ``ctx.world``
(``scenario.backends.WorldView``: events, a signal's counters and runs, a job, its results),
so they run in-process and on a server alike. The same files run under pytest (any
``*.toml`` in a ``scenarios/`` directory) and with ``rapidata-sim run FILE...``, in
process or (``--server``) in a scratch world of a running server.
"""

from __future__ import annotations

import importlib
import re
import sys
import tomllib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ..core.clock import parse_iso
from ..crowd import Behaviour, Population

if TYPE_CHECKING:
    from .backends import WorldView

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
ACTIONS = ("advance", "outage", "trigger", "pause", "resume", "delete", "update", "revise", "behave",
           "population", "fault", "clear_faults", "policy", "call")
CHECKS = ("jobs", "fired", "manual", "skipped", "missed", "statuses", "job_states", "winner_share",
          "category_share", "call")


class ScenarioError(ValueError):
    """The file itself is wrong (not an expectation that failed)."""


def duration(text: Any) -> timedelta:
    if isinstance(text, (int, float)):
        return timedelta(seconds=text)
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", str(text))
    if not m:
        raise ScenarioError(f"not a duration: {text!r} (use 90s, 30m, 12h, 3d, 2w)")
    return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])


@dataclass
class Scenario:
    name: str
    description: str = ""
    world: dict[str, Any] = field(default_factory=dict)
    audiences: dict[str, dict[str, Any]] = field(default_factory=dict)
    definitions: dict[str, dict[str, Any]] = field(default_factory=dict)
    signals: dict[str, dict[str, Any]] = field(default_factory=dict)
    timeline: list[dict[str, Any]] = field(default_factory=list)
    expect: list[dict[str, Any]] = field(default_factory=list)
    path: Path | None = None

    @classmethod
    def load(cls, path: str | Path) -> "Scenario":
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ScenarioError(f"{path}: not valid TOML: {exc}") from None
        return cls.from_dict(data, default_name=path.stem, path=path)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, default_name: str = "scenario", path: Path | None = None) -> "Scenario":
        known = {"name", "description", "world", "audiences", "definitions", "signals", "timeline", "expect"}
        unknown = set(data) - known
        if unknown:
            raise ScenarioError(f"unknown top-level keys {sorted(unknown)} (known: {sorted(known)})")
        scenario = cls(name=data.get("name", default_name), description=data.get("description", ""),
                       world=data.get("world", {}), audiences=data.get("audiences", {}),
                       definitions=data.get("definitions", {}), signals=data.get("signals", {}),
                       timeline=data.get("timeline", []), expect=data.get("expect", []), path=path)
        for i, step in enumerate(scenario.timeline):
            if len([a for a in ACTIONS if a in step]) != 1:
                raise ScenarioError(f"timeline[{i}] needs exactly one action of {ACTIONS}: {step}")
        for i, check in enumerate(scenario.expect):
            if not any(c in check for c in CHECKS):
                raise ScenarioError(f"expect[{i}] checks nothing (one of {CHECKS}): {check}")
        for name, sig in scenario.signals.items():
            if sig.get("definition") not in scenario.definitions:
                raise ScenarioError(f"signal {name!r}: unknown definition {sig.get('definition')!r}")
        return scenario

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.description:
            out["description"] = self.description
        for key in ("world", "audiences", "definitions", "signals"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        out["timeline"] = self.timeline
        out["expect"] = self.expect
        return out

    def to_toml(self) -> str:
        return dumps_toml(self.to_dict())


# -- running ------------------------------------------------------------------------


@dataclass
class Context:
    """What a scenario's ``call`` hooks get: the world, the SDK client, the objects by name.

    Hooks read the world through ``world`` (a ``scenario.backends.WorldView``: events, a
    signal's counters and runs, a job, a job's results), which works in-process and on a
    server alike. ``sim`` is the in-process ``Simulator``, None on a server."""

    sim: Any
    client: Any
    signals: dict[str, Any]
    definitions: dict[str, Any]
    step: dict[str, Any] = field(default_factory=dict)
    home: Path | None = None
    #: Where the scenario runs (``scenario.backends.LocalWorld`` or ``RemoteWorld``).
    world: "WorldView" = None  # type: ignore[assignment]

    def for_step(self, step: dict[str, Any]) -> "Context":
        return Context(self.sim, self.client, self.signals, self.definitions, step, self.home, self.world)


@dataclass
class Outcome:
    scenario: Scenario
    lines: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    passed: list[str] = field(default_factory=list)
    #: On a server with ``keep_world``: the scratch world's id and credentials.
    kept_world: dict[str, str] | None = None

    @property
    def ok(self) -> bool:
        return not self.failures

    def report(self) -> str:
        head = f"scenario: {self.scenario.name}" + (f" ({self.scenario.path})" if self.scenario.path else "")
        body = [head, *self.lines]
        body += [f"  ok    {p}" for p in self.passed]
        body += [f"  FAIL  {f}" for f in self.failures]
        body.append(f"{'PASSED' if self.ok else 'FAILED'}: {len(self.passed)} expectation(s) met, "
                    f"{len(self.failures)} failed")
        return "\n".join(body) + "\n"


def run(scenario: Scenario, *, echo: Callable[[str], None] | None = None,
        server: dict[str, str] | None = None, keep_world: bool = False) -> Outcome:
    """Build the world, play the timeline through the SDK, check the expectations.

    In a fresh in-process world, or with ``server`` (connection settings, as
    ``rapidata_sim.serving.remote.connection`` reads them) on that running server, in a scratch
    world of its own with the scenario's seed and start; the world of the settings'
    credentials is left as it was. The scratch world is deleted afterwards unless
    ``keep_world`` (then ``Outcome.kept_world`` says how to reach it)."""
    from .backends import LocalWorld, RemoteWorld, World

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
            ctx.definitions[name] = _create_definition(client, name, spec)
        for name, spec in scenario.signals.items():
            ctx.signals[name] = client.signals.create_signal(
                name=name, audience=spec["audience"], job_definition=ctx.definitions[spec["definition"]],
                interval_hours=float(spec["interval_hours"]), description=spec.get("description"),
                revision_number=spec.get("revision"), is_public=bool(spec.get("is_public", False)))
        seen = world.last_event()
        for i, step in enumerate(scenario.timeline):
            try:
                _act(ctx, step)
            except Exception as exc:  # a timeline ``call`` that fails is a finding, as in expectations
                if "call" not in step or isinstance(exc, ScenarioError):
                    raise
                outcome.failures.append(_call_failure(f"timeline[{i}] call {step['call']}", exc, ctx))
            seen = _narrate(ctx, outcome, seen, step, echo)
        for check in scenario.expect:
            _check(ctx, check, outcome)
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


def _create_definition(client: Any, name: str, spec: dict[str, Any]) -> Any:
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


def _hook(target: str, near: Path | None = None) -> Callable[[Context], Any]:
    """``module:function``, importable from the working directory or the scenario's own."""
    module, _, attr = target.partition(":")
    if not attr:
        raise ScenarioError(f"call = {target!r}: use 'module:function'")
    for where in ([str(near)] if near else []) + [""]:
        if where not in sys.path:
            sys.path.insert(0, where)
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ScenarioError(f"call = {target!r}: {exc}") from None


def _signal(ctx: Context, name: str) -> Any:
    try:
        return ctx.signals[name]
    except KeyError:
        raise ScenarioError(f"unknown signal {name!r} (declared: {sorted(ctx.signals)})") from None


def _act(ctx: Context, step: dict[str, Any]) -> None:
    world = ctx.world
    action = next(a for a in ACTIONS if a in step)
    target = step[action]
    if action == "advance":
        world.advance(duration(target))
    elif action == "outage":
        world.outage(duration(target))
    elif action == "trigger":
        signal = _signal(ctx, target)
        signal.trigger()
        signal.wait_for_next_job(timeout=60)
    elif action in ("pause", "resume", "delete"):
        getattr(_signal(ctx, target), action)()
    elif action == "update":
        changes = {k: step[k] for k in ("name", "description", "interval_hours") if k in step}
        _signal(ctx, target).update(**changes)
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
        _hook(target, ctx.home)(ctx.for_step(step))


def _narrate(ctx: Context, outcome: Outcome, seen: int, step: dict[str, Any],
             echo: Callable[[str], None] | None) -> int:
    """The timeline as a person reads it: the step, then what happened because of it."""
    names = {getattr(s, "id", None): n for n, s in ctx.signals.items()}
    lines = [f"> {_describe(step)}"]
    for event in ctx.world.events(seen):
        seen = event["seq"]
        kind, data, who = event["kind"], event["data"], names.get(event["subject"], event["subject"])
        at = event["at"][:16].replace("T", " ")
        if kind == "signal.fired":
            lines.append(f"  {at}  {who}: fired ({data.get('source')}) -> job {data.get('job')}")
        elif kind == "signal.skipped":
            lines.append(f"  {at}  {who}: skipped ({data.get('reason')})")
        elif kind == "signal.missed":
            lines.append(f"  {at}  {who}: missed in an outage")
        elif kind == "job.completed":
            lines.append(f"  {at}  job {event['subject']} completed{_results_note(ctx, event['subject'])}")
        elif kind in ("job.failed", "job.halted"):
            lines.append(f"  {at}  job {event['subject']} {data.get('state', 'Failed')} {data.get('message') or ''}")
        elif kind in ("outage.started", "outage.ended", "signal.paused", "signal.resumed", "signal.updated",
                      "crowd.behaviour", "crowd.fault"):
            lines.append(f"  {at}  {who}: {kind}")
    outcome.lines.extend(lines)
    if echo:
        for line in lines:
            echo(line)
    return seen


def _results_note(ctx: Context, job_id: str) -> str:
    doc = ctx.world.results(job_id)
    if doc["info"]["type"] == "Compare" and "summary" in doc:
        s = doc["summary"]
        return f": A wins {s['A_wins_total']}, B wins {s['B_wins_total']}"
    if doc["info"]["type"] == "Classification" and doc.get("summary"):
        return ": " + ", ".join(f"{k} {v}" for k, v in doc["summary"].items())
    return ""


def _describe(step: dict[str, Any]) -> str:
    return ", ".join(f"{k} = {v}" for k, v in step.items())


# -- expectations -------------------------------------------------------------------


def _call_failure(what: str, exc: Exception, ctx: "Context | None" = None) -> str:
    if ctx is not None and ctx.sim is None and isinstance(exc, AttributeError) and "NoneType" in str(exc):
        return (f"{what}: this hook reads the simulator (ctx.sim), which a run on a server does not have "
                f"({exc}); read the world through ctx.world (events, counters, runs, job, results), "
                f"or run it in-process")
    if isinstance(exc, AssertionError):
        return f"{what}: expected no failure, observed: {exc or 'AssertionError'}"
    return f"{what}: expected no failure, observed {type(exc).__name__}: {exc}"


def _check(ctx: Context, check: dict[str, Any], outcome: Outcome) -> None:
    world = ctx.world
    label = check.get("signal")
    if "call" in check:
        what = f"call {check['call']}"
        hook = _hook(check["call"], ctx.home)
        try:
            hook(ctx.for_step(check))
        except Exception as exc:  # user code failed or crashed: that is the finding
            outcome.failures.append(_call_failure(what, exc, ctx))
        else:
            outcome.passed.append(what)
        return
    signal = _signal(ctx, label)
    counters = world.counters(signal.id)
    runs = world.runs(signal.id)
    jobs = [r["audience_job_id"] for r in runs if r["audience_job_id"]]
    observed: dict[str, Callable[[], Any]] = {
        "jobs": lambda: len(signal.get_jobs(page_size=1000)),
        "fired": lambda: counters["fired"]["Scheduled"],
        "manual": lambda: counters["fired"]["Manual"],
        "skipped": lambda: counters["skipped"],
        "missed": lambda: counters["missed"],
        "statuses": lambda: [r["status"] for r in runs],
        "job_states": lambda: [world.job(j)["state"] for j in jobs],
    }
    for key, get in observed.items():
        if key in check:
            value = get()
            expected = check[key]
            what = f"{label}: {key}"
            if value == expected:
                outcome.passed.append(f"{what} == {expected!r}")
            else:
                outcome.failures.append(f"{what}: expected {expected!r}, observed {value!r}")
    for key in ("winner_share", "category_share"):
        if key in check:
            spec = check[key]
            index = int(spec.get("job", -1))
            what = f"{label}: {key} of job[{index}]"
            if not jobs or not -len(jobs) <= index < len(jobs):
                outcome.failures.append(f"{what}: expected a job at index {index}, observed {len(jobs)} jobs")
                continue
            doc = world.results(jobs[index])
            counts: dict[str, int] = {}
            for item in doc["results"]:
                for k, v in item.get("aggregatedResults", {}).items():
                    counts[k] = counts.get(k, 0) + v
            total = sum(counts.values()) or 1
            if key == "winner_share":
                share = sum(v for k, v in counts.items() if k.startswith(spec["prefix"])) / total
                name = f"'{spec['prefix']}*'"
            else:
                share = counts.get(spec["category"], 0) / total
                name = f"'{spec['category']}'"
            lo, hi = float(spec.get("min", 0.0)), float(spec.get("max", 1.0))
            if lo <= share <= hi:
                outcome.passed.append(f"{what}: share of {name} {share:.3f} in [{lo}, {hi}]")
            else:
                outcome.failures.append(f"{what}: expected share of {name} in [{lo}, {hi}], observed {share:.3f}")


# -- writing TOML (tomllib reads only) ------------------------------------------------


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):  # None values are left out: TOML has no null, absent means default
        return "{ " + ", ".join(f"{_key(k)} = {_value(x)}" for k, x in v.items() if x is not None) + " }"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def _key(k: str) -> str:
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else _value(k)


def dumps_toml(data: dict[str, Any]) -> str:
    """Enough TOML for scenarios: scalars and inline values at the top, then tables and
    arrays of tables (``timeline``, ``expect``)."""
    lines: list[str] = []
    for k, v in data.items():
        if not isinstance(v, (dict, list)) or (isinstance(v, list) and not all(isinstance(x, dict) for x in v)):
            lines.append(f"{_key(k)} = {_value(v)}")
    for k, v in data.items():
        if isinstance(v, dict):
            flat = {kk: vv for kk, vv in v.items() if not isinstance(vv, dict) and vv is not None}
            nested = {kk: vv for kk, vv in v.items() if isinstance(vv, dict)}
            if flat or not nested:
                lines += ["", f"[{_key(k)}]"] + [f"{_key(kk)} = {_value(vv)}" for kk, vv in flat.items()]
            for kk, vv in nested.items():
                lines += ["", f"[{_key(k)}.{_key(kk)}]"] + [f"{_key(a)} = {_value(b)}" for a, b in vv.items()
                                                            if b is not None]
        elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            for item in v:
                lines += ["", f"[[{_key(k)}]]"] + [f"{_key(a)} = {_value(b)}" for a, b in item.items()
                                                   if b is not None]
    return "\n".join(lines).lstrip() + "\n"
