"""Identifiers in the service's style (``sig_7b0d4c6e3cfc``), seeded."""

from __future__ import annotations

import random
import threading
import uuid


class IdFactory:
    """Draws ids from a seeded generator so a replayed world gets the same ids."""

    def __init__(self, seed: int | str) -> None:
        self._rng = random.Random(f"rapidata-sim/ids/{seed}")
        self._lock = threading.Lock()

    def new(self, prefix: str) -> str:
        with self._lock:
            return f"{prefix}_{self._rng.getrandbits(48):012x}"

    def uuid(self) -> str:
        with self._lock:
            return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def file_name(self, extension: str) -> str:
        """A stored asset name as the asset service issues them (32 hex + extension)."""
        with self._lock:
            return f"{self._rng.getrandbits(128):032x}{extension}"
