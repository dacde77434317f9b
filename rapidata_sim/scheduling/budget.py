"""What a move of the clock would cost, known before it is made: the bound on one request.

A clock move writes a run, a job and an event or two for every grid point it crosses (an
outage: a ``signal.missed`` event each, and their catch-up). Over HTTP one request may cross at
most ``SimConfig.max_firings_per_request`` grid points, counted here from the signals' rows
alone (``firings_until``): more is refused with a 400 naming the bound, before anything is
written, and the caller advances in steps. So no request holds its world (and the disk) for
minutes, and none can grow without bound. The Python API is not bounded: it is the caller's own.
"""

from __future__ import annotations

from datetime import datetime

from ..core.clock import parse_iso
from ..core.store import Store


def firings_until(store: Store, until: datetime, *, paused_fire: bool) -> int:
    """How many grid points of the world's signals lie at or before ``until``: each is a firing
    (or, in an outage, a missed one). Paused signals count when ``paused_fire`` (the ``skip``
    paused policy records a run at each of their points)."""
    where = "deleted = 0" if paused_fire else "deleted = 0 AND is_paused = 0"
    total = 0
    for row in store.select("signals", where):
        due = parse_iso(row["next_run_at"])
        if due <= until and row["interval_seconds"] > 0:
            total += int((until - due).total_seconds() // row["interval_seconds"]) + 1
    return total
