"""Validation sets: tasks with a known answer, mixed into a job to check its labelers.

A set belongs to an organization (another organization's set does not exist for the
caller, a public one may be read); its rapids hold an asset, a payload (what is asked)
and a truth (``ClassifyTruth.correctCategories``, ``CompareTruth.winnerId``, ...).

Where the SDK takes a ``validation_set_id`` (a job definition's revision), the id must
name a set the caller can see (``check_usable``): the service answers 400 with the field
otherwise, as it does for an unknown audience or dataset.

How well the crowd does on a set is not a number of its own: it is what the crowd's
models say for the set's assets (``expected_accuracy``). A ``Classify`` behaviour answers
a classification rapid with its ``answer_distribution`` for the rapid's asset, so the
chance of a correct answer is the probability mass on the truth's ``correctCategories`` (``AttachCategoryTruth``, as the SDK
sends it);
a ``Prefer`` behaviour picks the truth's ``winnerId`` of a compare rapid with the
Bradley–Terry probability of that asset over the other, a ``noise`` share of votes being
cast at random (validation pairs offer no Both/Neither answer). Other modalities have no crowd model and report None.
"""

from __future__ import annotations

from typing import Any, Callable

from ..core.errors import NotFound, ValidationFailed
from ..core.querying import ListSpec, Page, Query
from ..core.world import World
from ..crowd.behaviour import Classify, Prefer
from .base import Principal, Service

VALIDATION_SET_LIST = ListSpec(
    filters={"id": ("id", "str"), "name": ("name", "str"), "is_public": ("is_public", "bool"),
             "owner_mail": ("owner_mail", "str"), "created_at": ("created_at", "time")},
    sorts={"name": "name", "created_at": "created_at"},
)
RAPID_LIST = ListSpec(filters={"id": ("id", "str"), "type": ("type", "str")},
                      sorts={"created_at": "created_at"}, default_sort="created_at")

#: ``IRapidPayload`` kinds (``_t``) a validation rapid may carry, and its modality.
PAYLOAD_KINDS = {"BoundingBoxPayload": "BoundingBox", "ClassifyPayload": "Classify", "ComparePayload": "Compare",
                 "FreeTextPayload": "FreeText", "LinePayload": "Line", "LocatePayload": "Locate",
                 "NamedEntityPayload": "NamedEntity", "PolygonPayload": "Polygon", "ScrubPayload": "Scrub",
                 "TranscriptionPayload": "Transcription"}
ASSET_KINDS = {"ExistingAssetInput", "TextAssetInput", "MultiAssetInput"}
TRUTH_KINDS = {"AttachCategoryTruth", "BoundingBoxTruth", "ClassifyTruth", "CompareTruth", "EmptyValidationTruth",
               "LineTruth", "LocateBoxTruth", "MultiCompareTruth", "NamedEntityTruth", "PolygonTruth", "ScrubTruth",
               "SkipTruth", "TranscriptionTruth"}


def asset_names(asset: Any) -> list[str]:
    """The names an asset input goes by, one per part (a compare rapid's two sides)."""
    if not isinstance(asset, dict):
        return []
    if asset.get("_t") == "MultiAssetInput":
        return [n for part in asset.get("assets") or [] for n in asset_names(part)]
    for key in ("text", "name", "url", "fileName"):
        if isinstance(asset.get(key), str):
            return [asset[key]]
    return []


def asset_type(asset: Any) -> str:
    """The ``AssetType`` an asset input counts as in the set's listing."""
    kind = asset.get("_t") if isinstance(asset, dict) else None
    if kind == "MultiAssetInput":
        parts = asset.get("assets") or []
        return asset_type(parts[0]) if parts else "None"
    if kind == "TextAssetInput":
        return "Text"
    name = (asset_names(asset) or [""])[0].lower()
    if name.endswith((".mp4", ".webm", ".mov", ".avi", ".mkv")):
        return "Video"
    if name.endswith((".mp3", ".wav", ".ogg", ".flac", ".m4a")):
        return "Audio"
    return "Image" if name else "None"


