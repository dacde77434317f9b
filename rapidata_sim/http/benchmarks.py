"""Benchmark, leaderboard, participant, prompt and sample routes (leaderboard.openapi.json;
the SDK 3.27.1's ``BenchmarkApi``, ``LeaderboardApi``, ``ParticipantApi``, ``PromptApi`` and
``SampleApi`` name the paths and models)."""

from __future__ import annotations

from typing import Any, Optional

from starlette.routing import Route

from ..core.errors import ValidationFailed
from .inputs import Body, FeatureFlag, Int32
from .routing import Call, endpoint, paged

# -- bodies -----------------------------------------------------------------------------


class TagIn(Body):
    value: str
    category: Optional[str] = None


class OriginIn(Body):
    source: str


class CreateBenchmark(Body):
    name: str
    description: Optional[str] = None
    min_assets_per_prompt: Optional[Int32] = None


class UpdateBenchmark(Body):
    name: Optional[str] = None
    description: Optional[str] = None
    min_assets_per_prompt: Optional[Int32] = None


class SegmentIn(Body):
    key: str
    kind: str
    text: Optional[str] = None
    asset: Optional[dict[str, Any]] = None


class CreatePrompt(Body):
    identifier: str
    segments: Optional[list[SegmentIn]] = None
    tags: Optional[list[TagIn]] = None
    origin: Optional[OriginIn] = None


class UpdatePromptTags(Body):
    tags: Optional[list[TagIn]] = None
    origin: Optional[OriginIn] = None


class CreateParticipant(Body):
    name: str
    cost: Optional[float] = None
    cost_unit: Optional[str] = None


class UpdateParticipant(Body):
    name: Optional[str] = None
    cost: Optional[float] = None
    cost_unit: Optional[str] = None


class CreateSample(Body):
    identifier: str
    asset: dict[str, Any]
    cost: Optional[float] = None


class SubmitParticipants(Body):
    participant_ids: list[str]


class CreateLeaderboard(Body):
    benchmark_id: Optional[str] = None
    benchmark_name: Optional[str] = None
    name: str
    instruction: str
    display_instruction: Optional[str] = None
    show_prompt: bool
    show_prompt_asset: Optional[bool] = None
    response_budget: Optional[Int32] = None
    min_responses: Optional[Int32] = None
    is_inversed: Optional[bool] = None
    audience_id: Optional[str] = None
    vote_aggregation: Optional[str] = None
    included_tags: Optional[list[str]] = None
    excluded_tags: Optional[list[str]] = None
    feature_flags: Optional[list[FeatureFlag]] = None
    skip_initial_run: Optional[bool] = None


class UpdateLeaderboard(Body):
    name: Optional[str] = None
    display_instruction: Optional[str] = None
    response_budget: Optional[Int32] = None
    min_responses: Optional[Int32] = None
    vote_aggregation: Optional[str] = None


# -- rendering --------------------------------------------------------------------------


def _asset_out(call: Call, asset: Any) -> dict[str, Any]:
    """A stored ``IAssetInput`` as the ``IAsset`` the service reads back, with the metadata the
    SDK rebuilds the reference from (``sourceUrl`` for URLs, ``originalFilename`` for files)."""
    kind = asset.get("_t") if isinstance(asset, dict) else None
    if kind == "MultiAssetInput":
        parts = [_asset_out(call, a) for a in asset.get("assets") or []]
        return {"_t": "MultiAsset", "assets": parts, "metadata": {},
                "identifier": "|".join(p["identifier"] for p in parts)}
    if kind == "TextAssetInput" and isinstance(asset.get("text"), str):
        return {"_t": "TextAsset", "text": asset["text"], "metadata": {}, "identifier": asset["text"]}
    name = asset.get("name") if kind else None
    if isinstance(name, str):
        original, url = call.sim.benchmarks.asset_source(name)
        metadata = ({"sourceUrl": {"_t": "SourceUrlMetadataModel", "url": url}} if url else
                    {"originalFilename": {"_t": "OriginalFilenameMetadata", "originalFilename": original}})
        return {"_t": "FileAsset", "fileName": name, "metadata": metadata, "identifier": original}
    return {"_t": "NullAsset", "metadata": {}, "identifier": ""}


