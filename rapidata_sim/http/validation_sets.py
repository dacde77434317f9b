"""Validation set routes (validation.openapi.json; the SDK's ``client.validation``)."""

from __future__ import annotations

from typing import Any, Optional

from starlette.routing import Route

from .audiences import _asset_out
from .inputs import Body, FeatureFlag
from .routing import Call, endpoint, paged


class CreateValidationSet(Body):
    name: str


class UpdateValidationSet(Body):
    # PATCH: a field left out is unchanged; none of them is nullable on the service.
    name: str = None  # type: ignore[assignment]
    dimensions: list[str] = None  # type: ignore[assignment]
    should_alert: bool = None  # type: ignore[assignment]
    is_public: bool = None  # type: ignore[assignment]
    is_flag_overruled: bool = None  # type: ignore[assignment]


class AddValidationRapid(Body):
    asset: dict[str, Any]
    payload: dict[str, Any]
    truth: Optional[dict[str, Any]] = None
    random_correct_probability: Optional[float] = None
    explanation: Optional[str] = None
    context: Optional[str] = None
    context_asset: Optional[dict[str, Any]] = None
    feature_flags: Optional[list[FeatureFlag]] = None


def validation_set_out(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"], "isPublic": row["is_public"], "ownerMail": row["owner_mail"],
            "organizationId": row["organization_id"], "ownerId": row["owner_id"],
            "dimensions": row["dimensions"] or [], "createdAt": row["created_at"]}


def validation_set_item_out(call: Call, row: dict[str, Any]) -> dict[str, Any]:
    summary = call.sim.validation_sets.summary(row["id"])
    return {"id": row["id"], "name": row["name"], "assetType": summary["asset_type"],
            "modality": summary["modality"], "promptType": summary["prompt_type"],
            "dimensions": row["dimensions"] or [], "isPublic": row["is_public"], "ownerId": row["owner_id"],
            "ownerMail": row["owner_mail"], "organizationId": row["organization_id"],
            "createdAt": row["created_at"]}


def rapid_out(row: dict[str, Any]) -> dict[str, Any]:
    out = {"id": row["id"], "type": row["type"], "asset": _asset_out(row["asset"]), "payload": row["payload"],
           "context": row["context"], "correctValidationCount": 0, "invalidValidationCount": 0,
           "explanation": row["explanation"], "randomCorrectProbability": row["random_correct_probability"],
           "state": "Labeling"}
    if row["truth"] is not None:  # IValidationTruth is not nullable: absent when none was given
        out["truth"] = row["truth"]
    if row["context_asset"] is not None:
        out["contextAsset"] = _asset_out(row["context_asset"])
    return out


def create(call: Call) -> dict:
    b: CreateValidationSet = call.body
    return {"validationSetId": call.sim.validation_sets.create(call.who, name=b.name)["id"]}


def get(call: Call) -> dict:
    return validation_set_out(call.sim.validation_sets.get(call.path["validation_set_id"], call.who))


def find(call: Call) -> dict:
    return paged(call.sim.validation_sets.find(call.who, call.list_query()),
                 lambda row: validation_set_item_out(call, row))


def update(call: Call) -> None:
    b: UpdateValidationSet = call.body
    call.sim.validation_sets.update(call.who, call.path["validation_set_id"],
                                    b.given("name", "dimensions", "should_alert", "is_public", "is_flag_overruled"))


def delete(call: Call) -> None:
    call.sim.validation_sets.delete(call.who, call.path["validation_set_id"])


def add_rapid(call: Call) -> None:
    b: AddValidationRapid = call.body
    rapid = b.model_dump(exclude={"feature_flags"})
    rapid["feature_flags"] = [f.model_dump() for f in b.feature_flags or []]
    call.sim.validation_sets.add_rapid(call.who, call.path["validation_set_id"], rapid)


def rapids(call: Call) -> dict:
    return paged(call.sim.validation_sets.rapids(call.who, call.path["validation_set_id"], call.list_query()),
                 rapid_out)


def routes(sim) -> list[Route]:
    e = lambda fn, **kw: endpoint(sim, fn, **kw)  # noqa: E731
    return [
        Route("/validation-set", e(create, body=CreateValidationSet), methods=["POST"]),
        Route("/validation-sets", e(find), methods=["GET"]),
        Route("/validation-set/{validation_set_id}", e(get), methods=["GET"]),
        Route("/validation-set/{validation_set_id}", e(update, body=UpdateValidationSet), methods=["PATCH"]),
        Route("/validation-set/{validation_set_id}", e(delete), methods=["DELETE"]),
        Route("/validation-set/{validation_set_id}/rapid", e(add_rapid, body=AddValidationRapid), methods=["POST"]),
        Route("/validation-set/{validation_set_id}/rapids", e(rapids), methods=["GET"]),
    ]
