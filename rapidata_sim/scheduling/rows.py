"""The rows the scheduler reads within one sync, read once.

Valid while the store lock is held (one ``sync``, one ``next_event_at``): the scheduler
updates the cached dicts as it writes them and clears the cache when the lock is let go.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..core.store import Store
    from ..domain.base import Principal
    from ..domain.identity import Identity


class Rows:
    def __init__(self, store: "Store") -> None:
        self.store = store
        self.identity: "Identity | None" = None  # bound with the services (owners of signals)
        self._rows: dict[tuple, Any] = {}

    def clear(self) -> None:
        self._rows.clear()

    def get(self, table: str, key: Any, *, flush: bool = True) -> dict[str, Any] | None:
        """``flush=False``: a row as written (for one the ledger does not hold)."""
        row = self._rows.get((table, key))
        if row is None:
            row = self._rows[(table, key)] = self.store.get(table, key, flush=flush)
        return row

    def put(self, table: str, key: Any, row: dict[str, Any]) -> dict[str, Any]:
        self._rows[(table, key)] = row
        return row

    def reread(self, table: str, key: Any) -> dict[str, Any] | None:
        self._rows[(table, key)] = row = self.store.get(table, key)
        return row

    def owner(self, signal: dict[str, Any]) -> "Principal":
        """The signal's owner, as the jobs it creates are made by."""
        key = ("principal", signal["owner_id"])
        owner = self._rows.get(key)
        if owner is None:
            assert self.identity is not None, "Scheduler.bind() first"
            owner = self._rows[key] = self.identity.principal(signal["owner_id"])
        return owner
