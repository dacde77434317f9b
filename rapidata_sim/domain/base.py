"""What every domain service shares: the world (store, clock, ids, settings, event log)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..core.clock import iso
from ..core.errors import NotFound
from ..core.querying import ListSpec, Page, Query
from ..core.world import World


@dataclass(frozen=True)
class Principal:
    """Who is calling: resolved from a bearer token by ``Identity.authenticate``."""

    user_id: str
    email: str
    organization_id: str
    role: str
    client_id: str | None = None


class Service:
    """A domain service bound to one simulated world; a subclass takes the other services it
    needs by name (``Simulator`` wires them)."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.store = world.store
        self.clock = world.clock
        self.ids = world.ids

    def now(self) -> str:
        return iso(self.clock.now())

    def record(self, kind: str, subject: str, *, at: str | None = None, **data: Any) -> None:
        """Append to the world's event log (the replayable story of what happened).

        ``at`` is the instant the event happened, which for scheduled work is
        its due time, not the moment the simulator got round to it.
        """
        self.world.log.record(kind, subject, at=at, **data)

    def _get_live(self, table: str, key: Any, what: str) -> Any:
        """The live row of ``table`` (a ``core.rows`` type for the main tables), else 404."""
        row = self.store.get(table, key)
        if row is None or row.get("deleted"):
            raise NotFound(f"{what} '{key}' was not found.")
        return row

    @staticmethod
    def check_org(row: dict[str, Any], who: Principal, what: str, *, public_ok: bool = False) -> None:
        """Rows of another organization do not exist for the caller (404, as the service hides them)."""
        if row.get("organization_id") == who.organization_id:
            return
        if public_ok and row.get("is_public"):
            return
        raise NotFound(f"{what} '{row.get('id')}' was not found.")

    def _page(self, table: str, spec: ListSpec, query: Query, scope: str, scope_args: list[Any]) -> Page:
        """One page of ``table`` rows within ``scope`` (SQL, e.g. visibility) that match ``query``."""
        where, params, order = spec.compile(query)
        full = f"{scope} AND {where}"
        args = [*scope_args, *params]
        total = self.store.count(table, full, args)
        items = self.store.select(table, full, args, order_by=order, limit=query.page_size,
                                  offset=(query.page - 1) * query.page_size)
        return Page(items, total, query.page, query.page_size)
