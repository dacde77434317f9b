"""Flow routes (flow.openapi.json, and the newer ``/flow/simple`` ones SDK 3.27.1 calls) and the
boost preheat of campaign.openapi.json (``client.flow.preheat()``).

Paths and models are the SDK 3.27.1's (``rapidata/api_client/api/*flow*_api.py``): where they differ
from the vendored spec (``PATCH /flow/ranking/{flowId}`` rather than ``…/config``, classify flows
under ``/flow/simple``), the SDK wins.
"""

from __future__ import annotations

from typing import Any, Optional, Union

from starlette.routing import Route

from ..domain.flows import PID_DEFAULTS, drain_seconds
from .inputs import Body, FeatureFlag, Int32
from .routing import Call, endpoint, paged


class CreateRankingFlow(Body):
    name: str
    criteria: str
    audience_id: Optional[str] = None
    validation_set_id: Optional[str] = None
    starting_elo: Optional[Int32] = None
    max_responses: Optional[Int32] = None
    serve_responses: Optional[Int32] = None
    serve_to_response_ratio: Optional[Union[int, float]] = None
    serve_timeout_seconds: Optional[Int32] = None
    min_responses: Optional[Int32] = None
    feature_flags: Optional[list[FeatureFlag]] = None
    target_response_count: Optional[Int32] = None
    drain_duration_seconds: Optional[Int32] = None


class CreateSimpleFlow(Body):
    name: str
    blueprint: dict[str, Any]
    max_responses: Optional[Int32] = None
    min_responses: Optional[Int32] = None
    audience_id: Optional[str] = None
    validation_set_id: Optional[str] = None
    serve_to_response_ratio: Optional[Union[int, float]] = None
    serve_timeout_seconds: Optional[Int32] = None
    feature_flags: Optional[list[FeatureFlag]] = None
    target_response_count: Optional[Int32] = None
    drain_duration_seconds: Optional[Int32] = None


class UpdateRankingFlow(Body):
    audience_id: Optional[str] = None
    criteria: Optional[str] = None
    starting_elo: Optional[Int32] = None
    min_responses: Optional[Int32] = None
    max_responses: Optional[Int32] = None
    serve_responses: Optional[Int32] = None
    serve_to_response_ratio: Optional[Union[int, float]] = None
    serve_timeout_seconds: Optional[Int32] = None
    feature_flags: Optional[list[FeatureFlag]] = None
    drain_duration_seconds: Optional[Int32] = None
    target_response_count: Optional[Int32] = None


class UpdateSimpleFlow(Body):
    audience_id: Optional[str] = None
    blueprint: Optional[dict[str, Any]] = None
    max_responses: Optional[Int32] = None
    min_responses: Optional[Int32] = None
    feature_flags: Optional[list[FeatureFlag]] = None
    drain_duration_seconds: Optional[Int32] = None
    target_response_count: Optional[Int32] = None


class CreateRankingItem(Body):
    dataset_id: str
    context: Optional[str] = None
    context_asset: Optional[dict[str, Any]] = None
    time_to_live_in_seconds: Optional[Int32] = None
    drain_duration_in_seconds: Optional[Int32] = None


class CreateSimpleItem(Body):
    dataset_id: str
    time_to_live_in_seconds: Optional[Int32] = None
    drain_duration_in_seconds: Optional[Int32] = None


def _flags(flags: list[FeatureFlag] | None) -> list[dict[str, str]] | None:
    return None if flags is None else [f.model_dump() for f in flags]


def asset_out(view: dict[str, Any]) -> dict[str, Any]:
    """An asset view (``Flows.asset_view``) as the service's ``IAsset``, with the metadata the SDK
    keys results by (``sourceUrl``, ``originalFilename``)."""
    kind = view["kind"]
    if kind == "text":
        return {"_t": "TextAsset", "text": view["text"], "metadata": {}, "identifier": view["text"]}
    if kind == "multi":
        return {"_t": "MultiAsset", "assets": [asset_out(p) for p in view["parts"]], "metadata": {},
                "identifier": view["key"]}
    if kind == "file":
        metadata: dict[str, Any] = {"originalFilename": {"_t": "OriginalFilenameMetadata",
                                                         "originalFilename": view["original_name"]}}
        if view.get("source_url"):
            metadata["sourceUrl"] = {"_t": "SourceUrlMetadataModel", "url": view["source_url"]}
        return {"_t": "FileAsset", "fileName": view["file_name"], "metadata": metadata,
                "identifier": view["file_name"]}
    return {"_t": "NullAsset", "metadata": {}, "identifier": ""}


