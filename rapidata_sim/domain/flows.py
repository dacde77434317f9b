"""Flows: continuous collection in small batches (``client.flow``), ranking and classify.

A flow holds a configuration (a ranking flow's criteria and response thresholds, a classify
("simple") flow's blueprint of categories); each ``create_new_flow_batch`` adds a *flow item*:
a dataset the flow's crowd answers while the item lives.

How an item runs over virtual time (the SDK's guide, "How a flow item completes"):

- it is served from creation (``Running``) to the crowd of the flow's audience (``global`` unless
  the flow names one), at that audience's ``Population.responses_per_hour``;
- a ranking item stops being handed out once it has a number of votes drawn (seeded) between the
  flow's ``minResponses`` and ``maxResponses``; if that is the maximum it completes the moment the
  last vote is in, otherwise it sits idle until its time to live runs out (default 240 s);
- a classify item collects ``maxResponses`` per datapoint and completes when all are in;
- an item whose time to live runs out first keeps the votes delivered so far;
- at the end it is ``Completed``, or ``Incomplete`` when it got fewer than ``minResponses``
  (ranking: in all; classify: on average per datapoint). Its results are returned either way.

Each item is **planned once, when it is created** (like a job: ``Crowd.behaviour_for`` at that
instant, a seeded stream, its vote count and due instant), and **registered with the scheduler**
(``Scheduling.watch_due``): the scheduler settles it at its due instant in time order with
everything else and the event log records it there, and the SDK's waits (``get_results()``) move
the clock straight to it. Its votes are drawn only when its results are read: a ranking item's
pairwise votes come from the crowd's ``Prefer`` model (``JobCrowd.ranking``), a classify item's
from ``Classify``; Elo scores are the Bradley–Terry fit of the votes on the Elo scale, anchored at
the flow's ``startingElo``.
"""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta
from typing import Any

from ..core.clock import iso, parse_iso
from ..core.errors import Conflict, NotFound, ValidationFailed
from ..core.querying import ListSpec, Page, Query
from ..core.world import World
from ..crowd.labeling import JobCrowd
from ..crowd.timeline import Rate
from .audiences import Audiences
from .base import Principal, Service
from .datasets import Datasets
from .job_plans import Crowd
from .ports import Scheduling

#: The audience a flow is served to when it names none (the SDK never sends one).
DEFAULT_AUDIENCE = "global"
#: A batch's time to live when the request gives none (the SDK guide: "defaults to 4 minutes").
DEFAULT_TTL_SECONDS = 240
MIN_TTL_SECONDS, MAX_TTL_SECONDS = 10, 3600
DEFAULT_STARTING_ELO = 1200
#: Seconds a labeler has to answer when the flow sets none (CreateSimpleFlowEndpoint_Input: "Defaults to 40").
DEFAULT_SERVE_TIMEOUT_SECONDS = 40
#: Ranking thresholds when the request leaves them out (CreateFlowEndpoint_Input's descriptions).
RANKING_MIN_DEFAULT, RANKING_MAX_DEFAULT = 20, 100
#: Classify thresholds when left out (CreateSimpleFlowEndpoint_Input's descriptions).
SIMPLE_MIN_DEFAULT, SIMPLE_MAX_DEFAULT = 3, 5
MAX_RESPONSES_LIMIT = 100_000
TERMINAL = {"Completed", "Failed", "Stopped", "Incomplete"}
#: The PID settings every flow reports (the simulator has no rate controller; defaults as documented).
PID_DEFAULTS = {"pid_proportional_gain": 0.0, "pid_integral_gain": 0.003, "pid_derivative_gain": 0.0,
                "pid_output_offset": 25.0, "pid_min_sessions_per_minute": 20, "pid_max_sessions_per_minute": 50}

FLOW_LIST = ListSpec(
    filters={"id": ("id", "str"), "name": ("name", "str"), "type": ("kind", "str"),
             "owner_mail": ("owner_mail", "str"), "created_at": ("created_at", "time")},
    sorts={"name": "name", "created_at": "created_at", "type": "kind"},
    default_sort="-created_at",
)
ITEM_LIST = ListSpec(
    filters={"id": ("id", "str"), "state": ("state", "str"), "dataset_id": ("dataset_id", "str"),
             "created_at": ("created_at", "time")},
    sorts={"created_at": "created_at", "state": "state", "completed_at": "completed_at"},
    default_sort="-created_at",
)


