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


class JobFaults(Protocol):
    """What the crowd needs of the jobs service: a job, and a fault scheduled on it."""

    def get(self, job_id: str, who: Any = None) -> dict[str, Any]: ...

    def schedule_fault(self, job: dict[str, Any], fault: dict[str, Any]) -> None: ...


class VoteCounts(Protocol):
    """What the crowd needs of the results service: how many votes a job's answers take."""

    def vote_count(self, job: dict[str, Any]) -> int: ...
