"""``World``: what every service, the scheduler and the HTTP faults share, and nothing more.

The ``Simulator`` facade builds one and hands it to each part it wires together, with the
named collaborators that part needs, so no part reaches through the facade.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from .clock import Clock
from .events import EventLog
from .ids import IdFactory
from .store import Store


class Settings(Protocol):
    """The settings the domain reads (``SimConfig`` has them, among others)."""

    token_lifetime_seconds: int
    assets_base_url: str
    recruit_requires_examples: bool


@dataclass(frozen=True)
class World:
    store: Store
    clock: Clock
    ids: IdFactory
    config: Settings
    log: EventLog
    #: The world's seed: the crowd's random streams derive from it.
    seed: int