class ValidationSets(Service):
    def __init__(self, world: World, *, behaviour_for: Callable[[str, str | None, str], Any] | None = None) -> None:
        super().__init__(world)
        #: ``(audience_id, definition_id, at) -> Behaviour``: the crowd's models (``Crowd.behaviour_for``).
        self.behaviour_for = behaviour_for

    def create(self, who: Principal, *, name: str) -> dict[str, Any]:
        if not name.strip():
            raise ValidationFailed.field("name", "'Name' must not be empty.")
        row = self.store.insert("validation_sets", {
            "id": self.ids.new("vs"), "name": name, "organization_id": who.organization_id,
            "owner_id": who.user_id, "owner_mail": who.email, "is_public": False, "dimensions": [],
            "should_alert": True, "is_flag_overruled": False, "created_at": self.now(), "deleted": False,
        })
        self.record("validation_set.created", row["id"], name=name)
        return row

    def get(self, validation_set_id: str, who: Principal | None = None) -> dict[str, Any]:
        row = self._get_live("validation_sets", validation_set_id, "Validation set")
        if who is not None:
            self.check_org(row, who, "Validation set", public_ok=True)
        return row

    def _get_own(self, who: Principal, validation_set_id: str) -> dict[str, Any]:
        row = self.get(validation_set_id, who)
        self.check_org(row, who, "Validation set")
        return row

    def check_usable(self, who: Principal, validation_set_id: str | None, field: str = "validationSetId") -> None:
        """400 on ``field`` unless ``validation_set_id`` (if any) names a set ``who`` can see."""
        if validation_set_id is None:
            return
        try:
            self.get(validation_set_id, who)
        except NotFound as exc:
            raise ValidationFailed.field(field, exc.detail) from None

    def find(self, who: Principal, query: Query) -> Page:
        return self._page("validation_sets", VALIDATION_SET_LIST, query,
                          "deleted = 0 AND (organization_id = ? OR is_public = 1)", [who.organization_id])

    def update(self, who: Principal, validation_set_id: str, changes: dict[str, Any]) -> None:
        """PATCH semantics: ``name``, ``dimensions``, ``should_alert``, ``is_public``, ``is_flag_overruled``."""
        self._get_own(who, validation_set_id)
        if "name" in changes and not (changes["name"] or "").strip():
            raise ValidationFailed.field("name", "'Name' must not be empty.")
        if changes:
            self.store.update("validation_sets", validation_set_id, changes)
            self.record("validation_set.updated", validation_set_id, fields=sorted(changes))

    def delete(self, who: Principal, validation_set_id: str) -> None:
        self._get_own(who, validation_set_id)
        self.store.update("validation_sets", validation_set_id, {"deleted": True})
        self.record("validation_set.deleted", validation_set_id)

    # -- rapids -------------------------------------------------------------------

    def add_rapid(self, who: Principal, validation_set_id: str, rapid: dict[str, Any]) -> dict[str, Any]:
        """A validation task: ``asset``, ``payload``, ``truth`` and the optional rest, as sent."""
        self._get_own(who, validation_set_id)
        errors: dict[str, list[str]] = {}
        asset, payload, truth = rapid.get("asset"), rapid.get("payload"), rapid.get("truth")
        if not isinstance(asset, dict) or asset.get("_t") not in ASSET_KINDS:
            errors["asset"] = [f"'asset._t' must be one of {sorted(ASSET_KINDS)}."]
        if not isinstance(payload, dict) or payload.get("_t") not in PAYLOAD_KINDS:
            errors["payload"] = [f"'payload._t' must be one of {sorted(PAYLOAD_KINDS)}."]
        if truth is not None and (not isinstance(truth, dict) or truth.get("_t") not in TRUTH_KINDS):
            errors["truth"] = [f"'truth._t' must be one of {sorted(TRUTH_KINDS)}."]
        context_asset = rapid.get("context_asset")
        if context_asset is not None and (not isinstance(context_asset, dict)
                                          or context_asset.get("_t") not in ASSET_KINDS):
            errors["contextAsset"] = [f"'contextAsset._t' must be one of {sorted(ASSET_KINDS)}."]
        p = rapid.get("random_correct_probability")
        if p is not None and not 0 <= p <= 1:
            errors["randomCorrectProbability"] = ["'Random Correct Probability' must be between 0 and 1."]
        if errors:
            raise ValidationFailed(errors)
        row = self.store.insert("validation_rapids", {
            "id": self.ids.new("rapid"), "validation_set_id": validation_set_id,
            "type": PAYLOAD_KINDS[payload["_t"]], "asset": asset, "payload": payload, "truth": truth,
            "context": rapid.get("context"), "context_asset": context_asset, "random_correct_probability": p,
            "explanation": rapid.get("explanation"), "feature_flags": rapid.get("feature_flags") or [],
            "created_at": self.now(),
        })
        self.record("validation_set.rapid_added", validation_set_id, rapid=row["id"], type=row["type"])
        return row

    def rapids(self, who: Principal, validation_set_id: str, query: Query) -> Page:
        self.get(validation_set_id, who)
        return self._page("validation_rapids", RAPID_LIST, query, "validation_set_id = ?", [validation_set_id])

    def all_rapids(self, validation_set_id: str) -> list[dict[str, Any]]:
        return self.store.select("validation_rapids", "validation_set_id = ?", [validation_set_id],
                                 order_by="created_at, rowid")

    def summary(self, validation_set_id: str) -> dict[str, list[str]]:
        """What the listing says of a set's rapids: asset types, modalities, prompt types."""
        rapids = self.all_rapids(validation_set_id)
        prompts = {"Asset" if r["context_asset"] else "Text" if r["context"] else "None" for r in rapids}
        return {"asset_type": sorted({asset_type(r["asset"]) for r in rapids}),
                "modality": sorted({r["type"] for r in rapids}), "prompt_type": sorted(prompts)}

    # -- the crowd on a set ---------------------------------------------------------

    def expected_accuracy(self, validation_set_id: str, audience_id: str,
                          definition_id: str | None = None) -> dict[str, float | None]:
        """Per rapid: the chance that one of ``audience_id``'s labelers answers it correctly now,
        as the crowd's behaviour (``Classify``/``Prefer``) for that audience says."""
        self._get_live("validation_sets", validation_set_id, "Validation set")
        behaviour = self.behaviour_for(audience_id, definition_id, self.now()) if self.behaviour_for else None
        return {r["id"]: rapid_accuracy(r, behaviour, self.world.seed) for r in self.all_rapids(validation_set_id)}


