"""Identifiers in the service's style (``sig_7b0d4c6e3cfc``), seeded."""

from __future__ import annotations

import hashlib
import random
import threading
import uuid


class IdFactory:
    """Draws ids from a seeded generator so a replayed world gets the same ids."""

    def __init__(self, seed: int | str) -> None:
        self._seed = seed
        self._rng = random.Random(f"rapidata-sim/ids/{seed}")
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, str], int] = {}

    def _digest(self, kind: str, parts: tuple[object, ...]) -> str:
        key = "/".join(str(p) for p in parts)
        with self._lock:
            n = self._seen.get((kind, key), 0)
            self._seen[(kind, key)] = n + 1
        return hashlib.sha256(f"{self._seed}/{kind}/{key}/{n}".encode()).hexdigest()

    def derived(self, prefix: str, *parts: object) -> str:
        """An id that depends on what it names, not on arrival order.

        For things the SDK uploads from many threads at once (datapoints, files,
        URL batches in set order): the same seed and the same uploads give the
        same ids however the requests interleave. Repeats of one key get a counter.
        """
        return f"{prefix}_{self._digest(prefix, parts)[:12]}"

    def derived_file_name(self, *parts: object, extension: str = "") -> str:
        """A stored asset name as the asset service issues them (32 hex + extension), derived."""
        return self._digest("file", parts)[:32] + extension

    def new(self, prefix: str) -> str:
        with self._lock:
            return f"{prefix}_{self._rng.getrandbits(48):012x}"

    def uuid(self) -> str:
        with self._lock:
            return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