def _tags_out(tags: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    return [{"value": t["value"], "category": t.get("category")} for t in tags or []]


def benchmark_out(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"], "description": row["description"], "isPublic": row["is_public"],
            "isPublished": False, "publicationDate": None, "createdAt": row["created_at"],
            "ownerId": row["owner_id"], "ownerMail": row["owner_mail"], "organizationId": row["organization_id"],
            "initialBoostLevel": None, "scoreShift": 0.0, "scoreScale": 1.0, "forkStatus": "Ready",
            "lastUpdatedAt": row["last_updated_at"], "promptStructure": [
                {"key": "prompt", "kind": "Text", "label": "Prompt", "required": False},
                {"key": "prompt_asset", "kind": "Asset", "label": "Prompt asset", "required": False}]}


def benchmark_item_out(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"], "isManaged": False, "isPublic": row["is_public"],
            "isPublished": False, "publicationDate": None, "createdAt": row["created_at"],
            "ownerMail": row["owner_mail"], "organizationId": row["organization_id"],
            "lastUpdatedAt": row["last_updated_at"]}


def prompt_out(call: Call, row: dict[str, Any]) -> dict[str, Any]:
    segments = []
    text = None
    for seg in row["segments"] or []:
        if seg.get("kind") == "Text":
            text = seg.get("text") if seg.get("key") == "prompt" else text
            segments.append({"key": seg["key"], "kind": "Text", "originalText": seg.get("text"),
                             "englishText": seg.get("text")})
        else:
            segments.append({"key": seg["key"], "kind": "Asset", "asset": _asset_out(call, seg.get("asset"))})
    out = {"id": row["id"], "identifier": row["identifier"], "originalPrompt": text, "englishPrompt": text,
           "segments": segments, "createdAt": row["created_at"], "tags": _tags_out(row["tags"])}
    if row["origin"] is not None:  # not nullable: absent when none was given
        out["origin"] = row["origin"]
    return out


def leaderboard_out(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"], "instruction": row["instruction"],
            "displayInstruction": row["display_instruction"], "showPrompt": row["show_prompt"],
            "showPromptAsset": row["show_prompt_asset"], "isInversed": row["is_inversed"],
            "responseBudget": row["response_budget"], "minResponses": row["min_responses"],
            "audienceId": row["audience_id"], "jobDefinitionId": None, "featureFlags": row["feature_flags"] or [],
            "weight": 1.0, "scoreShift": 0.0, "scoreScale": 1.0, "isHidden": False, "isExcludedFromOverall": False,
            "voteAggregation": row["vote_aggregation"], "includedTags": row["included_tags"] or [],
            "excludedTags": row["excluded_tags"] or [], "lastUpdatedAt": row["last_updated_at"],
            "rapidContextProjection": {}, "priority": None}


def participant_out(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"], "benchmarkId": row["benchmark_id"], "status": row["status"],
            "cost": row["cost"], "costUnit": row["cost_unit"], "votesExcluded": False, "createdAt": row["created_at"],
            "family": None, "lab": None, "proprietaryName": None, "licenseType": None, "logo": None}


def run_out(call: Call, row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"], "status": call.sim.leaderboards.status(row),
            "createdAt": row["created_at"], "ownerMail": row["owner_mail"], "organizationId": row["organization_id"],
            "orderId": None, "jobId": None, "audienceId": row["audience_id"]}


def standing_out(item: dict[str, Any], *, benchmark: bool, breakdown: bool = False) -> dict[str, Any]:
    p = item["participant"]
    out = {"id": p["id"], "name": p["name"], "status": item["status"],
           "score": round(item["score"], 4) if item["score"] is not None else None,
           "wins": item["wins"], "totalMatches": item["total_matches"], "isDisabled": p["status"] == "Disabled",
           "cost": p["cost"], "costUnit": p["cost_unit"]}
    if not breakdown:
        out["responseCount"] = item["response_count"]
    if benchmark and not breakdown:
        out["isEvaluating"] = item["is_evaluating"]
        out["isPartiallyEvaluated"] = item["is_evaluating"] and item["total_matches"] > 0
    return out


def sample_out(call: Call, row: dict[str, Any], prompt: dict[str, Any] | None) -> dict[str, Any]:
    text = next((s.get("text") for s in (prompt or {}).get("segments") or [] if s.get("key") == "prompt"), None)
    return {"_t": "SampleOutput", "id": row["id"], "identifier": row["identifier"],
            "asset": _asset_out(call, row["asset"]), "originalPrompt": text, "englishPrompt": text,
            "tags": [t["value"] for t in (prompt or {}).get("tags") or []], "createdAt": row["created_at"], "votesExcluded": False}


# -- query helpers ----------------------------------------------------------------------


def _in(call: Call, name: str) -> list[str] | None:
    values = call.query.getlist(f"{name}[in]") + call.query.getlist(f"{name}[eq]")
    return values or None


def _filters(call: Call) -> dict[str, list[str] | None]:
    return {name: _in(call, name) for name in ("country", "language", "gender", "age_bucket", "occupation", "run_id")}


def _bool(call: Call, name: str) -> bool | None:
    raw = call.query.get(name)
    if raw is None or raw == "":
        return None
    if raw.lower() not in ("true", "false"):
        raise ValidationFailed.field(name, f"The value '{raw[:100]}' is not valid for {name}.")
    return raw.lower() == "true"


# -- benchmarks -------------------------------------------------------------------------


def create_benchmark(call: Call) -> dict:
    b: CreateBenchmark = call.body
    row = call.sim.benchmarks.create(call.who, name=b.name, description=b.description,
                                     min_assets_per_prompt=b.min_assets_per_prompt)
    return {"id": row["id"]}


def find_benchmarks(call: Call) -> dict:
    return paged(call.sim.benchmarks.find(call.who, call.list_query()), benchmark_item_out)


def get_benchmark(call: Call) -> dict:
    return benchmark_out(call.sim.benchmarks.get(call.who, call.path["benchmark_id"]))


def update_benchmark(call: Call) -> None:
    b: UpdateBenchmark = call.body
    call.sim.benchmarks.update(call.who, call.path["benchmark_id"],
                               b.given("name", "description", "min_assets_per_prompt"))


def delete_benchmark(call: Call) -> None:
    call.sim.benchmarks.delete(call.who, call.path["benchmark_id"])


def create_prompt(call: Call) -> dict:
    b: CreatePrompt = call.body
    row = call.sim.benchmarks.add_prompt(
        call.who, call.path["benchmark_id"], identifier=b.identifier,
        segments=[s.model_dump() for s in b.segments or []],
        tags=[t.model_dump() for t in b.tags] if b.tags is not None else None,
        origin=b.origin.model_dump() if b.origin is not None else None)
    return {"id": row["id"]}


def list_prompts(call: Call) -> dict:
    return paged(call.sim.benchmarks.prompts(call.who, call.path["benchmark_id"], call.list_query()),
                 lambda row: prompt_out(call, row))


def update_prompt_tags(call: Call) -> None:
    b: UpdatePromptTags = call.body
    call.sim.benchmarks.update_prompt(
        call.who, call.path["prompt_id"], tags=[t.model_dump() for t in b.tags] if b.tags is not None else None,
        origin=b.origin.model_dump() if b.origin is not None else None)


def tag_counts(call: Call) -> dict:
    return {"tags": [{"value": t["value"], "category": t["category"], "promptCount": t["prompt_count"]}
                     for t in call.sim.benchmarks.tag_counts(call.who, call.path["benchmark_id"])]}


def list_leaderboards(call: Call) -> dict:
    return paged(call.sim.leaderboards.of_benchmark(call.who, call.path["benchmark_id"], call.list_query()),
                 leaderboard_out)


def list_participants(call: Call) -> dict:
    return paged(call.sim.benchmarks.participants(call.who, call.path["benchmark_id"], call.list_query()),
                 participant_out)


def create_participant(call: Call) -> dict:
    b: CreateParticipant = call.body
    row = call.sim.benchmarks.add_participant(call.who, call.path["benchmark_id"], name=b.name, cost=b.cost,
                                              cost_unit=b.cost_unit)
    return {"participantId": row["id"], "datasetId": row["dataset_id"]}


def benchmark_standings(call: Call) -> dict:
    table = call.sim.leaderboards.standings(call.who, benchmark_id=call.path["benchmark_id"],
                                            leaderboard_ids=_in(call, "leaderboard_id"), tags=_in(call, "tags"),
                                            filters=_filters(call))
    return {"items": [standing_out(i, benchmark=True) for i in table["items"]],
            "totalResponses": table["total_responses"]}


def benchmark_matrix(call: Call) -> dict:
    m = call.sim.leaderboards.matrix(call.who, benchmark_id=call.path["benchmark_id"],
                                     leaderboard_ids=_in(call, "leaderboard_id"),
                                     participant_ids=_in(call, "participant_id"), tags=_in(call, "tags"),
                                     filters=_filters(call), weighted=_bool(call, "use_weighted_scoring"))
    return {"index": m["names"], "columns": m["names"], "data": m["data"], "votes": m["votes"]}


def benchmark_demographics(call: Call) -> dict:
    d = call.sim.leaderboards.demographics(call.who, call.path["benchmark_id"],
                                           leaderboard_ids=_in(call, "leaderboard_id"), tags=_in(call, "tags"),
                                           filters=_filters(call))
    keys = {"AgeBucket": "ageBucket", "Gender": "gender", "Occupation": "occupation", "Country": "country",
            "Language": "language"}
    return {"totalVotes": d["total_votes"], "dimensions": {keys[k]: v for k, v in d["dimensions"].items()}}


def benchmark_breakdown(call: Call) -> dict:
    dimension = call.query.get("dimension") or ""
    d = call.sim.leaderboards.breakdown(call.who, call.path["benchmark_id"], dimension,
                                        leaderboard_ids=_in(call, "leaderboard_id"), tags=_in(call, "tags"),
                                        filters=_filters(call))
    return {"dimension": d["dimension"],
            "global": [standing_out(i, benchmark=True, breakdown=True) for i in d["global"]["items"]],
            "segments": [{"value": s["value"], "votes": s["votes"],
                          "items": [standing_out(i, benchmark=True, breakdown=True) for i in s["table"]["items"]]}
                         for s in d["segments"]]}


# -- leaderboards -----------------------------------------------------------------------


def create_leaderboard(call: Call) -> dict:
    b: CreateLeaderboard = call.body
    row = call.sim.leaderboards.create(
        call.who, benchmark_id=b.benchmark_id, benchmark_name=b.benchmark_name, name=b.name,
        instruction=b.instruction, display_instruction=b.display_instruction, show_prompt=b.show_prompt,
        show_prompt_asset=bool(b.show_prompt_asset), is_inversed=bool(b.is_inversed),
        response_budget=b.response_budget, min_responses=b.min_responses, audience_id=b.audience_id,
        vote_aggregation=b.vote_aggregation, included_tags=b.included_tags, excluded_tags=b.excluded_tags,
        feature_flags=[f.model_dump() for f in b.feature_flags or []], skip_initial_run=bool(b.skip_initial_run))
    return {"id": row["id"], "benchmarkId": row["benchmark_id"], "showPrompt": row["show_prompt"],
            "showPromptAsset": row["show_prompt_asset"], "responseBudget": row["response_budget"],
            "minResponses": row["min_responses"], "isInversed": row["is_inversed"],
            "voteAggregation": row["vote_aggregation"]}


def get_leaderboard(call: Call) -> dict:
    return leaderboard_out(call.sim.leaderboards.get(call.who, call.path["leaderboard_id"]))


def update_leaderboard(call: Call) -> None:
    b: UpdateLeaderboard = call.body
    call.sim.leaderboards.update(call.who, call.path["leaderboard_id"], b.given(
        "name", "display_instruction", "response_budget", "min_responses", "vote_aggregation"))


def delete_leaderboard(call: Call) -> None:
    call.sim.leaderboards.delete(call.who, call.path["leaderboard_id"])


def leaderboard_runs(call: Call) -> dict:
    return paged(call.sim.leaderboards.runs(call.who, call.path["leaderboard_id"], call.list_query()),
                 lambda row: run_out(call, row))


def leaderboard_standings(call: Call) -> dict:
    table = call.sim.leaderboards.standings(call.who, leaderboard_id=call.path["leaderboard_id"],
                                            tags=_in(call, "tags"), filters=_filters(call))
    return {"items": [standing_out(i, benchmark=False) for i in table["items"]],
            "totalResponses": table["total_responses"]}


def leaderboard_matrix(call: Call) -> dict:
    m = call.sim.leaderboards.matrix(call.who, leaderboard_id=call.path["leaderboard_id"], tags=_in(call, "tags"),
                                     filters=_filters(call), weighted=_bool(call, "use_weighted_scoring"))
    return {"index": m["names"], "columns": m["names"], "data": m["data"]}


# -- participants and samples -----------------------------------------------------------


def get_participant(call: Call) -> dict:
    return participant_out(call.sim.benchmarks.participant(call.who, call.path["participant_id"]))


def update_participant(call: Call) -> None:
    b: UpdateParticipant = call.body
    call.sim.benchmarks.update_participant(call.who, call.path["participant_id"],
                                           b.given("name", "cost", "cost_unit"))


def delete_participant(call: Call) -> None:
    call.sim.benchmarks.delete_participant(call.who, call.path["participant_id"])


def disable_participant(call: Call) -> None:
    call.sim.benchmarks.set_disabled(call.who, call.path["participant_id"], True)


def enable_participant(call: Call) -> None:
    call.sim.benchmarks.set_disabled(call.who, call.path["participant_id"], False)


def _submitted(result: dict[str, Any]) -> dict[str, Any]:
    warning = result["warning"]
    return {"validDatapoints": result["valid"], "invalidDatapoints": result["invalid"],
            "minAssetsPerPromptWarning": None if warning is None else {
                "minAssetsPerPrompt": warning["min_assets_per_prompt"],
                "underfilledParticipants": [
                    {"participantId": u["participant_id"],
                     "underfilledPrompts": [{"identifier": p["identifier"], "assetCount": p["asset_count"]}
                                            for p in u["underfilled_prompts"]]}
                    for u in warning["underfilled"]]}}


def submit_participants(call: Call) -> dict:
    b: SubmitParticipants = call.body
    return _submitted(call.sim.benchmarks.submit(call.who, b.participant_ids))


def submit_participant(call: Call) -> dict:
    result = _submitted(call.sim.benchmarks.submit(call.who, [call.path["participant_id"]]))
    return {"validDatapoints": result["validDatapoints"], "invalidDatapoints": result["invalidDatapoints"]}


def create_sample(call: Call) -> dict:
    b: CreateSample = call.body
    row = call.sim.benchmarks.add_sample(call.who, call.path["participant_id"], identifier=b.identifier,
                                         asset=b.asset, cost=b.cost)
    return {"id": row["id"]}


def list_samples(call: Call) -> dict:
    page = call.sim.benchmarks.samples(call.who, call.path["participant_id"], call.list_query())
    return paged(page, lambda row: sample_out(call, row, call.sim.store.get("benchmark_prompts", row["prompt_id"])))


def routes(sim) -> list[Route]:
    bid = "/benchmark/{benchmark_id}"
    lid = "/leaderboard/{leaderboard_id}"
    pid = "/participant/{participant_id}"
    return [
        Route("/benchmark", endpoint(sim, create_benchmark, body=CreateBenchmark), methods=["POST"]),
        Route("/benchmarks", endpoint(sim, find_benchmarks), methods=["GET"]),
        Route(bid, endpoint(sim, get_benchmark), methods=["GET"]),
        Route(bid, endpoint(sim, update_benchmark, body=UpdateBenchmark), methods=["PATCH"]),
        Route(bid, endpoint(sim, delete_benchmark), methods=["DELETE"]),
        Route(bid + "/prompt", endpoint(sim, create_prompt, body=CreatePrompt), methods=["POST"]),
        Route(bid + "/prompts", endpoint(sim, list_prompts), methods=["GET"]),
        Route(bid + "/tags", endpoint(sim, tag_counts), methods=["GET"]),
        Route(bid + "/leaderboards", endpoint(sim, list_leaderboards), methods=["GET"]),
        Route(bid + "/participants", endpoint(sim, list_participants), methods=["GET"]),
        Route(bid + "/participants", endpoint(sim, create_participant, body=CreateParticipant), methods=["POST"]),
        Route(bid + "/standings/query", endpoint(sim, benchmark_standings), methods=["GET"]),
        Route(bid + "/standings/breakdown", endpoint(sim, benchmark_breakdown), methods=["GET"]),
        Route(bid + "/matrix/query", endpoint(sim, benchmark_matrix), methods=["GET"]),
        Route(bid + "/demographics", endpoint(sim, benchmark_demographics), methods=["GET"]),
        Route("/benchmark-prompt/{prompt_id}/tags", endpoint(sim, update_prompt_tags, body=UpdatePromptTags),
              methods=["PUT"]),
        Route("/leaderboard", endpoint(sim, create_leaderboard, body=CreateLeaderboard), methods=["POST"]),
        Route(lid, endpoint(sim, get_leaderboard), methods=["GET"]),
        Route(lid, endpoint(sim, update_leaderboard, body=UpdateLeaderboard), methods=["PATCH"]),
        Route(lid, endpoint(sim, delete_leaderboard), methods=["DELETE"]),
        Route(lid + "/runs", endpoint(sim, leaderboard_runs), methods=["GET"]),
        Route(lid + "/standings/query", endpoint(sim, leaderboard_standings), methods=["GET"]),
        Route(lid + "/matrix/query", endpoint(sim, leaderboard_matrix), methods=["GET"]),
        Route("/participants/submit", endpoint(sim, submit_participants, body=SubmitParticipants),
              methods=["POST"]),
        Route("/participants/{participant_id}/submit", endpoint(sim, submit_participant), methods=["POST"]),
        Route(pid, endpoint(sim, get_participant), methods=["GET"]),
        Route(pid, endpoint(sim, update_participant, body=UpdateParticipant), methods=["PATCH"]),
        Route(pid, endpoint(sim, delete_participant), methods=["DELETE"]),
        Route(pid + "/disable", endpoint(sim, disable_participant), methods=["POST"]),
        Route(pid + "/enable", endpoint(sim, enable_participant), methods=["POST"]),
        Route(pid + "/sample", endpoint(sim, create_sample, body=CreateSample), methods=["POST"]),
        Route(pid + "/samples", endpoint(sim, list_samples), methods=["GET"]),
    ]
