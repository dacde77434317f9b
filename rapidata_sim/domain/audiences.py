"""Audiences: who labels a job, how many of them are ready, and how fast they answer."""

from __future__ import annotations

from typing import Any

from ..core.errors import NotFound, ValidationFailed
from ..core.querying import ListSpec, Page, Query
from ..core.clock import check_span, iso, parse_iso
from ..core.rows import AudienceRow
from ..core.world import World
from ..crowd.population import Population
from .base import Principal, Service
from .ports import Scheduling

AUDIENCE_LIST = ListSpec(
    filters={
        "name": ("name", "str"), "status": ("status", "str"), "is_public": ("is_public", "bool"),
        "is_distilling": ("is_distilling", "bool"), "owner_mail": ("owner_mail", "str"),
        "created_at": ("created_at", "time"),
    },
    sorts={"name": "name", "created_at": "created_at", "status": "status",
           "qualified_user_count": "qualified_user_count"},
)

EXAMPLE_LIST = ListSpec(filters={}, sorts={"created_at": "created_at"}, default_sort="created_at")
FILTER_KINDS = {"CountryFilter", "LanguageFilter", "DemographicFilter", "DeviceFilter", "AndFilter", "OrFilter",
                "NotFilter", "UserScoreFilter", "CampaignFilter", "NewUserFilter", "AgeFilter", "GenderFilter",
                "UserActionRestrictionFilter", "ResponseCountFilter", "CustomFilter"}
DEFAULT_GRADUATION_RULE = {"_t": "TaskAccuracy", "targetAccuracy": 0.8, "minTasks": 10}


