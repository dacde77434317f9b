"""The event log: the replayable story of what happened in a world, in order.

One home for writing it (``record``) and for the readers the ``Simulator`` facade hands
out (``events``, ``text``, ``jsonl``); services, the scheduler and the HTTP faults all
write through it.
"""

from __future__ import annotations

import json
from typing import Any

from .clock import Clock, iso
from .store import Store


class EventLog:
    """A world's ``events`` table, written and read."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    def record(self, kind: str, subject: str, *, at: str | None = None, **data: Any) -> None:
        """Append an event. ``at`` is the instant it happened, which for scheduled work is its
        due time, not the moment the simulator got round to it (default: the clock's now)."""
        self.store.insert("events", {"at": at or iso(self.clock.now()), "kind": kind, "subject": subject,
                                     "data": data})

    def events(self, since: int = 0, limit: int | None = None) -> list[dict[str, Any]]:
        """The events after sequence number ``since``, in order (at most ``limit`` of them)."""
        return self.store.select("events", "seq > ?", [since], order_by="seq", limit=limit)

    def text(self) -> str:
        """One line per event: the thing determinism tests compare."""
        return "".join(f"{e['at']} {e['kind']} {e['subject']} {json.dumps(e['data'], sort_keys=True)}\n"
                       for e in self.events())

    def jsonl(self, since: int = 0, limit: int | None = None) -> str:
        """JSON lines (``seq``, ``at``, ``kind``, ``subject``, ``data``), at most ``limit`` of them."""
        return "".join(json.dumps(e, sort_keys=True) + "\n" for e in self.events(since, limit))
