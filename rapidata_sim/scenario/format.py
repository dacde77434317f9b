"""The scenario file format: a world, a timeline and expectations, in TOML.

The format, action by action and check by check, is on ``docs/scenarios.md``; this module
reads and writes it (``Scenario``), and nothing else: running is ``runner``.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
ACTIONS = ("advance", "outage", "trigger", "pause", "resume", "delete", "update", "revise", "behave",
           "population", "fault", "clear_faults", "policy", "call", "evaluate", "create_leaderboard")
CHECKS = ("jobs", "fired", "manual", "skipped", "missed", "statuses", "job_states", "winner_share",
          "category_share", "call", "standings")


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
    #: ``[benchmarks.NAME]``: a benchmark (``client.mri``) with its leaderboards and models.
    benchmarks: dict[str, dict[str, Any]] = field(default_factory=dict)
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
        known = {"name", "description", "world", "audiences", "definitions", "signals", "benchmarks", "timeline",
                 "expect"}
        unknown = set(data) - known
        if unknown:
            raise ScenarioError(f"unknown top-level keys {sorted(unknown)} (known: {sorted(known)})")
        scenario = cls(name=data.get("name", default_name), description=data.get("description", ""),
                       world=data.get("world", {}), audiences=data.get("audiences", {}),
                       definitions=data.get("definitions", {}), signals=data.get("signals", {}),
                       benchmarks=data.get("benchmarks", {}), timeline=data.get("timeline", []), expect=data.get("expect", []), path=path)
        for i, step in enumerate(scenario.timeline):
            if len([a for a in ACTIONS if a in step]) != 1:
                raise ScenarioError(f"timeline[{i}] needs exactly one action of {ACTIONS}: {step}")
        for i, check in enumerate(scenario.expect):
            if not any(c in check for c in CHECKS):
                raise ScenarioError(f"expect[{i}] checks nothing (one of {CHECKS}): {check}")
        for name, sig in scenario.signals.items():
            if sig.get("definition") not in scenario.definitions:
                raise ScenarioError(f"signal {name!r}: unknown definition {sig.get('definition')!r}")
        for name, bench in scenario.benchmarks.items():
            _check_benchmark(name, bench)
        for i, step in enumerate(scenario.timeline):
            for action, needs in (("evaluate", "model"), ("create_leaderboard", "name")):
                if action in step and (step[action] not in scenario.benchmarks or needs not in step):
                    raise ScenarioError(f"timeline[{i}] {action}: needs a declared benchmark "
                                        f"({sorted(scenario.benchmarks)}) and {needs!r}: {step}")
        for i, check in enumerate(scenario.expect):
            if "standings" in check:
                bench = scenario.benchmarks.get(check.get("benchmark"))
                if bench is None or not isinstance(check["standings"], list):
                    raise ScenarioError(f"expect[{i}] standings: needs a declared benchmark "
                                        f"({sorted(scenario.benchmarks)}) and a list of models: {check}")
        return scenario

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.description:
            out["description"] = self.description
        for key in ("world", "audiences", "definitions", "signals", "benchmarks"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        out["timeline"] = self.timeline
        out["expect"] = self.expect
        return out

    def to_toml(self) -> str:
        return dumps_toml(self.to_dict())


BENCHMARK_KEYS = {"name", "prompts", "generate", "leaderboards", "models", "answer"}
LEADERBOARD_KEYS = {"instruction", "responses", "min_responses", "audience", "vote_aggregation"}


def _check_benchmark(name: str, bench: dict[str, Any]) -> None:
    unknown = set(bench) - BENCHMARK_KEYS
    if unknown:
        raise ScenarioError(f"benchmark {name!r}: unknown keys {sorted(unknown)} (known: {sorted(BENCHMARK_KEYS)})")
    if "prompts" not in bench and "count" not in (bench.get("generate") or {}):
        raise ScenarioError(f"benchmark {name!r} needs prompts or generate = {{ count, text }}")
    for board, settings in (bench.get("leaderboards") or {}).items():
        unknown = set(settings) - LEADERBOARD_KEYS
        if unknown:
            raise ScenarioError(f"benchmark {name!r}, leaderboard {board!r}: unknown keys {sorted(unknown)} "
                                f"(known: {sorted(LEADERBOARD_KEYS)})")


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
