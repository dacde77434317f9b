"""Identifiers in the service's style (``sig_7b0d4c6e3cfc``), seeded."""

from __future__ import annotations

import hashlib
import random
import threading
import uuid
from contextlib import contextmanager
from typing import Callable, Iterator


class IdFactory:
    """Draws ids from a seeded generator so a replayed world gets the same ids."""

    def __init__(self, seed: int | str) -> None:
        self._seed = seed
        self._rng = random.Random(f"rapidata-sim/ids/{seed}")
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, str], int] = {}
        #: Counts as they were before the open transaction changed them (``undo`` restores
        #: them when it rolls back: a failed request does not use up derived ids).
        self._before: dict[tuple[str, str], int] = {}
        #: Whether the calling thread is inside a store transaction (the simulator sets it).
        self.in_transaction: Callable[[], bool] = lambda: False

    def _digest(self, kind: str, parts: tuple[object, ...]) -> str:
        key = "/".join(str(p) for p in parts)
        with self._lock:
            n = self._seen.get((kind, key), 0)
            self._count((kind, key), n + 1)
        return self._hash(kind, key, n)

    def _count(self, key: tuple[str, str], n: int) -> None:
        if key not in self._before and self.in_transaction():
            self._before[key] = self._seen.get(key, 0)
        self._seen[key] = n

    def committed(self) -> None:
        with self._lock:
            self._before.clear()

    def rolled_back(self) -> None:
        with self._lock:
            for key, n in self._before.items():
                if n:
                    self._seen[key] = n
                else:
                    self._seen.pop(key, None)
            self._before.clear()

    def _hash(self, kind: str, key: str, n: int) -> str:
        return hashlib.sha256(f"{self._seed}/{kind}/{key}/{n}".encode()).hexdigest()

    # For ids decided now and spelled out later (the scheduler's steady stretches): the
    # same ids ``derived``/``new`` would have given, without drawing them one by one.

    def derived_nth(self, prefix: str, parts: tuple[object, ...], n: int) -> str:
        """What the ``n``-th (from 0) ``derived(prefix, *parts)`` returns; counts nothing."""
        return f"{prefix}_{self._hash(prefix, '/'.join(str(p) for p in parts), n)[:12]}"

    def derived_count(self, prefix: str, parts: tuple[object, ...]) -> int:
        """How many times ``derived(prefix, *parts)`` has been asked."""
        with self._lock:
            return self._seen.get((prefix, "/".join(str(p) for p in parts)), 0)

    def set_derived_count(self, prefix: str, parts: tuple[object, ...], n: int) -> None:
        with self._lock:
            self._count((prefix, "/".join(str(p) for p in parts)), n)

    @contextmanager
    def raw(self) -> Iterator[Callable[[int], int]]:
        """The generator behind ``new``, held: ``new(p)`` is ``f"{p}_{draw(48):012x}"``."""
        with self._lock:
            yield self._rng.getrandbits

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
