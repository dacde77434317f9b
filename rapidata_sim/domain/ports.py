"""What the domain needs from the parts that wire it, as protocols (implemented elsewhere)."""

from __future__ import annotations

from typing import Any, Protocol


class Scheduling(Protocol):
    """How services tell the scheduler about new or changed work (``Scheduler`` implements it)."""

    def watch_audience(self, audience: dict[str, Any]) -> None: ...

    def watch_job(self, job: dict[str, Any]) -> None: ...

    def watch_signal(self, signal: dict[str, Any]) -> None: ...

    def complete_now(self, job: dict[str, Any]) -> None: ...

    def start_pending_triggers(self, signal_id: str) -> None: ...

    def watch_due(self, table: str, key: str, due: str) -> None:
        """Row ``key`` of ``table`` (owned by a registered ``Timed`` service) settles at ``due``."""
        ...


class Timed(Protocol):
    """A service whose rows settle at an instant of their own (flow items): the scheduler queues
    them (``Scheduling.watch_due``) and settles each in time order with everything else."""

    table: str

    def pending(self) -> list[tuple[str, str]]:
        """(key, due instant) of every row still to settle (the queue rebuilt from the store)."""
        ...

    def has_pending(self) -> bool: ...

    def due_row(self, key: str, due: str) -> dict[str, Any] | None:
        """The row if it still settles at ``due``; None makes the queue entry stale."""
        ...

    def settle(self, row: dict[str, Any], due: str) -> None: ...


class JobFaults(Protocol):
    """What the crowd needs of the jobs service: a job, and a fault scheduled on it."""

    def get(self, job_id: str, who: Any = None) -> dict[str, Any]: ...

    def schedule_fault(self, job: dict[str, Any], fault: dict[str, Any]) -> None: ...


class VoteCounts(Protocol):
    """What the crowd needs of the results service: how many votes a job's answers take."""

    def vote_count(self, job: dict[str, Any]) -> int: ...
