"""Audience routes (audience.openapi.json)."""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from ..domain.audiences import FILTER_KINDS
from ..core.errors import ValidationFailed
from . import inputs
from .routing import Call, endpoint, paged


def audience_out(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"], "baseAudienceId": row["base_audience_id"], "name": row["name"],
        "description": row["description"], "status": row["status"],
        "qualifiedUserCount": row["qualified_user_count"], "filters": row["filters"], "logo": row["logo"],
        "createdAt": row["created_at"], "ownerId": row["owner_id"], "ownerMail": row["owner_mail"],
        "organizationId": row["organization_id"], "isPublic": row["is_public"], "isDistilling": False,
        "distillingCampaignId": row["distilling_campaign_id"], "graduationRule": row["graduation_rule"],
        "distillingRetrievalMode": row["retrieval_mode"], "boostLevel": row["boost_level"],
        "filter": row["filter"],
    }


def audience_item_out(call: Call, row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"], "name": row["name"], "description": row["description"], "status": row["status"],
        "qualifiedUserCount": row["qualified_user_count"], "filters": row["filters"], "logo": row["logo"],
        "createdAt": row["created_at"], "ownerMail": row["owner_mail"], "organizationId": row["organization_id"],
        "isPublic": row["is_public"], "isDistilling": False, "graduationRule": row["graduation_rule"],
        "isShared": row["organization_id"] != call.who.organization_id,
    }


def get(call: Call) -> dict:
    return audience_out(call.sim.audiences.get(call.path["audience_id"], call.who))


def get_unlisted(call: Call) -> dict:
    row = call.sim.audiences.get_unlisted(call.path["audience_id"], call.who)
    return {"id": row["id"], "name": row["name"], "description": row["description"], "createdAt": row["created_at"],
            "ownerId": row["owner_id"], "ownerMail": row["owner_mail"], "organizationId": row["organization_id"]}


def create_unlisted(call: Call) -> dict:
    b: inputs.CreateAudience = call.body
    return {"audienceId": call.sim.audiences.create_unlisted(call.who, name=b.name)["id"]}


def find(call: Call) -> dict:
    return paged(call.sim.audiences.find(call.who, call.list_query()), lambda r: audience_item_out(call, r))


def user_metrics(call: Call) -> dict:
    m = call.sim.audiences.user_metrics(call.path["audience_id"], call.who)
    return {"usersPerState": m["users_per_state"], "capacity": m["capacity"]}


def _check_filters(filters: list | None, field: str = "filters") -> None:
    for i, f in enumerate(filters or []):
        if not isinstance(f, dict) or not isinstance(f.get("_t"), str) or f["_t"] not in FILTER_KINDS:
            raise ValidationFailed.field(f"{field}[{i}]", f"'_t' must be one of {sorted(FILTER_KINDS)}.")


def create(call: Call) -> dict:
    b: inputs.CreateAudience = call.body
    _check_filters(b.filters)
    row = call.sim.audiences.create_custom(call.who, name=b.name, description=b.description, filters=b.filters,
                                           graduation_rule=b.graduation_rule)
    return {"audienceId": row["id"]}


def update(call: Call) -> dict:
    b: inputs.UpdateAudience = call.body
    changes = b.given("name", "description", "filters")
    _check_filters(changes.get("filters"))
    call.sim.audiences.update(call.who, call.path["audience_id"], changes)
    return {"recalculationId": None, "inactivitySyncId": None}


def delete(call: Call) -> None:
    call.sim.audiences.delete(call.who, call.path["audience_id"])


def recruit(call: Call) -> None:
    call.sim.audiences.start_recruiting(call.who, call.path["audience_id"])


def create_filtered(call: Call) -> dict:
    b: inputs.CreateFilteredAudience = call.body
    _check_filters([b.filter], "filter")
    return {"audienceId": call.sim.audiences.create_filtered(call.who, call.path["audience_id"], b.filter)["id"]}


def add_example(call: Call) -> dict:
    b: inputs.AddExample = call.body
    example = b.model_dump(exclude={"feature_flags"})
    example["feature_flags"] = [f.model_dump() for f in b.feature_flags or []]
    call.sim.audiences.add_example(call.who, call.path["audience_id"], example)
    return {"recalculationId": None}


def _asset_out(asset: Any) -> dict[str, Any]:
    """An ``IAssetInput`` as stored -> the ``IAsset`` the service lists (``TextAsset``, ``FileAsset``, …)."""
    kind = asset.get("_t") if isinstance(asset, dict) else None
    if kind == "MultiAssetInput":
        parts = [_asset_out(a) for a in asset.get("assets") or []]
        return {"_t": "MultiAsset", "assets": parts, "metadata": {},
                "identifier": "|".join(p["identifier"] for p in parts)}
    if kind == "TextAssetInput" and isinstance(asset.get("text"), str):
        return {"_t": "TextAsset", "text": asset["text"], "metadata": {}, "identifier": asset["text"]}
    name = next((asset[k] for k in ("name", "url", "fileName") if isinstance(asset.get(k), str)), None) \
        if kind else None
    if name is not None:
        return {"_t": "FileAsset", "fileName": name, "metadata": {}, "identifier": name}
    return {"_t": "NullAsset", "metadata": {}, "identifier": ""}


def example_out(row: dict[str, Any]) -> dict[str, Any]:
    out = {"id": row["id"], "rapidId": None, "asset": _asset_out(row["asset"]), "payload": row["payload"],
           "correctCount": 0, "incorrectCount": 0, "explanation": row["explanation"]}
    if row["truth"] is not None:  # IExampleTruth is not nullable: absent when none was given
        out["truth"] = row["truth"]
    return out


def examples(call: Call) -> dict:
    return paged(call.sim.audiences.examples(call.who, call.path["audience_id"], call.list_query()), example_out)


def delete_example(call: Call) -> dict:
    call.sim.audiences.delete_example(call.who, call.path["example_id"])
    return {}


def routes(sim) -> list[Route]:
    return [
        Route("/audience", endpoint(sim, create, body=inputs.CreateAudience), methods=["POST"]),
        Route("/audience/{audience_id}", endpoint(sim, update, body=inputs.UpdateAudience), methods=["PATCH"]),
        Route("/audience/{audience_id}", endpoint(sim, delete), methods=["DELETE"]),
        Route("/audience/{audience_id}/recruit", endpoint(sim, recruit), methods=["POST"]),
        Route("/audience/{audience_id}/filter", endpoint(sim, create_filtered, body=inputs.CreateFilteredAudience),
              methods=["POST"]),
        Route("/audience/{audience_id}/example", endpoint(sim, add_example, body=inputs.AddExample),
              methods=["POST"]),
        Route("/audience/{audience_id}/examples", endpoint(sim, examples), methods=["GET"]),
        Route("/audience/example/{example_id}", endpoint(sim, delete_example), methods=["DELETE"]),
        Route("/audiences", endpoint(sim, find), methods=["GET"]),
        Route("/audience/unlisted", endpoint(sim, create_unlisted, body=inputs.CreateAudience), methods=["POST"]),
        Route("/audience/unlisted/{audience_id}", endpoint(sim, get_unlisted), methods=["GET"]),
        Route("/audience/{audience_id}", endpoint(sim, get), methods=["GET"]),
        Route("/audience/{audience_id}/user-metrics", endpoint(sim, user_metrics), methods=["GET"]),
    ]