class Flows(Service):
    """Flows and their items. Implements ``ports.Timed`` for the table ``flow_items``."""

    table = "flow_items"

    def __init__(self, world: World, *, audiences: Audiences, datasets: Datasets, crowd: Crowd,
                 scheduler: Scheduling) -> None:
        super().__init__(world)
        self.audiences = audiences
        self.datasets = datasets
        self.crowd = crowd
        self.scheduler = scheduler

    # -- flows --------------------------------------------------------------------

    def _thresholds(self, min_responses: int | None, max_responses: int | None, defaults: tuple[int, int],
                    errors: dict[str, list[str]]) -> tuple[int, int]:
        # Whichever is left out follows the other (a max of 6 alone is a min of 6, not of 20).
        low = min_responses if min_responses is not None else (
            defaults[0] if max_responses is None else min(defaults[0], max_responses))
        high = max(defaults[1], low) if max_responses is None else max_responses
        if not 1 <= low <= MAX_RESPONSES_LIMIT:
            errors["minResponses"] = [f"'Min Responses' must be between 1 and {MAX_RESPONSES_LIMIT}."]
        if not 1 <= high <= MAX_RESPONSES_LIMIT:
            errors["maxResponses"] = [f"'Max Responses' must be between 1 and {MAX_RESPONSES_LIMIT}."]
        elif low > high and "minResponses" not in errors:
            errors["maxResponses"] = ["'Max Responses' must be greater than or equal to 'Min Responses'."]
        return low, high

    @staticmethod
    def _seconds(value: int | None, field: str, errors: dict[str, list[str]]) -> None:
        if value is not None and not 0 <= value <= MAX_TTL_SECONDS:
            errors[field] = [f"'{field}' must be between 0 and {MAX_TTL_SECONDS} seconds."]

    def _audience(self, who: Principal, audience_id: str | None, errors: dict[str, list[str]]) -> str:
        if audience_id is None:
            return DEFAULT_AUDIENCE
        try:
            return self.audiences.get(audience_id, who)["id"]
        except NotFound as exc:
            errors["audienceId"] = [exc.detail]
            return audience_id

    def create_ranking(self, who: Principal, *, name: str, criteria: str, min_responses: int | None = None,
                       max_responses: int | None = None, starting_elo: int | None = None,
                       audience_id: str | None = None, validation_set_id: str | None = None,
                       feature_flags: list[dict[str, str]] | None = None, serve_timeout_seconds: int | None = None,
                       drain_duration_seconds: int | None = None, serve_responses: int | None = None,
                       serve_to_response_ratio: float | None = None,
                       target_response_count: int | None = None) -> dict[str, Any]:
        errors: dict[str, list[str]] = {}
        if not name.strip():
            errors["name"] = ["'Name' must not be empty."]
        if not criteria.strip():
            errors["criteria"] = ["'Criteria' must not be empty."]
        low, high = self._thresholds(min_responses, max_responses, (RANKING_MIN_DEFAULT, RANKING_MAX_DEFAULT),
                                     errors)
        if serve_responses is not None and not 1 <= serve_responses <= high:
            errors["serveResponses"] = ["'Serve Responses' must be between 1 and 'Max Responses'."]
        self._seconds(serve_timeout_seconds, "serveTimeoutSeconds", errors)
        self._seconds(drain_duration_seconds, "drainDurationSeconds", errors)
        audience = self._audience(who, audience_id, errors)
        if errors:
            raise ValidationFailed(errors)
        return self._insert(who, "Ranking", name=name, criteria=criteria, blueprint=None, min_responses=low,
                            max_responses=high, starting_elo=DEFAULT_STARTING_ELO if starting_elo is None
                            else starting_elo, audience_id=audience, validation_set_id=validation_set_id,
                            feature_flags=feature_flags or [], serve_timeout_seconds=serve_timeout_seconds,
                            drain_duration_seconds=drain_duration_seconds, serve_responses=serve_responses,
                            serve_to_response_ratio=serve_to_response_ratio,
                            target_response_count=target_response_count)

    def create_simple(self, who: Principal, *, name: str, blueprint: dict[str, Any], min_responses: int | None = None,
                      max_responses: int | None = None, audience_id: str | None = None,
                      validation_set_id: str | None = None, feature_flags: list[dict[str, str]] | None = None,
                      serve_timeout_seconds: int | None = None, drain_duration_seconds: int | None = None,
                      serve_to_response_ratio: float | None = None,
                      target_response_count: int | None = None) -> dict[str, Any]:
        errors: dict[str, list[str]] = {}
        if not name.strip():
            errors["name"] = ["'Name' must not be empty."]
        errors.update(check_blueprint(blueprint))
        low, high = self._thresholds(min_responses, max_responses, (SIMPLE_MIN_DEFAULT, SIMPLE_MAX_DEFAULT), errors)
        self._seconds(serve_timeout_seconds, "serveTimeoutSeconds", errors)
        self._seconds(drain_duration_seconds, "drainDurationSeconds", errors)
        audience = self._audience(who, audience_id, errors)
        if errors:
            raise ValidationFailed(errors)
        return self._insert(who, "Simple", name=name, criteria=None, blueprint=blueprint, min_responses=low,
                            max_responses=high, starting_elo=None, audience_id=audience,
                            validation_set_id=validation_set_id, feature_flags=feature_flags or [],
                            serve_timeout_seconds=serve_timeout_seconds,
                            drain_duration_seconds=drain_duration_seconds, serve_responses=None,
                            serve_to_response_ratio=serve_to_response_ratio,
                            target_response_count=target_response_count)

    def _insert(self, who: Principal, kind: str, **columns: Any) -> dict[str, Any]:
        row = self.store.insert("flows", {
            "id": self.ids.new("flow"), "kind": kind, "campaign_id": self.ids.new("cmp"), "flow_item_count": 0,
            **columns, "owner_id": who.user_id, "owner_mail": who.email, "organization_id": who.organization_id,
            "created_at": self.now(), "deleted": False,
        })
        self.record("flow.created", row["id"], type=kind, audience=row["audience_id"],
                    min_responses=row["min_responses"], max_responses=row["max_responses"])
        return row

    def get(self, who: Principal | None, flow_id: str) -> dict[str, Any]:
        row = self._get_live("flows", flow_id, "Flow")
        if who is not None:
            self.check_org(row, who, "Flow")
        return row

    def find(self, who: Principal, query: Query) -> Page:
        return self._page("flows", FLOW_LIST, query, "deleted = 0 AND organization_id = ?", [who.organization_id])

    def update(self, who: Principal, flow_id: str, kind: str, changes: dict[str, Any]) -> None:
        """PATCH: keys absent from ``changes`` stay. ``kind`` is the route's (a ranking route cannot
        change a classify flow, nor the other way round)."""
        flow = self.get(who, flow_id)
        if flow["kind"] != kind:
            raise ValidationFailed.field("flowId", f"Flow '{flow_id}' is not a {kind.lower()} flow.")
        errors: dict[str, list[str]] = {}
        if "criteria" in changes and not (changes["criteria"] or "").strip():
            errors["criteria"] = ["'Criteria' must not be empty."]
        for field in ("min_responses", "max_responses", "starting_elo"):
            if field in changes and changes[field] is None:
                del changes[field]  # nullable on the wire; null keeps the current value
        defaults = (flow["min_responses"], flow["max_responses"])
        low, high = self._thresholds(changes.get("min_responses", defaults[0]),
                                     changes.get("max_responses", defaults[1]), defaults, errors)
        self._seconds(changes.get("serve_timeout_seconds"), "serveTimeoutSeconds", errors)
        self._seconds(changes.get("drain_duration_seconds"), "drainDurationSeconds", errors)
        if "blueprint" in changes:
            if changes["blueprint"] is None:
                del changes["blueprint"]
            else:
                errors.update(check_blueprint(changes["blueprint"]))
        if "audience_id" in changes:
            changes["audience_id"] = self._audience(who, changes["audience_id"], errors)
        if errors:
            raise ValidationFailed(errors)
        if changes:
            self.store.update("flows", flow_id, changes)
        self.record("flow.updated", flow_id, **changes)

    def delete(self, who: Principal, flow_id: str) -> None:
        self.get(who, flow_id)
        self.store.update("flows", flow_id, {"deleted": True})
        self.record("flow.deleted", flow_id)

    # -- items --------------------------------------------------------------------

    def create_item(self, who: Principal, flow_id: str, kind: str, *, dataset_id: str,
                    time_to_live: int | None = None, context: str | None = None,
                    context_asset: dict[str, Any] | None = None) -> dict[str, Any]:
        flow = self.get(who, flow_id)
        if flow["kind"] != kind:
            raise ValidationFailed.field("flowId", f"Flow '{flow_id}' is not a {kind.lower()} flow.")
        errors: dict[str, list[str]] = {}
        datapoints: list[dict[str, Any]] = []
        try:
            self.datasets.get(dataset_id, who)
            datapoints = self.datasets.datapoints(dataset_id)
        except NotFound as exc:
            errors["datasetId"] = [exc.detail]
        else:
            need = 2 if kind == "Ranking" else 1
            if len(datapoints) < need:
                errors["datasetId"] = [f"A {kind.lower()} flow item needs at least {need} datapoints; "
                                       f"dataset '{dataset_id}' has {len(datapoints)}."]
        ttl = DEFAULT_TTL_SECONDS if time_to_live is None else time_to_live
        if not MIN_TTL_SECONDS <= ttl <= MAX_TTL_SECONDS:
            errors["timeToLiveInSeconds"] = [
                f"'Time To Live In Seconds' must be between {MIN_TTL_SECONDS} and {MAX_TTL_SECONDS}."]
        if errors:
            raise ValidationFailed(errors)
        at = self.clock.now()
        item_id = self.ids.new("fi")
        plan = self._plan(flow, item_id, len(datapoints), ttl, at)
        row = self.store.insert("flow_items", {
            "id": item_id, "flow_id": flow_id, "dataset_id": dataset_id, "state": "Running", "context": context,
            "context_asset": context_asset, "time_to_live": ttl, "created_at": iso(at), "started_at": iso(at),
            "expires_at": iso(at + timedelta(seconds=ttl)), "completes_at": plan["due"], "completed_at": None,
            "failed_at": None, "failure_message": None, "plan": plan, "organization_id": flow["organization_id"],
            "deleted": False,
        })
        self.store.update("flows", flow_id, {"flow_item_count": flow["flow_item_count"] + 1})
        self.record("flow_item.created", item_id, flow=flow_id, dataset=dataset_id, votes=plan["votes"],
                    completes_at=plan["due"])
        self.scheduler.watch_due(self.table, item_id, plan["due"])
        return row

    def _plan(self, flow: dict[str, Any], item_id: str, size: int, ttl: int, at: datetime) -> dict[str, Any]:
        """When the item's votes are in, how many it gets, and how it ends (decided now, seeded)."""
        audience = self.store.get("audiences", flow["audience_id"]) or {}
        stream = self.ids.derived("stream", "flow", flow["id"], iso(at))
        rng = random.Random(f"{self.world.seed}/{stream}/plan")
        low, high = flow["min_responses"], flow["max_responses"]
        if flow["kind"] == "Ranking":
            target = rng.randint(min(low, high), high)  # handed out until somewhere in [min, max]
            cap = high
        else:
            target = cap = size * high  # every datapoint up to maxResponses
        rate = Rate.of(self.crowd.population(audience))
        expiry = at + timedelta(seconds=ttl)
        work = rng.gammavariate(target, 1.0) if target else 0.0
        finish = rate.finish(at, work)
        if finish is not None and finish <= expiry:
            votes = target
            due = finish if target >= cap else expiry  # stopped below the max: idle until the TTL
        else:
            delivered = rate.work(at, expiry)
            votes = min(target, int(target * delivered / work)) if work else 0
            due = expiry
        if flow["kind"] == "Ranking":
            enough = votes >= low
            per_datapoint = None
        else:
            per_datapoint = votes // size if size else 0
            votes = per_datapoint * size
            enough = per_datapoint >= low
        return {"stream": stream, "behaviour": self.crowd.latest_change(), "audience_id": flow["audience_id"],
                "votes": votes, "per_datapoint": per_datapoint, "due": iso(due), "work": work,
                "target": target, "rate": rate.to_dict(), "since": iso(at),
                "outcome": "Completed" if enough else "Incomplete",
                "starting_elo": flow["starting_elo"], "min_responses": low}

    def get_item(self, who: Principal | None, item_id: str) -> dict[str, Any]:
        row = self._get_live("flow_items", item_id, "Flow item")
        if who is not None:
            self.check_org(row, who, "Flow item")
        flow = self.store.get("flows", row["flow_id"])
        if flow is None or flow["deleted"]:
            raise NotFound(f"Flow item '{item_id}' was not found.")
        return row

    def items(self, who: Principal, flow_id: str, query: Query) -> Page:
        self.get(who, flow_id)
        return self._page("flow_items", ITEM_LIST, query, "deleted = 0 AND flow_id = ?", [flow_id])

    def item_states(self, who: Principal, flow_id: str) -> dict[str, int]:
        """How many of the flow's live items are in each state (what an overview shows)."""
        self.get(who, flow_id)
        return {state: n for state in ("Running", *sorted(TERMINAL))
                if (n := self.store.count("flow_items", "flow_id = ? AND deleted = 0 AND state = ?",
                                          [flow_id, state]))}

    def stop(self, who: Principal, item_id: str) -> None:
        """End a running item now, keeping the votes delivered so far (``Stopped``)."""
        item = self.get_item(who, item_id)
        if item["state"] in TERMINAL:
            return
        now = self.now()
        plan = dict(item["plan"], votes=self.votes_so_far(item, self.clock.now()))
        if plan.get("per_datapoint") is not None:
            size = max(1, len(self.datasets.datapoints(item["dataset_id"])))
            plan["per_datapoint"] = plan["votes"] // size
            plan["votes"] = plan["per_datapoint"] * size
        self.store.update("flow_items", item_id, {"state": "Stopped", "completed_at": now, "completes_at": None,
                                                  "plan": plan})
        self.record("flow_item.stopped", item_id, votes=plan["votes"])

    def votes_so_far(self, item: dict[str, Any], now: datetime) -> int:
        plan = item["plan"]
        if item["state"] != "Running":
            return plan["votes"]
        work = plan["work"]
        if not work:
            return 0
        done = Rate.from_dict(plan["rate"]).work(parse_iso(plan["since"]), now)
        return min(plan["votes"], int(plan["target"] * done / work))

    # -- the scheduler's side (ports.Timed) -------------------------------------------

    def pending(self) -> list[tuple[str, str]]:
        """(item id, due instant) of every running item (the scheduler's queue after a restart)."""
        return [(r["id"], r["completes_at"]) for r in self.store.select(
            "flow_items", "state = 'Running' AND deleted = 0 AND completes_at IS NOT NULL", order_by="rowid")]

    def has_pending(self) -> bool:
        return bool(self.store.count("flow_items", "state = 'Running' AND deleted = 0"))

    def due_row(self, item_id: str, due: str) -> dict[str, Any] | None:
        """The item, if it is still due to settle at ``due`` (else the queue entry is stale)."""
        row = self.store.get("flow_items", item_id)
        return row if row and row["state"] == "Running" and row["completes_at"] == due else None

    def settle(self, item: dict[str, Any], due: str) -> None:
        """The item's due instant has come: Completed, or Incomplete below its minimum."""
        state = item["plan"]["outcome"]
        self.store.update("flow_items", item["id"], {"state": state, "completed_at": due})
        self.record("flow_item.completed", item["id"], at=due, state=state, votes=item["plan"]["votes"])

    # -- results ------------------------------------------------------------------

    def _finished(self, who: Principal, item_id: str, kind: str) -> tuple[dict, dict]:
        item = self.get_item(who, item_id)
        flow = self.store.get("flows", item["flow_id"])
        if flow["kind"] != kind:
            raise ValidationFailed.field("flowItemId", f"Flow item '{item_id}' is not in a {kind.lower()} flow.")
        if item["state"] not in TERMINAL:
            raise Conflict(f"Flow item '{item_id}' is {item['state']}; its results are ready when it ends.")
        return item, flow

    def _crowd(self, item: dict[str, Any], referee: dict[str, Any]) -> JobCrowd:
        plan = item["plan"]
        audience = self.store.get("audiences", plan["audience_id"]) or {}
        behaviour = self.crowd.behaviour_for(plan["audience_id"], None, item["created_at"], upto=plan["behaviour"])
        return JobCrowd(seed=self.world.seed, stream=plan["stream"], behaviour=behaviour,
                        population=self.crowd.population(audience), referee=referee)

    def assets(self, item: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """(datapoint, asset view) in dataset order; ``asset_view`` for what a view holds."""
        return [(dp, self.asset_view(_main_asset(dp))) for dp in self.datasets.datapoints(item["dataset_id"])]

    def asset_view(self, asset: Any) -> dict[str, Any]:
        """An ``IAssetInput`` as stored, resolved: kind, names, and the key the SDK shows it by."""
        kind = asset.get("_t") if isinstance(asset, dict) else None
        if kind == "TextAssetInput" and isinstance(asset.get("text"), str):
            return {"kind": "text", "text": asset["text"], "key": asset["text"]}
        if kind == "MultiAssetInput":
            parts = [self.asset_view(a) for a in asset.get("assets") or []]
            return {"kind": "multi", "parts": parts, "key": "|".join(p["key"] for p in parts)}
        name = asset.get("name") if kind == "ExistingAssetInput" and isinstance(asset.get("name"), str) else None
        if name is None:
            return {"kind": "null", "key": ""}
        stored = self.store.get("assets", name) or {}
        original = stored.get("original_name") or name
        # The SDK keys results by the source URL, else the original file name (``_extract_asset_key``).
        return {"kind": "file", "file_name": name, "original_name": original, "source_url": stored.get("source_url"),
                "key": stored.get("source_url") or original}

    def ranking_votes(self, item: dict[str, Any]) -> tuple[list[tuple[dict, dict]], list[str], list[tuple]]:
        """(datapoints with asset views, their keys, votes as (winner key, loser key, user))."""
        pairs = self.assets(item)
        keys = _unique([view["key"] for _, view in pairs])
        crowd = self._crowd(item, {})
        alias = [view.get("original_name") or view["key"] for _, view in pairs]
        votes = crowd.ranking(item["plan"]["stream"], keys, alias, votes=item["plan"]["votes"]) if item["plan"][
            "votes"] else []
        out = [(chosen, b if chosen == a else a, user) for (a, b, chosen), user in votes]
        return pairs, keys, out

    def ranking_results(self, who: Principal, item_id: str) -> dict[str, Any]:
        item, _ = self._finished(who, item_id, "Ranking")
        pairs, keys, votes = self.ranking_votes(item)
        elo = elo_scores(keys, [(w, l) for w, l, _ in votes], item["plan"]["starting_elo"] or DEFAULT_STARTING_ELO)
        ranked = sorted(range(len(keys)), key=lambda i: (-elo[keys[i]], i))
        return {"datapoints": [{"id": pairs[i][0]["id"], "asset": pairs[i][1], "elo": elo[keys[i]]} for i in ranked],
                "total_votes": len(votes)}

    def vote_matrix(self, who: Principal, item_id: str) -> dict[str, Any]:
        item, _ = self._finished(who, item_id, "Ranking")
        _, keys, votes = self.ranking_votes(item)
        index = {k: i for i, k in enumerate(keys)}
        data = [[0] * len(keys) for _ in keys]
        for winner, loser, _ in votes:
            data[index[winner]][index[loser]] += 1
        return {"index": keys, "columns": keys, "data": data}

    def classify_results(self, who: Principal, item_id: str) -> dict[str, Any]:
        item, flow = self._finished(who, item_id, "Simple")
        per = item["plan"]["per_datapoint"] or 0
        values = [c["value"] for c in flow["blueprint"]["categories"]]
        crowd = self._crowd(item, {"_t": "NaiveReferee", "totalVotes": max(1, per)})
        out, total = [], 0
        for dp, view in self.assets(item):
            names = (view["key"], view.get("original_name"), view.get("text"))
            votes = crowd.classify(dp["id"], names, values, limit=per) if per else []
            counts: dict[str, int] = {}
            for choice, _ in votes:
                counts[choice] = counts.get(choice, 0) + 1
            best = max(counts.values(), default=0)
            top = [v for v in values if counts.get(v) == best]
            out.append({"datapoint_id": dp["id"], "asset": view,
                        "majority_value": top[0] if best and len(top) == 1 else None,
                        # The service omits categories nobody chose (the SDK fills in the zeros).
                        "distribution": [{"value": v, "count": counts[v]} for v in values if counts.get(v)],
                        "response_count": len(votes)})
            total += len(votes)
        return {"datapoints": out, "total_responses": total}


def drain_seconds(flow: dict[str, Any]) -> int:
    """The drain duration in effect: the flow's own, else it follows the serve timeout (as documented)."""
    if flow["drain_duration_seconds"] is not None:
        return flow["drain_duration_seconds"]
    timeout = flow["serve_timeout_seconds"]
    return DEFAULT_SERVE_TIMEOUT_SECONDS if timeout is None else timeout


def check_blueprint(blueprint: Any) -> dict[str, list[str]]:
    """A classify blueprint's problems (``ClassifyBlueprint``: a title, 2-8 categories, unique values)."""
    if not isinstance(blueprint, dict) or blueprint.get("_t") != "ClassifyBlueprint":
        return {"blueprint._t": ["'_t' must be 'ClassifyBlueprint'."]}
    errors: dict[str, list[str]] = {}
    if not isinstance(blueprint.get("title"), str) or not blueprint["title"].strip():
        errors["blueprint.title"] = ["'Title' must not be empty."]
    categories = blueprint.get("categories")
    if not isinstance(categories, list) or not 2 <= len(categories) <= 8 or not all(
            isinstance(c, dict) and isinstance(c.get("label"), str) and isinstance(c.get("value"), str)
            for c in categories):
        errors["blueprint.categories"] = ["Between 2 and 8 categories, each with a 'label' and a 'value'."]
    elif len({c["value"] for c in categories}) != len(categories):
        errors["blueprint.categories"] = ["Category values must be unique."]
    return errors


def _main_asset(datapoint: dict[str, Any]) -> Any:
    seg = next((s for s in datapoint["segments"] if s.get("key") == "asset"), None) or next(
        (s for s in datapoint["segments"] if s.get("kind") == "Asset"), {})
    return seg.get("asset") or {}


def _unique(keys: list[str]) -> list[str]:
    """Keys with repeats told apart (``x``, ``x (2)``): the crowd and the matrix need one per datapoint."""
    seen: dict[str, int] = {}
    out = []
    for key in keys:
        seen[key] = seen.get(key, 0) + 1
        out.append(key if seen[key] == 1 else f"{key} ({seen[key]})")
    return out


def elo_scores(keys: list[str], outcomes: list[tuple[str, str]], start: int, iterations: int = 200) -> dict[str, int]:
    """Elo ratings from pairwise outcomes (winner, loser): the Bradley–Terry maximum-likelihood
    strengths (minorise–maximise, one virtual draw per pair as a prior so nobody's rating is
    infinite), on the Elo scale (400 · log10), their geometric mean at ``start``. Order-free."""
    n = len(keys)
    if n == 0:
        return {}
    at = {k: i for i, k in enumerate(keys)}
    wins = [0.5 * (n - 1)] * n
    games = [[0.0 if i == j else 1.0 for j in range(n)] for i in range(n)]
    for winner, loser in outcomes:
        i, j = at[winner], at[loser]
        wins[i] += 1
        games[i][j] += 1
        games[j][i] += 1
    p = [1.0] * n
    for _ in range(iterations):
        nxt = [wins[i] / sum(games[i][j] / (p[i] + p[j]) for j in range(n) if j != i) if n > 1 else 1.0
               for i in range(n)]
        mean = math.exp(sum(math.log(x) for x in nxt) / n)
        nxt = [x / mean for x in nxt]
        done = max(abs(a - b) / b for a, b in zip(nxt, p)) < 1e-9
        p = nxt
        if done:  # converged: further rounds change no rounded score
            break
    return {k: int(round(start + 400 * math.log10(p[at[k]]))) for k in keys}
