"""What an observer reads of a world: a signal's runs and counters, a job, its results.

One reading for in-process scenarios (``who=None``: the whole world) and the ``/_sim`` read
routes (as the caller: the domain's visibility checks apply). Plain dicts with the store's
column names; ``wire``/``unwire`` camelCase the top-level keys, so a remote world hands hooks
the same dicts a local one does.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Protocol, TypedDict

from ..core.errors import NotFound

if TYPE_CHECKING:
    from ..core.store import Store
    from .base import Principal
    from .jobs import Jobs
    from .results import Results
    from .signals import Signals


class Observed(Protocol):
    """What these readers take of a world (the ``Simulator`` facade has it)."""

    store: "Store"
    signals: "Signals"
    jobs: "Jobs"
    results: "Results"

    def counters(self, signal_id: str, upcoming: int = 5) -> dict[str, Any]: ...


class Run(TypedDict):
    """One run of a signal: fired (``Scheduled``/``Manual``), skipped or failed."""

    id: str
    signal_id: str
    trigger_source: str
    status: str
    started_at: str
    completed_at: str | None
    audience_job_id: str | None
    skipped_reason: str | None
    failure_message: str | None


class Job(TypedDict):
    """A job as the store holds it (what the SDK shows, plus the revision it ran)."""

    id: str
    name: str
    state: str
    definition_id: str
    revision_number: int
    audience_id: str
    created_at: str
    completed_at: str | None
    failed_at: str | None
    failure_message: str | None


class Counters(TypedDict):
    """A signal's tally: fired by source, skipped by reason, missed in outages, next grid points."""

    signal_id: str
    fired: dict[str, int]
    skipped: dict[str, int]
    missed: int
    next_run_at: str | None
    is_paused: bool
    upcoming: list[str]


def runs(sim: Observed, who: "Principal | None", signal_id: str) -> list[Run]:
    """The signal's runs, oldest first (start time, then the order they were recorded)."""
    if who is not None:
        sim.signals.get(who, signal_id)
    rows = sim.store.select("signal_runs", "signal_id = ?", [signal_id], order_by="started_at, rowid")
    return [Run(**{k: r[k] for k in Run.__annotations__}) for r in rows]  # type: ignore[typeddict-item]


def _job_row(sim: Observed, who: "Principal | None", job_id: str) -> dict[str, Any]:
    if who is not None:
        return sim.jobs.get(job_id, who)
    row = sim.store.get("jobs", job_id)
    if row is None:
        raise NotFound(f"Job '{job_id}' was not found.")
    return row


def job(sim: Observed, who: "Principal | None", job_id: str) -> Job:
    row = _job_row(sim, who, job_id)
    return Job(**{k: row[k] for k in Job.__annotations__})  # type: ignore[typeddict-item]


def results(sim: Observed, who: "Principal | None", job_id: str) -> dict[str, Any]:
    """The job's results document as of now (preliminary while it runs), read without side effects."""
    return sim.results.current(_job_row(sim, who, job_id))


def counters(sim: Observed, who: "Principal | None", signal_id: str, upcoming: int = 5) -> Counters:
    if who is not None:
        sim.signals.get(who, signal_id)
    c = sim.counters(signal_id, upcoming)
    return Counters(**{k: c[k] for k in Counters.__annotations__})  # type: ignore[typeddict-item]


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part.title() for part in rest)


def _snake(key: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()


def wire(shape: dict[str, Any]) -> dict[str, Any]:
    """A shape as JSON sends it: top-level keys camelCase (nested keys are data: kept)."""
    return {_camel(k): v for k, v in shape.items()}


def unwire(data: dict[str, Any]) -> dict[str, Any]:
    """The inverse of ``wire``."""
    return {_snake(k): v for k, v in data.items()}