def flow_out(row: dict[str, Any]) -> dict[str, Any]:
    """``IFlow``: ``RankingFlow`` or ``SimpleFlow`` (a classify flow)."""
    out: dict[str, Any] = {
        "_t": "RankingFlow" if row["kind"] == "Ranking" else "SimpleFlow", "id": row["id"], "name": row["name"],
        "campaignId": row["campaign_id"], "flowItemCount": row["flow_item_count"],
        "targetResponseCount": row["target_response_count"],
        "pidProportionalGain": PID_DEFAULTS["pid_proportional_gain"],
        "pidIntegralGain": PID_DEFAULTS["pid_integral_gain"],
        "pidDerivativeGain": PID_DEFAULTS["pid_derivative_gain"], "pidOutputOffset": PID_DEFAULTS["pid_output_offset"],
        "pidMinSessionsPerMinute": PID_DEFAULTS["pid_min_sessions_per_minute"],
        "pidMaxSessionsPerMinute": PID_DEFAULTS["pid_max_sessions_per_minute"],
        "pidBatchMode": "Total" if row["kind"] == "Ranking" else "PerBatch",
        "serveTimeoutSeconds": row["serve_timeout_seconds"], "drainDurationSeconds": drain_seconds(row),
        "serveToResponseRatio": row["serve_to_response_ratio"],
    }
    if row["kind"] == "Ranking":
        out.update(type="Ranking", criteria=row["criteria"], startingElo=row["starting_elo"],
                   serveResponses=row["serve_responses"])
    else:
        out["blueprint"] = row["blueprint"]
    out.update({"minResponses": row["min_responses"], "maxResponses": row["max_responses"],
                "featureFlags": row["feature_flags"] or [], "ownerId": row["owner_id"], "ownerMail": row["owner_mail"],
                "organizationId": row["organization_id"], "createdAt": row["created_at"]})
    return out


def flow_item_out(call: Call, row: dict[str, Any], *, detail: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"id": row["id"]}
    if detail:
        out["flowId"] = row["flow_id"]
    out.update({"datasetId": row["dataset_id"], "workflowId": None, "state": row["state"], "context": row["context"]})
    if row["context_asset"] is not None:  # IAsset is not nullable: absent when there is none
        out["contextAsset"] = asset_out(call.sim.flows.asset_view(row["context_asset"]))
    out["failureMessage"] = row["failure_message"]
    if detail:
        out["expiresAt"] = row["expires_at"]
    out.update({"createdAt": row["created_at"], "startedAt": row["started_at"], "completedAt": row["completed_at"],
                "failedAt": row["failed_at"]})
    return out


# -- flows ----------------------------------------------------------------------------------

def create_ranking(call: Call) -> dict:
    b: CreateRankingFlow = call.body
    row = call.sim.flows.create_ranking(
        call.who, name=b.name, criteria=b.criteria, min_responses=b.min_responses, max_responses=b.max_responses,
        starting_elo=b.starting_elo, audience_id=b.audience_id, validation_set_id=b.validation_set_id,
        feature_flags=_flags(b.feature_flags), serve_timeout_seconds=b.serve_timeout_seconds,
        drain_duration_seconds=b.drain_duration_seconds, serve_responses=b.serve_responses,
        serve_to_response_ratio=b.serve_to_response_ratio, target_response_count=b.target_response_count)
    return {"flowId": row["id"]}


def create_simple(call: Call) -> dict:
    b: CreateSimpleFlow = call.body
    row = call.sim.flows.create_simple(
        call.who, name=b.name, blueprint=b.blueprint, min_responses=b.min_responses, max_responses=b.max_responses,
        audience_id=b.audience_id, validation_set_id=b.validation_set_id, feature_flags=_flags(b.feature_flags),
        serve_timeout_seconds=b.serve_timeout_seconds, drain_duration_seconds=b.drain_duration_seconds,
        serve_to_response_ratio=b.serve_to_response_ratio, target_response_count=b.target_response_count)
    return {"flowId": row["id"]}


def get(call: Call) -> dict:
    return flow_out(call.sim.flows.get(call.who, call.path["flow_id"]))


def find(call: Call) -> dict:
    def item(row: dict[str, Any]) -> dict[str, Any]:
        return {"id": row["id"], "name": row["name"], "type": row["kind"], "ownerId": row["owner_id"],
                "ownerMail": row["owner_mail"], "organizationId": row["organization_id"],
                "createdAt": row["created_at"]}
    return paged(call.sim.flows.find(call.who, call.list_query()), item)


def delete(call: Call) -> None:
    call.sim.flows.delete(call.who, call.path["flow_id"])


_COLUMNS = {"criteria": "criteria", "starting_elo": "starting_elo", "min_responses": "min_responses",
            "max_responses": "max_responses", "serve_responses": "serve_responses",
            "serve_to_response_ratio": "serve_to_response_ratio", "serve_timeout_seconds": "serve_timeout_seconds",
            "drain_duration_seconds": "drain_duration_seconds", "target_response_count": "target_response_count",
            "audience_id": "audience_id", "blueprint": "blueprint"}


