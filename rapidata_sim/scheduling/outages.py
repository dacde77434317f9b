"""Outages: the service is down for a while; firings in it are missed, then caught up.

Jobs keep progressing (labelers do not depend on the scheduler). When the outage ends,
``SchedulerConfig.catch_up`` decides what fires: nothing, the latest missed point once, or
every missed point, all at the end instant.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

from ..core.clock import HORIZON, CalendarError, iso

if TYPE_CHECKING:
    from ..core.world import World
    from .policies import SchedulerConfig
    from .rows import Rows


class Firing(Protocol):
    """What an outage needs of the scheduler."""

    world: "World"
    config: "SchedulerConfig"
    rows: "Rows"

    def sync(self, until: str | None = None, *, missed: dict[str, list[str]] | None = None) -> int: ...

    def fire(self, signal: dict[str, Any], source: str, at: str, *, next_run_at: str | None = None) -> dict: ...


def catch_up_count(policy: str, missed_points: int) -> int:
    """How many firings make up for ``missed_points`` grid points under ``policy``."""
    return {"none": 0, "latest": 1, "all": missed_points}[policy]


def outage(scheduler: Firing, duration: timedelta) -> dict[str, list[str]]:
    """Take the world through an outage of ``duration``; the missed grid points per signal."""
    world, rows = scheduler.world, scheduler.rows
    clock, log, store = world.clock, world.log, world.store
    scheduler.sync()
    start = clock.now()
    if not timedelta(0) <= duration <= HORIZON - start:
        raise CalendarError(f"an outage cannot be negative or end after {iso(HORIZON)}, "
                            "the end of the simulated calendar")
    end = start + duration
    log.record("outage.started", "world", at=iso(start), until=iso(end))
    missed: dict[str, list[str]] = {}
    policy = scheduler.config.catch_up
    with store.transaction():
        scheduler.sync(until=iso(end), missed=missed)
        at = iso(clock.advance_to(end, or_stay=True))
        log.record("outage.ended", "world", at=at, missed=sum(len(v) for v in missed.values()), policy=policy)
        rows.clear()
        for signal_id, points in missed.items():
            signal = rows.get("signals", signal_id)
            for _ in range(catch_up_count(policy, len(points))):
                scheduler.fire(signal, "Scheduled", at)
        rows.clear()
    scheduler.sync()
    return missed
