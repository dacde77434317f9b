"""Benchmarks (MRI): prompts, participants (models) and their samples.

A benchmark belongs to its organization: every member reads and changes it, another
organization gets 404 for it and for everything under it (prompts, leaderboards,
participants, samples). Leaderboards, runs and standings live in ``leaderboards``.

A participant goes ``Created`` -> (samples uploaded) -> ``Submitted`` (``submit``, which
starts a run on every leaderboard of the benchmark) <-> ``Disabled``; ``delete`` removes it
from the benchmark and from every standing.
"""

from __future__ import annotations

import json
from typing import Any, Callable

from ..core.errors import Conflict, NotFound, ValidationFailed
from ..core.querying import ListSpec, Page, Query
from ..core.world import World
from .base import Principal, Service
from .datasets import ASSET_KINDS, Datasets, check_asset

BENCHMARK_LIST = ListSpec(
    filters={"id": ("id", "str"), "name": ("name", "str"), "created_at": ("created_at", "time"),
             "is_public": ("is_public", "bool")},
    sorts={"id": "id", "name": "name", "created_at": "created_at"},
    default_sort="-created_at",
)
PROMPT_LIST = ListSpec(filters={"identifier": ("identifier", "str"), "id": ("id", "str")},
                       sorts={"created_at": "seq", "identifier": "identifier"}, default_sort="created_at")
PARTICIPANT_LIST = ListSpec(filters={"name": ("name", "str"), "status": ("status", "str")},
                            sorts={"created_at": "seq", "name": "name"}, default_sort="created_at")
SAMPLE_LIST = ListSpec(filters={"identifier": ("identifier", "str")}, sorts={"created_at": "seq"},
                       default_sort="created_at")

PARTICIPANT_STATES = ("Created", "Submittable", "Submitted", "Disabled")
COST_UNITS = ("UsdPerImage", "UsdPerVideoSecond", "UsdPerMillionTokens")
MAX_SUBMIT = 100


def _tags(tags: list[dict[str, Any]] | None, where: str, errors: dict[str, list[str]]) -> list[dict[str, Any]]:
    out = []
    for i, tag in enumerate(tags or []):
        value = tag.get("value") if isinstance(tag, dict) else None
        if not isinstance(value, str) or not value.strip():
            errors.setdefault(f"{where}[{i}].value", []).append("'Value' must not be empty.")
            continue
        out.append({"value": value, "category": tag.get("category")})
    return out


