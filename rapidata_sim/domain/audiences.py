"""Audiences: who labels a job, how many of them are ready, and how fast they answer."""

from __future__ import annotations

from typing import Any

from ..errors import NotFound
from ..querying import ListSpec, Page, Query
from .base import Principal, Service

AUDIENCE_LIST = ListSpec(
    filters={
        "name": ("name", "str"), "status": ("status", "str"), "is_public": ("is_public", "bool"),
        "is_distilling": ("is_distilling", "bool"), "owner_mail": ("owner_mail", "str"),
        "created_at": ("created_at", "time"),
    },
    sorts={"name": "name", "created_at": "created_at", "status": "status",
           "qualified_user_count": "qualified_user_count"},
)

DEFAULT_GRADUATION_RULE = {"_t": "TaskAccuracy", "targetAccuracy": 0.8, "minTasks": 10}


class Audiences(Service):
    def create(self, *, name: str, organization_id: str, owner_id: str, owner_mail: str,
               audience_id: str | None = None, description: str | None = None, status: str = "Ready",
               is_public: bool = False, filters: list[dict] | None = None,
               users_per_state: dict[str, int] | None = None, capacity: str | None = "Sufficient",
               labeling_seconds: int = 0, graduation_rule: dict | None = None,
               created_at: str | None = None) -> dict[str, Any]:
        users = dict(users_per_state if users_per_state is not None else {"Graduated": 100})
        audience_id = audience_id or self.ids.new("aud")
        row = self.store.insert("audiences", {
            "id": audience_id, "name": name, "description": description, "status": status,
            "organization_id": organization_id, "owner_id": owner_id, "owner_mail": owner_mail,
            "is_public": is_public, "filters": filters or [],
            "graduation_rule": graduation_rule or DEFAULT_GRADUATION_RULE,
            "created_at": created_at or self.now(), "qualified_user_count": users.get("Graduated", 0),
            "users_per_state": users, "capacity": capacity, "labeling_seconds": labeling_seconds,
            "retrieval_mode": "Shuffled", "boost_level": "None",
            "distilling_campaign_id": "cmp_" + audience_id.split("_", 1)[-1], "base_audience_id": audience_id,
            "logo": None, "deleted": False,
        })
        self.record("audience.created", audience_id, name=name)
        return row

    def get(self, audience_id: str, who: Principal | None = None) -> dict[str, Any]:
        row = self._get_live("audiences", audience_id, "Audience")
        if who is not None:
            self.check_org(row, who, "Audience", public_ok=True)
        return row

    def get_unlisted(self, audience_id: str, who: Principal) -> dict[str, Any]:
        # Unlisted audiences (ula_…) are reachable by link: any authenticated caller may read them.
        if not audience_id.startswith("ula_"):
            raise NotFound(f"Unlisted audience '{audience_id}' was not found.")
        return self._get_live("audiences", audience_id, "Audience")

    def find(self, who: Principal, query: Query) -> Page:
        # is_distilling is not stored: no simulated audience distils yet, so filter on a constant.
        where, params, order = AUDIENCE_LIST.compile(query)
        where = where.replace("[is_distilling]", "0")
        scope = "deleted = 0 AND (organization_id = ? OR is_public = 1)"
        full = f"{scope} AND {where}"
        args = [who.organization_id, *params]
        total = self.store.count("audiences", full, args)
        items = self.store.select("audiences", full, args, order_by=order, limit=query.page_size,
                                  offset=(query.page - 1) * query.page_size)
        return Page(items, total, query.page, query.page_size)

    def user_metrics(self, audience_id: str, who: Principal) -> dict[str, Any]:
        row = self.get(audience_id, who)
        return {"users_per_state": row["users_per_state"], "capacity": row["capacity"]}

    def configure(self, audience_id: str, **changes: Any) -> None:
        """Simulator-side knobs (status, users_per_state, labeling_seconds, capacity)."""
        allowed = {"status", "users_per_state", "labeling_seconds", "capacity", "name", "description"}
        unknown = set(changes) - allowed
        if unknown:
            raise TypeError(f"cannot configure {sorted(unknown)} on an audience")
        with self.store.transaction():
            self._get_live("audiences", audience_id, "Audience")
            if "users_per_state" in changes:
                changes["qualified_user_count"] = changes["users_per_state"].get("Graduated", 0)
            self.store.update("audiences", audience_id, changes)
            self.record("audience.configured", audience_id, **{k: v for k, v in changes.items()})