def _changes(body: Body) -> dict[str, Any]:
    changes = body.given(*[n for n in _COLUMNS if n in type(body).model_fields])
    if "feature_flags" in body.model_fields_set:
        changes["feature_flags"] = _flags(body.feature_flags) or []  # type: ignore[attr-defined]
    return changes


def update_ranking(call: Call) -> None:
    call.sim.flows.update(call.who, call.path["flow_id"], "Ranking", _changes(call.body))


def update_simple(call: Call) -> None:
    call.sim.flows.update(call.who, call.path["flow_id"], "Simple", _changes(call.body))


def preheat(call: Call) -> None:
    """The boost system warms up: nothing to do in a world whose crowd is always there."""
    call.sim.flows.record("flow.preheat", call.who.organization_id)


# -- items ----------------------------------------------------------------------------------

def create_ranking_item(call: Call) -> dict:
    b: CreateRankingItem = call.body
    row = call.sim.flows.create_item(call.who, call.path["flow_id"], "Ranking", dataset_id=b.dataset_id,
                                     time_to_live=b.time_to_live_in_seconds, context=b.context,
                                     context_asset=b.context_asset)
    return {"flowItemId": row["id"]}


def create_simple_item(call: Call) -> dict:
    b: CreateSimpleItem = call.body
    row = call.sim.flows.create_item(call.who, call.path["flow_id"], "Simple", dataset_id=b.dataset_id,
                                     time_to_live=b.time_to_live_in_seconds)
    return {"flowItemId": row["id"]}


def items(call: Call) -> dict:
    return paged(call.sim.flows.items(call.who, call.path["flow_id"], call.list_query()),
                 lambda row: flow_item_out(call, row))


def item(call: Call) -> dict:
    return flow_item_out(call, call.sim.flows.get_item(call.who, call.path["item_id"]), detail=True)


def stop_item(call: Call) -> None:
    call.sim.flows.stop(call.who, call.path["item_id"])


def ranking_results(call: Call) -> dict:
    r = call.sim.flows.ranking_results(call.who, call.path["item_id"])
    return {"datapoints": [{"id": d["id"], "asset": asset_out(d["asset"]), "elo": d["elo"]} for d in r["datapoints"]],
            "totalVotes": r["total_votes"]}


def vote_matrix(call: Call) -> dict:
    return call.sim.flows.vote_matrix(call.who, call.path["item_id"])


def simple_results(call: Call) -> dict:
    r = call.sim.flows.classify_results(call.who, call.path["item_id"])
    return {"datapoints": [{"datapointId": d["datapoint_id"], "asset": asset_out(d["asset"]),
                            "majorityValue": d["majority_value"], "distribution": d["distribution"],
                            "responseCount": d["response_count"]} for d in r["datapoints"]],
            "totalResponses": r["total_responses"]}


def routes(sim) -> list[Route]:
    return [
        Route("/flow", endpoint(sim, find), methods=["GET"]),
        Route("/flow/ranking", endpoint(sim, create_ranking, body=CreateRankingFlow), methods=["POST"]),
        Route("/flow/simple", endpoint(sim, create_simple, body=CreateSimpleFlow), methods=["POST"]),
        Route("/flow/ranking/item/{item_id}", endpoint(sim, item), methods=["GET"]),
        Route("/flow/ranking/item/{item_id}/results", endpoint(sim, ranking_results), methods=["GET"]),
        Route("/flow/ranking/item/{item_id}/vote-matrix", endpoint(sim, vote_matrix), methods=["GET"]),
        Route("/flow/simple/item/{item_id}/results", endpoint(sim, simple_results), methods=["GET"]),
        Route("/flow/item/{item_id}/stop", endpoint(sim, stop_item), methods=["POST"]),
        Route("/flow/ranking/{flow_id}", endpoint(sim, update_ranking, body=UpdateRankingFlow), methods=["PATCH"]),
        Route("/flow/simple/{flow_id}", endpoint(sim, update_simple, body=UpdateSimpleFlow), methods=["PATCH"]),
        Route("/flow/ranking/{flow_id}/item", endpoint(sim, create_ranking_item, body=CreateRankingItem),
              methods=["POST"]),
        Route("/flow/ranking/{flow_id}/item", endpoint(sim, items), methods=["GET"]),
        Route("/flow/simple/{flow_id}/item", endpoint(sim, create_simple_item, body=CreateSimpleItem),
              methods=["POST"]),
        Route("/flow/{flow_id}", endpoint(sim, get), methods=["GET"]),
        Route("/flow/{flow_id}", endpoint(sim, delete), methods=["DELETE"]),
        Route("/campaign/boost/preheat", endpoint(sim, preheat), methods=["POST"]),
    ]
