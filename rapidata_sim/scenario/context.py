"""What a scenario's hooks get (``Context``), what a run returns (``Outcome``), and how a
``call = "module:function"`` hook and a signal's name are resolved."""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from .format import Scenario, ScenarioError

if TYPE_CHECKING:
    from .backends import WorldView


@dataclass
class Context:
    """What a scenario's ``call`` hooks get: the world, the SDK client, the objects by name
    (signals, definitions, benchmarks and their leaderboards).

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
    #: The SDK's ``RapidataBenchmark`` of each ``[benchmarks.NAME]``.
    benchmarks: dict[str, Any] = field(default_factory=dict)
    #: The SDK's ``RapidataLeaderboard`` of each benchmark's leaderboard, by (benchmark, leaderboard) name.
    leaderboards: dict[tuple[str, str], Any] = field(default_factory=dict)

    def for_step(self, step: dict[str, Any]) -> "Context":
        return Context(self.sim, self.client, self.signals, self.definitions, step, self.home, self.world,
                       self.benchmarks, self.leaderboards)


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


def hook(target: str, near: Path | None = None) -> Callable[[Context], Any]:
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


def leaderboard_named(ctx: Context, benchmark: str, name: str) -> Any:
    try:
        return ctx.leaderboards[(benchmark, name)]
    except KeyError:
        known = sorted(n for b, n in ctx.leaderboards if b == benchmark)
        raise ScenarioError(f"unknown leaderboard {name!r} of benchmark {benchmark!r} (declared: {known})") from None


def signal_named(ctx: Context, name: str) -> Any:
    try:
        return ctx.signals[name]
    except KeyError:
        raise ScenarioError(f"unknown signal {name!r} (declared: {sorted(ctx.signals)})") from None
