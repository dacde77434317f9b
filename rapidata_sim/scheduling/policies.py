"""The scheduler's knobs (``SchedulerConfig``): behaviour the real service does not document.

Overlap (``skip``/``allow``/``buffer_one``), paused (``none``/``skip``), catch-up after an
outage (``none``/``latest``/``all``), trigger latency, and ``fast_forward``. The vocabulary
(grid, overlap, catch-up; borrowed from Temporal, CronJob, APScheduler) and every choice are
explained in ``docs/behaviour.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass
class SchedulerConfig:
    """Knobs for behaviour the real service does not document (see ``docs/behaviour.md``)."""

    #: Seconds of virtual time between ``trigger()`` and its run starting, unless
    #: the runs are listed first (which starts them at once, as the SDK needs).
    trigger_latency_seconds: float = 5.0
    overlap: Literal["skip", "allow", "buffer_one"] = "skip"
    #: Whether manual triggers obey the overlap policy ("obey") or always fire ("ignore").
    trigger_overlap: Literal["obey", "ignore"] = "obey"
    paused: Literal["none", "skip"] = "none"
    catch_up: Literal["none", "latest", "all"] = "latest"
    #: Most events one sync processes (a guard against runaway loops, not a policy).
    max_events_per_sync: int = 50_000_000
    #: Take steady stretches of firings at once and write their rows when read (``ledger``).
    #: Changes nothing anyone can observe, only how long a long jump takes; off, every
    #: firing is written as it happens (the tests compare the two).
    fast_forward: bool = True