class Audiences(Service):
    def __init__(self, world: World, *, scheduler: Scheduling) -> None:
        super().__init__(world)
        self.scheduler = scheduler

    def create(self, *, name: str, organization_id: str, owner_id: str, owner_mail: str,
               audience_id: str | None = None, description: str | None = None, status: str = "Ready",
               is_public: bool = False, filters: list[dict] | None = None,
               users_per_state: dict[str, int] | None = None, capacity: str | None = "Sufficient",
               labeling_seconds: int | None = None, graduation_rule: dict | None = None,
               created_at: str | None = None, population: dict | None = None) -> dict[str, Any]:
        users = dict(users_per_state if users_per_state is not None else {"Graduated": 100})
        audience_id = audience_id or self.ids.new("aud")
        Population.from_dict(population)  # a bad population fails here, before anything is written
        if labeling_seconds is not None:
            check_span(labeling_seconds)
        row = self.store.insert("audiences", {
            "id": audience_id, "name": name, "description": description, "status": status,
            "organization_id": organization_id, "owner_id": owner_id, "owner_mail": owner_mail,
            "is_public": is_public, "filters": filters or [],
            "graduation_rule": graduation_rule or DEFAULT_GRADUATION_RULE,
            "created_at": created_at or self.now(), "qualified_user_count": users.get("Graduated", 0),
            "users_per_state": users, "capacity": capacity, "labeling_seconds": labeling_seconds,
            "population": population,
            "retrieval_mode": "Shuffled", "boost_level": "None",
            "distilling_campaign_id": "cmp_" + audience_id.split("_", 1)[-1], "base_audience_id": audience_id,
            "logo": None, "is_distilling": False, "deleted": False,
        })
        self.record("audience.created", audience_id, name=name)
        return row

    # -- custom audiences (created through the SDK) ----------------------------------

    def create_custom(self, who: Principal, *, name: str, description: str | None = None,
                      filters: list[dict] | None = None, graduation_rule: dict | None = None) -> dict[str, Any]:
        """A new, empty audience: ``Created``, nobody recruited until recruiting starts."""
        if not name.strip():
            raise ValidationFailed.field("name", "'Name' must not be empty.")
        return self.create(name=name, description=description, organization_id=who.organization_id,
                           owner_id=who.user_id, owner_mail=who.email, status="Created", filters=filters,
                           users_per_state={"Graduated": 0, "Distilling": 0}, capacity=None,
                           graduation_rule=graduation_rule or {"_t": "TaskAccuracy", "targetAccuracy": 0.75,
                                                               "minTasks": 10})

    def create_unlisted(self, who: Principal, *, name: str) -> dict[str, Any]:
        """An unlisted audience (``ula_…``): labeled only by the people its link is shared with.

        It recruits nobody and is never listed by ``find``; anyone signed in may read it by
        id (``get_unlisted``), jobs are assigned to it by its organization as to any audience.
        In the simulator the world's synthetic crowd stands in for the people who follow the
        link: its jobs are answered at the audience's population rate, like any other.
        """
        if not name.strip():
            raise ValidationFailed.field("name", "'Name' must not be empty.")
        return self.create(name=name, organization_id=who.organization_id, owner_id=who.user_id,
                           owner_mail=who.email, audience_id=self.ids.new("ula"), status="Ready",
                           users_per_state={}, capacity=None)

    def create_filtered(self, who: Principal, base_id: str, audience_filter: dict) -> dict[str, Any]:
        """A filtered view of ``base_id`` (``fau_…``, as the SDK documents): same labelers, no
        recruiting of its own. ``find`` does not list it (the SDK's ``find_audiences`` returns
        recruitable ``RapidataAudience``s); it is read and assigned jobs by its id."""
        base = self.get(base_id, who)
        row = self.create(audience_id=self.ids.new("fau"), name=base["name"], description=base["description"],
                          organization_id=who.organization_id,
                          owner_id=who.user_id, owner_mail=who.email, status=base["status"],
                          is_public=False, filters=base["filters"], users_per_state=base["users_per_state"],
                          capacity=base["capacity"], labeling_seconds=base["labeling_seconds"],
                          graduation_rule=base["graduation_rule"], population=base["population"])
        self.store.update("audiences", row["id"], {"base_audience_id": base_id, "filter": audience_filter,
                                                   "recruiting_started_at": base["recruiting_started_at"],
                                                   "ready_at": base["ready_at"]})
        return self.store.get("audiences", row["id"])

    def _get_own(self, who: Principal, audience_id: str) -> dict[str, Any]:
        row = self.get(audience_id, who)
        self.check_org(row, who, "Audience")
        return row

    def update(self, who: Principal, audience_id: str, changes: dict[str, Any]) -> None:
        self._get_own(who, audience_id)
        if "name" in changes and not (changes["name"] or "").strip():
            raise ValidationFailed.field("name", "'Name' must not be empty.")
        self.store.update("audiences", audience_id, changes)
        self.record("audience.updated", audience_id, fields=sorted(changes))

    def delete(self, who: Principal, audience_id: str) -> None:
        self._get_own(who, audience_id)
        self.store.update("audiences", audience_id, {"deleted": True})
        self.record("audience.deleted", audience_id)

    def start_recruiting(self, who: Principal | None, audience_id: str, *, at: str | None = None) -> bool:
        """Start the recruiting funnel; returns whether it was started by this call.

        Candidates then distil and graduate over virtual time as the audience's
        ``Population`` says; it reports ``Recruiting`` until ``ready_graduates`` have
        graduated and ``Ready`` from then on (a scheduler event at that instant).
        """
        row = self._get_live("audiences", audience_id, "Audience")
        if who is not None:
            self.check_org(row, who, "Audience")
        if row["status"] != "Created":
            return False
        if who is not None and self.world.config.recruit_requires_examples:
            self._check_examples(row)
        now = parse_iso(at) if at else self.clock.now()
        ready_at = Population.from_dict(row["population"]).ready_at(now)
        status = "Ready" if ready_at is not None and ready_at <= now else "Recruiting"
        changes = {"status": status, "recruiting_started_at": iso(now),
                   "ready_at": iso(ready_at) if ready_at is not None else None, "capacity": "Sufficient"}
        self.store.update("audiences", audience_id, changes)
        row.update(changes)
        self.record("audience.recruiting_started", audience_id, ready_at=changes["ready_at"])
        self.scheduler.watch_audience(row)
        return True

    def _check_examples(self, row: dict[str, Any]) -> None:
        """The service refuses to recruit for a graduation rule that asks for more validation tasks
        than the audience has examples (``SimConfig.recruit_requires_examples``)."""
        rule = row["graduation_rule"] or {}
        needed = rule.get("minTasks") if isinstance(rule.get("minTasks"), int) else 0
        have = self.store.count("audience_examples", "audience_id = ?", [row["id"]])
        if have < needed:
            # The wording of the SDK's own guide (``python -m rapidata skill``).
            raise ValidationFailed.field(
                "graduationRule", f"The graduation rule needs {needed} validation tasks, but the audience only "
                f"has {have}. Add at least {needed - have} more qualification examples, or lower min_tasks.")

    def become_ready(self, audience: dict[str, Any], at: str) -> None:
        """The funnel has graduated enough labelers (called by the scheduler at ``ready_at``)."""
        self.store.update("audiences", audience["id"], {"status": "Ready"})
        audience["status"] = "Ready"
        self.record("audience.ready", audience["id"], at=at)

    def users_per_state(self, row: dict[str, Any]) -> dict[str, int]:
        """The funnel's counts now for a recruiting audience; the configured counts otherwise."""
        if row.get("recruiting_started_at"):
            return Population.from_dict(row["population"]).funnel(parse_iso(row["recruiting_started_at"]),
                                                                    self.clock.now())
        return row["users_per_state"]

    def add_example(self, who: Principal, audience_id: str, example: dict[str, Any]) -> dict[str, Any]:
        self._get_own(who, audience_id)
        row = self.store.insert("audience_examples", {"id": self.ids.new("ex"), "audience_id": audience_id,
                                                      "created_at": self.now(), **example})
        self.record("audience.example_added", audience_id, example=row["id"])
        return row

    def examples(self, who: Principal, audience_id: str, query: Query) -> Page:
        self._get_own(who, audience_id)
        return self._page("audience_examples", EXAMPLE_LIST, query, "audience_id = ?", [audience_id])

    def delete_example(self, who: Principal, example_id: str) -> None:
        row = self.store.get("audience_examples", example_id)
        if row is None:
            raise NotFound(f"Example '{example_id}' was not found.")
        self._get_own(who, row["audience_id"])
        self.store.conn.execute("DELETE FROM audience_examples WHERE id = ?", [example_id])

    def get(self, audience_id: str, who: Principal | None = None) -> AudienceRow:
        row = self._get_live("audiences", audience_id, "Audience")
        if who is not None:
            self.check_org(row, who, "Audience", public_ok=True)
        return self._now(row)

    def _now(self, row: dict[str, Any]) -> dict[str, Any]:
        """``row`` with the counts a recruiting funnel has reached by now."""
        if row.get("recruiting_started_at"):
            row = dict(row, qualified_user_count=self.users_per_state(row)["Graduated"])
        return row

    def get_unlisted(self, audience_id: str, who: Principal) -> AudienceRow:
        # Unlisted audiences (ula_…) are reachable by link: any authenticated caller may read them.
        if not audience_id.startswith("ula_"):
            raise NotFound(f"Unlisted audience '{audience_id}' was not found.")
        return self._get_live("audiences", audience_id, "Audience")

    def find(self, who: Principal, query: Query) -> Page:
        # Filtered views (fau_) and unlisted audiences (ula_) are reached by id, never listed.
        page = self._page("audiences", AUDIENCE_LIST, query,
                          "deleted = 0 AND (organization_id = ? OR is_public = 1) AND base_audience_id = id "
                          "AND substr(id, 1, 4) != 'ula_'", [who.organization_id])
        page.items[:] = [self._now(row) for row in page.items]
        return page

    def user_metrics(self, audience_id: str, who: Principal) -> dict[str, Any]:
        row = self.get(audience_id, who)
        return {"users_per_state": self.users_per_state(row), "capacity": row["capacity"]}

    def update_population(self, audience_id: str, changes: dict[str, Any]) -> Population:
        """Change some of an audience's population settings (the others stay); returns it."""
        current = self._get_live("audiences", audience_id, "Audience")["population"] or {}
        population = Population.from_dict({**current, **changes})
        self.configure(audience_id, population=population)
        return population

    def configure(self, audience_id: str, **changes: Any) -> None:
        """Simulator-side knobs: status, users_per_state, capacity, name, description;
        ``population`` (a ``Population`` or its dict: who answers and how fast);
        ``labeling_seconds`` (a fixed time per job instead of the population's rate; None
        goes back to the rate). Jobs already created keep the plan they were made with."""
        allowed = {"status", "users_per_state", "labeling_seconds", "capacity", "name", "description", "population"}
        unknown = set(changes) - allowed
        if unknown:
            raise TypeError(f"cannot configure {sorted(unknown)} on an audience")
        with self.store.transaction():
            self._get_live("audiences", audience_id, "Audience")
            if isinstance(changes.get("population"), Population):
                changes["population"] = changes["population"].to_dict()
            if "population" in changes:
                Population.from_dict(changes["population"])
            if changes.get("labeling_seconds") is not None:
                check_span(changes["labeling_seconds"])
            if "users_per_state" in changes:
                changes["qualified_user_count"] = changes["users_per_state"].get("Graduated", 0)
            self.store.update("audiences", audience_id, changes)
            self.record("audience.configured", audience_id, **{k: v for k, v in changes.items()})