def rapid_accuracy(rapid: dict[str, Any], behaviour: Any, seed: object = 0) -> float | None:
    """The chance of one correct answer to ``rapid`` under ``behaviour`` (None: no crowd model for it)."""
    truth = rapid.get("truth") or {}
    names = asset_names(rapid["asset"])
    if rapid["type"] == "Classify" and truth.get("_t") in ("AttachCategoryTruth", "ClassifyTruth"):
        model = getattr(behaviour, "classify", None) or Classify()
        options = [c if isinstance(c, str) else c.get("value") or c.get("label") for c in rapid["payload"].get("categories") or []]
        options = [o for o in options if isinstance(o, str)]
        if not options:
            return None
        dist = model.answer_distribution(seed, names[0] if names else rapid["id"], names, options)
        return sum(dist.get(c, 0.0) for c in truth.get("correctCategories") or [])
    if rapid["type"] == "Compare" and truth.get("_t") == "CompareTruth" and len(names) == 2:
        model = getattr(behaviour, "compare", None) or Prefer()
        winner = truth.get("winnerId")
        if winner not in names:
            return None
        a, b = (names[0], names[1]) if winner == names[0] else (names[1], names[0])
        p = model.p_first([a], [b])
        return (1 - model.noise) * p + model.noise / 2
    return None
