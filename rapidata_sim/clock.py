"""The one source of time for a simulated world.

Nothing else in rapidata-sim reads the system clock: the domain asks its
``Clock`` for ``now()``. A clock never goes backwards. By default it follows
the wall clock (so an SDK process comparing our timestamps with its own
``datetime.now()`` never sees them in the past) and can be pushed forward on
top of that; a frozen clock moves only when told to.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Callable

UTC = timezone.utc


def iso(instant: datetime) -> str:
    """Render an instant the way the service does: UTC, microseconds, ``Z``."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str) -> datetime:
    """Parse a timestamp written by :func:`iso` (or any ISO 8601 with offset)."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(f"timestamp without a UTC offset: {text!r}")
    return value.astimezone(UTC)


class Clock:
    """Virtual time for one world.

    ``follow_wall=True`` (the default) means virtual time = start + wall time
    elapsed + every ``advance``. ``follow_wall=False`` freezes it: it moves
    only through ``advance``/``advance_to``. ``wall`` is injectable so tests
    can control the real-time side too (token expiry uses it, see ``wall_now``).
    """

    def __init__(
        self,
        start: datetime | None = None,
        *,
        follow_wall: bool = True,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._wall = wall
        self._lock = threading.Lock()
        self._wall_base = wall()
        base = start if start is not None else datetime.fromtimestamp(self._wall_base, UTC)
        if base.tzinfo is None:
            raise ValueError("Clock start must carry a timezone")
        self._base = base.astimezone(UTC)
        self._offset = timedelta(0)
        self._last = self._base
        self.follow_wall = follow_wall

    def _raw(self) -> datetime:
        elapsed = timedelta(seconds=self._wall() - self._wall_base) if self.follow_wall else timedelta(0)
        return self._base + elapsed + self._offset

    def now(self) -> datetime:
        """The current virtual instant; never earlier than any instant returned before."""
        with self._lock:
            self._last = max(self._last, self._raw())
            return self._last

    def advance(self, delta: timedelta) -> datetime:
        """Move virtual time forward by ``delta`` and return the new instant."""
        if delta < timedelta(0):
            raise ValueError("the clock never goes backwards")
        with self._lock:
            self._offset += delta
            self._last = max(self._last, self._raw())
            return self._last

    def advance_to(self, instant: datetime) -> datetime:
        """Move virtual time forward to ``instant`` (which must not be in the past)."""
        current = self.now()
        if instant < current:
            raise ValueError(f"the clock never goes backwards: {iso(instant)} < {iso(current)}")
        return self.advance(instant - current)

    def wall_now(self) -> float:
        """Real (client-side) time in epoch seconds.

        Only for things that live on the SDK's own timeline, such as access
        token lifetimes: the SDK refreshes tokens by its wall clock, so a
        token must not expire because virtual days have passed.
        """
        return self._wall()
