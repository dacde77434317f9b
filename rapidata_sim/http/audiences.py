"""Audience routes (audience.openapi.json)."""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

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


def find(call: Call) -> dict:
    return paged(call.sim.audiences.find(call.who, call.list_query()), lambda r: audience_item_out(call, r))


def user_metrics(call: Call) -> dict:
    m = call.sim.audiences.user_metrics(call.path["audience_id"], call.who)
    return {"usersPerState": m["users_per_state"], "capacity": m["capacity"]}


def routes(sim) -> list[Route]:
    return [
        Route("/audiences", endpoint(sim, find), methods=["GET"]),
        Route("/audience/unlisted/{audience_id}", endpoint(sim, get_unlisted), methods=["GET"]),
        Route("/audience/{audience_id}", endpoint(sim, get), methods=["GET"]),
        Route("/audience/{audience_id}/user-metrics", endpoint(sim, user_metrics), methods=["GET"]),
    ]