class Benchmarks(Service):
    def __init__(self, world: World, *, datasets: Datasets) -> None:
        super().__init__(world)
        self.datasets = datasets
        #: Called with (who, benchmark, participant ids) when participants are submitted
        #: (``Leaderboards.bind`` sets it: the runs start there).
        self.on_submit: Callable[[Principal, dict[str, Any], list[str]], None] = lambda *_: None

    # -- benchmarks -------------------------------------------------------------------

    def create(self, who: Principal, *, name: str, description: str | None = None,
               min_assets_per_prompt: int | None = None) -> dict[str, Any]:
        errors: dict[str, list[str]] = {}
        if not name.strip():
            errors["name"] = ["'Name' must not be empty."]
        if min_assets_per_prompt is not None and min_assets_per_prompt < 2:
            errors["minAssetsPerPrompt"] = ["'Min Assets Per Prompt' must be at least 2."]
        if errors:
            raise ValidationFailed(errors)
        now = self.now()
        row = self.store.insert("benchmarks", {
            "id": self.ids.new("bench"), "name": name, "description": description,
            "organization_id": who.organization_id, "owner_id": who.user_id, "owner_mail": who.email,
            "is_public": False, "min_assets_per_prompt": min_assets_per_prompt, "created_at": now,
            "last_updated_at": now, "deleted": False})
        self.record("benchmark.created", row["id"], name=name)
        return row

    def get(self, who: Principal | None, benchmark_id: str) -> dict[str, Any]:
        row = self._get_live("benchmarks", benchmark_id, "Benchmark")
        if who is not None:
            self.check_org(row, who, "Benchmark")
        return row

    def find(self, who: Principal, query: Query) -> Page:
        return self._page("benchmarks", BENCHMARK_LIST, query, "deleted = 0 AND organization_id = ?",
                          [who.organization_id])

    def update(self, who: Principal, benchmark_id: str, changes: dict[str, Any]) -> None:
        self.get(who, benchmark_id)
        errors: dict[str, list[str]] = {}
        if "name" in changes and not (changes["name"] or "").strip():
            errors["name"] = ["'Name' must not be empty."]
        if changes.get("min_assets_per_prompt") is not None and changes["min_assets_per_prompt"] < 2:
            errors["minAssetsPerPrompt"] = ["'Min Assets Per Prompt' must be at least 2."]
        if errors:
            raise ValidationFailed(errors)
        # PATCH: a null leaves the field as it is (the SDK sends every field, unset ones null).
        changes = {k: v for k, v in changes.items() if v is not None}
        if changes:
            self.store.update("benchmarks", benchmark_id, {**changes, "last_updated_at": self.now()})
            self.record("benchmark.updated", benchmark_id, **changes)

    def delete(self, who: Principal, benchmark_id: str) -> None:
        self.get(who, benchmark_id)
        self.store.update("benchmarks", benchmark_id, {"deleted": True})
        self.record("benchmark.deleted", benchmark_id)

    def touch(self, benchmark_id: str) -> None:
        self.store.update("benchmarks", benchmark_id, {"last_updated_at": self.now()})

    # -- prompts ----------------------------------------------------------------------

    def add_prompt(self, who: Principal, benchmark_id: str, *, identifier: str, segments: list[dict[str, Any]],
                   tags: list[dict[str, Any]] | None, origin: dict[str, Any] | None) -> dict[str, Any]:
        self.get(who, benchmark_id)
        errors: dict[str, list[str]] = {}
        if not identifier.strip():
            errors["identifier"] = ["'Identifier' must not be empty."]
        keys: set[str] = set()
        for i, seg in enumerate(segments):
            if seg.get("key") in keys:
                errors.setdefault(f"segments[{i}].key", []).append(f"Duplicate segment key '{seg.get('key')}'.")
            keys.add(seg.get("key"))
            if seg.get("kind") == "Text" and not isinstance(seg.get("text"), str):
                errors.setdefault(f"segments[{i}].text", []).append("A text segment needs 'text'.")
            elif seg.get("kind") == "Asset":
                check_asset(seg.get("asset"), f"segments[{i}].asset", errors)
            elif seg.get("kind") not in ("Text", "Asset"):
                errors.setdefault(f"segments[{i}].kind", []).append("'Kind' must be 'Text' or 'Asset'.")
        clean_tags = _tags(tags, "tags", errors)
        if origin is not None and not str(origin.get("source") or "").strip():
            errors["origin.source"] = ["'Source' must not be empty."]
        if errors:
            raise ValidationFailed(errors)
        if self.store.count("benchmark_prompts", "benchmark_id = ? AND identifier = ?", [benchmark_id, identifier]):
            raise Conflict(f"The identifier '{identifier}' already exists in benchmark '{benchmark_id}'.")
        row = self.store.insert("benchmark_prompts", {
            "id": self.ids.new("prompt"), "benchmark_id": benchmark_id, "identifier": identifier,
            "segments": segments, "tags": clean_tags, "origin": origin, "created_at": self.now(),
            "seq": self.store.count("benchmark_prompts", "benchmark_id = ?", [benchmark_id])})
        self.touch(benchmark_id)
        self.record("benchmark.prompt_added", benchmark_id, prompt=row["id"], identifier=identifier)
        return row

    def prompts(self, who: Principal, benchmark_id: str, query: Query | None = None) -> Page | list[dict[str, Any]]:
        self.get(who, benchmark_id)
        if query is None:
            return self.store.select("benchmark_prompts", "benchmark_id = ?", [benchmark_id], order_by="seq")
        return self._page("benchmark_prompts", PROMPT_LIST, query, "benchmark_id = ?", [benchmark_id])

    def _prompt(self, who: Principal, prompt_id: str) -> dict[str, Any]:
        row = self.store.get("benchmark_prompts", prompt_id)
        if row is None:
            raise NotFound(f"Prompt '{prompt_id}' was not found.")
        try:
            self.get(who, row["benchmark_id"])
        except NotFound:
            raise NotFound(f"Prompt '{prompt_id}' was not found.") from None
        return row

    def update_prompt(self, who: Principal, prompt_id: str, *, tags: list[dict[str, Any]] | None,
                      origin: dict[str, Any] | None) -> None:
        row = self._prompt(who, prompt_id)
        errors: dict[str, list[str]] = {}
        changes: dict[str, Any] = {}
        if tags is not None:
            changes["tags"] = _tags(tags, "tags", errors)
        if origin is not None:
            if not str(origin.get("source") or "").strip():
                errors["origin.source"] = ["'Source' must not be empty."]
            changes["origin"] = origin
        if errors:
            raise ValidationFailed(errors)
        if changes:
            self.store.update("benchmark_prompts", prompt_id, changes)
            self.touch(row["benchmark_id"])
            self.record("benchmark.prompt_updated", row["benchmark_id"], prompt=prompt_id, **changes)

    def tag_counts(self, who: Principal, benchmark_id: str) -> list[dict[str, Any]]:
        counts: dict[tuple[str, str | None], int] = {}
        for prompt in self.prompts(who, benchmark_id):  # type: ignore[union-attr]
            for tag in {(t["value"], t.get("category")) for t in prompt["tags"] or []}:
                counts[tag] = counts.get(tag, 0) + 1
        return [{"value": v, "category": c, "prompt_count": n} for (v, c), n in sorted(
            counts.items(), key=lambda kv: (kv[0][0], kv[0][1] or ""))]

    # -- participants -----------------------------------------------------------------

    def add_participant(self, who: Principal, benchmark_id: str, *, name: str, cost: float | None = None,
                        cost_unit: str | None = None) -> dict[str, Any]:
        self.get(who, benchmark_id)
        if not name.strip():
            raise ValidationFailed.field("name", "'Name' must not be empty.")
        self._check_cost(cost, cost_unit)
        row = self.store.insert("participants", {
            "id": self.ids.new("participant"), "benchmark_id": benchmark_id, "name": name, "status": "Created",
            "cost": cost, "cost_unit": cost_unit, "dataset_id": self.ids.new("ds"), "created_at": self.now(),
            "seq": self.store.count("participants", "benchmark_id = ?", [benchmark_id]), "deleted": False})
        self.record("participant.created", row["id"], benchmark=benchmark_id, name=name)
        return row

    @staticmethod
    def _check_cost(cost: float | None, cost_unit: str | None) -> None:
        errors: dict[str, list[str]] = {}
        if cost is not None and not cost > 0:
            errors["cost"] = ["'Cost' must be greater than 0."]
        if cost_unit is not None and cost_unit not in COST_UNITS:
            errors["costUnit"] = [f"'Cost Unit' must be one of {', '.join(COST_UNITS)}."]
        if errors:
            raise ValidationFailed(errors)

    def participants(self, who: Principal, benchmark_id: str, query: Query) -> Page:
        self.get(who, benchmark_id)
        return self._page("participants", PARTICIPANT_LIST, query, "benchmark_id = ? AND deleted = 0",
                          [benchmark_id])

    def live_participants(self, benchmark_id: str) -> list[dict[str, Any]]:
        return self.store.select("participants", "benchmark_id = ? AND deleted = 0", [benchmark_id], order_by="seq")

    def participant(self, who: Principal | None, participant_id: str) -> dict[str, Any]:
        row = self._get_live("participants", participant_id, "Participant")
        if who is not None:
            try:
                self.get(who, row["benchmark_id"])
            except NotFound:
                raise NotFound(f"Participant '{participant_id}' was not found.") from None
        return row

    def update_participant(self, who: Principal, participant_id: str, changes: dict[str, Any]) -> None:
        self.participant(who, participant_id)
        if "name" in changes and changes["name"] is not None and not changes["name"].strip():
            raise ValidationFailed.field("name", "'Name' must not be empty.")
        if "name" in changes and changes["name"] is None:
            del changes["name"]  # PATCH: null leaves the name; cost/costUnit null clear the price
        self._check_cost(changes.get("cost"), changes.get("cost_unit"))
        if changes:
            self.store.update("participants", participant_id, changes)
            self.record("participant.updated", participant_id, **changes)

    def set_disabled(self, who: Principal, participant_id: str, disabled: bool) -> None:
        row = self.participant(who, participant_id)
        if disabled:
            status = "Disabled"
        elif row["status"] != "Disabled":
            return
        else:
            status = "Submitted"
        self.store.update("participants", participant_id, {"status": status})
        self.record("participant.disabled" if disabled else "participant.enabled", participant_id)

    def delete_participant(self, who: Principal, participant_id: str) -> None:
        self.participant(who, participant_id)
        self.store.update("participants", participant_id, {"deleted": True})
        self.record("participant.deleted", participant_id)

    # -- samples ----------------------------------------------------------------------

    def add_sample(self, who: Principal, participant_id: str, *, identifier: str, asset: dict[str, Any],
                   cost: float | None = None) -> dict[str, Any]:
        participant = self.participant(who, participant_id)
        errors: dict[str, list[str]] = {}
        check_asset(asset, "asset", errors)
        if errors:
            raise ValidationFailed(errors)
        prompt = self.store.select("benchmark_prompts", "benchmark_id = ? AND identifier = ?",
                                   [participant["benchmark_id"], identifier], limit=1)
        if not prompt:
            raise ValidationFailed.field("identifier", f"The identifier '{identifier}' is not registered in "
                                                       f"benchmark '{participant['benchmark_id']}'.")
        key = json.dumps(asset, sort_keys=True)
        if self.store.count("participant_samples", "participant_id = ? AND identifier = ? AND asset_key = ?",
                            [participant_id, identifier, key]):
            raise Conflict(f"Participant '{participant_id}' already holds this sample for '{identifier}'.")
        row = self.store.insert("participant_samples", {
            "id": self.ids.new("sample"), "participant_id": participant_id, "benchmark_id": participant["benchmark_id"],
            "identifier": identifier, "prompt_id": prompt[0]["id"], "asset": asset, "asset_key": key, "cost": cost,
            "created_at": self.now(),
            "seq": self.store.count("participant_samples", "participant_id = ?", [participant_id])})
        if participant["status"] == "Created":
            self.store.update("participants", participant_id, {"status": "Submittable"})
        return row

    def samples(self, who: Principal | None, participant_id: str, query: Query | None = None) -> Any:
        self.participant(who, participant_id)
        if query is None:
            return self.store.select("participant_samples", "participant_id = ?", [participant_id], order_by="seq")
        return self._page("participant_samples", SAMPLE_LIST, query, "participant_id = ?", [participant_id])

    def asset_names(self, asset: dict[str, Any] | None) -> list[str]:
        """What an asset is called, for the crowd's preferences and for reading it back:
        each part's original file name (or its text)."""
        if not isinstance(asset, dict):
            return []
        if asset.get("_t") == "MultiAssetInput":
            return [n for part in asset.get("assets") or [] for n in self.asset_names(part)]
        if asset.get("_t") == "TextAssetInput":
            return [asset.get("text") or ""]
        name = asset.get("name") or asset.get("url") or asset.get("fileName")
        return [self.datasets.asset_original_name(name)] if isinstance(name, str) else []

    def asset_source(self, file_name: str) -> tuple[str, str | None]:
        """(original file name, source URL or None) of an uploaded asset."""
        row = self.store.get("assets", file_name)
        if row is None:
            return file_name, None
        return row["original_name"], row["source_url"]

    # -- submitting -------------------------------------------------------------------

    def submit(self, who: Principal, participant_ids: list[str]) -> dict[str, Any]:
        if not participant_ids:
            raise ValidationFailed.field("participantIds", "'Participant Ids' must not be empty.")
        if len(participant_ids) > MAX_SUBMIT:
            raise ValidationFailed.field("participantIds", f"At most {MAX_SUBMIT} participants per request.")
        rows = [self.participant(who, pid) for pid in dict.fromkeys(participant_ids)]
        benchmarks = {r["benchmark_id"] for r in rows}
        if len(benchmarks) != 1:
            raise ValidationFailed.field("participantIds", "All participants must belong to the same benchmark.")
        benchmark = self.get(who, benchmarks.pop())
        valid = invalid = 0
        underfilled = []
        minimum = benchmark["min_assets_per_prompt"]
        for row in rows:
            samples = self.store.select("participant_samples", "participant_id = ?", [row["id"]])
            if not samples:
                raise ValidationFailed.field("participantIds", f"Participant '{row['id']}' has no samples.")
            valid += len(samples)
            if minimum:
                per: dict[str, int] = {}
                for s in samples:
                    per[s["identifier"]] = per.get(s["identifier"], 0) + 1
                short = [{"identifier": i, "asset_count": n} for i, n in per.items() if n < minimum]
                if short:
                    underfilled.append({"participant_id": row["id"], "underfilled_prompts": short})
        ids = [r["id"] for r in rows if r["status"] in ("Created", "Submittable")]
        for pid in ids:
            self.store.update("participants", pid, {"status": "Submitted"})
        self.record("participants.submitted", benchmark["id"], participants=ids)
        if ids:
            self.on_submit(who, benchmark, ids)
        warning = {"min_assets_per_prompt": minimum, "underfilled": underfilled} if underfilled else None
        return {"valid": valid, "invalid": invalid, "warning": warning}
