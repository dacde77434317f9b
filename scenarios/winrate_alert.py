"""A user's alert on a compare signal: "page me when model B wins too often".

This is signal logic as a user writes it, against the real SDK: read the newest
job's results, count the votes for the assets whose names start with a prefix,
compare the share with a threshold. The scenario hooks at the bottom
(``alert_fires`` / ``alert_quiet``) assert the alert's decision, so a scenario file
can say when the alert must and must not go off.

Note what ``newest_win_rate`` relies on: ``signal.get_jobs(page_size=1)`` looks at
the newest *firing*; if that firing was skipped it has no job and the list is
empty (see ``scenarios/slow_labelers_skip.toml`` for a crowd that makes that
happen). The preference-shift scenario has no skipped firings.
"""

from __future__ import annotations

from typing import Any


def newest_win_rate(signal: Any, prefix: str) -> float | None:
    """Share of the votes in the signal's newest job that went to assets named ``prefix…``.

    ``None`` when the job has no votes. ``get_results()`` waits for the job to finish.
    """
    results = signal.get_jobs(page_size=1)[0].get_results()
    total = wins = 0
    for item in results["results"]:
        for name, votes in item["aggregatedResults"].items():
            total += votes
            if name.startswith(prefix):
                wins += votes
    return wins / total if total else None


def should_alert(signal: Any, prefix: str, threshold: float) -> bool:
    """Alert when ``prefix…`` assets won more than ``threshold`` of the newest job's votes."""
    rate = newest_win_rate(signal, prefix)
    return rate is not None and rate > threshold


# -- scenario hooks (called with a rapidata_sim.scenario.Context) ------------------------


def _decide(ctx: Any) -> tuple[bool, str]:
    step = ctx.step
    name = step.get("signal", "daily")
    prefix = step.get("prefix", "model-b")
    threshold = float(step.get("threshold", 0.5))
    signal = ctx.signals[name]
    rate = newest_win_rate(signal, prefix)
    fires = should_alert(signal, prefix, threshold)
    shown = "no votes" if rate is None else f"{rate:.3f}"
    return fires, f"{name}: share of '{prefix}*' in the newest job is {shown}, threshold {threshold}"


def alert_fires(ctx: Any) -> None:
    """The alert must go off on the signal's newest job (``signal``, ``prefix``, ``threshold``)."""
    fires, why = _decide(ctx)
    assert fires, f"the alert stayed quiet ({why})"


def alert_quiet(ctx: Any) -> None:
    """The alert must stay quiet on the signal's newest job."""
    fires, why = _decide(ctx)
    assert not fires, f"the alert fired ({why})"
