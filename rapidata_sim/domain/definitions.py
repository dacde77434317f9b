"""Job definitions and their revisions.

A definition is a name plus an append-only list of revisions; each revision
pins a workflow, a referee, a dataset and feature flags. A signal or a job
names a revision, or takes the latest one at the moment it is used.
"""

from __future__ import annotations

from typing import Any

from ..core.errors import Conflict, NotFound, ValidationFailed
from ..core.querying import ListSpec, Page, Query
from ..core.rows import DefinitionRow, RevisionRow
from ..core.world import World
from .base import Principal, Service
from .validation_sets import ValidationSets

DEFINITION_LIST = ListSpec(
    filters={
        "definition_id": ("id", "str"), "name": ("name", "str"), "definition_type": ("definition_type", "str"),
        "created_at": ("created_at", "time"), "owner_id": ("owner_id", "str"), "owner_mail": ("owner_mail", "str"),
    },
    sorts={"name": "name", "created_at": "created_at"},
)
REVISION_LIST = ListSpec(
    filters={"revision_number": ("revision_number", "int"), "created_at": ("created_at", "time"),
             "state": ("state", "str")},
    sorts={"revision_number": "revision_number", "created_at": "created_at"},
    default_sort="revision_number",
)

WORKFLOW_KINDS = {"SimpleWorkflow", "GroupedRankingWorkflow", "RankingWorkflow", "CompareWorkflow",
                  "EvaluationWorkflow"}
REFEREE_KINDS = {"NaiveReferee", "EarlyStoppingReferee", "QuorumReferee", "BudgetReferee"}
RAPID_TO_TYPE = {"Compare": "Compare", "Classify": "Classify", "FreeText": "FreeText",
                 "Transcription": "Transcription", "Locate": "Locate", "Line": "Line", "Scrub": "Scrub",
                 "BoundingBox": "BoundingBox", "Polygon": "Polygon", "NamedEntity": "NamedEntity"}
COST_PER_RESPONSE = 0.01  # documented stand-in: the real price list is not public


#: A blueprint's fields that a rapid holds as ``{"literal": ...}``.
LITERAL_FIELDS = ("criteria", "title", "question", "target")


def simple_rapid(workflow: dict[str, Any]) -> dict[str, Any]:
    """A SimpleWorkflow's task, in the ``rapid`` form SDK 3.26+ send (``{"_t": "Compare",
    "criteria": {"literal": ...}, ...}``). SDKs 3.20-3.25 send a ``blueprint`` instead, as the
    service's published spec still documents (``{"_t": "CompareBlueprint", "criteria": ...}``,
    a classification's categories listed in it rather than per datapoint): that is read as the
    rapid it describes. The workflow is stored, and served back, as the client sent it."""
    rapid = workflow.get("rapid")
    if isinstance(rapid, dict):
        return rapid
    blueprint = workflow.get("blueprint")
    if not isinstance(blueprint, dict) or not isinstance(blueprint.get("_t"), str):
        return {}
    out: dict[str, Any] = {"_t": blueprint["_t"].removesuffix("Blueprint"), "asset": {"segment": "asset"}}
    for key, value in blueprint.items():
        if key != "_t":
            out[key] = {"literal": value} if key in LITERAL_FIELDS and isinstance(value, str) else value
    return out


def definition_type(workflow: dict[str, Any]) -> str:
    kind = workflow.get("_t")
    if kind == "SimpleWorkflow":
        return RAPID_TO_TYPE.get(simple_rapid(workflow).get("_t"), "Unknown")
    return {"GroupedRankingWorkflow": "GroupedRanking", "RankingWorkflow": "Ranking",
            "CompareWorkflow": "Compare", "EvaluationWorkflow": "Evaluation"}.get(kind, "Unknown")


def votes_per_datapoint(referee: dict[str, Any]) -> int:
    """How many responses a datapoint collects at most under this referee."""
    kind = referee.get("_t")
    if kind == "NaiveReferee":
        return int(referee.get("totalVotes") or 1)
    return int(referee.get("maxVotes") or referee.get("totalVotes") or 1)


def check_workflow_referee(workflow: Any, referee: Any) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not isinstance(workflow, dict) or workflow.get("_t") not in WORKFLOW_KINDS:
        errors["workflow"] = [f"'workflow._t' must be one of {sorted(WORKFLOW_KINDS)}."]
    elif workflow["_t"] == "SimpleWorkflow" and not simple_rapid(workflow):
        errors["workflow.rapid"] = ["A SimpleWorkflow needs a 'rapid'."]
    if not isinstance(referee, dict) or referee.get("_t") not in REFEREE_KINDS:
        errors["referee"] = [f"'referee._t' must be one of {sorted(REFEREE_KINDS)}."]
    elif votes_per_datapoint(referee) < 1:
        errors["referee"] = ["The referee must ask for at least one response per datapoint."]
    return errors


class Definitions(Service):
    def __init__(self, world: World, *, validation_sets: ValidationSets | None = None) -> None:
        super().__init__(world)
        #: Checks that a revision's ``validation_set_id`` names a set the caller can see.
        self.validation_sets = validation_sets

    def create(self, who: Principal, *, name: str, workflow: dict, referee: dict, dataset_id: str,
               feature_flags: list | None = None, campaign_feature_flags: list | None = None,
               aggregator_type: str | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
        errors = check_workflow_referee(workflow, referee)
        if not name.strip():
            errors["definitionName"] = ["'Definition Name' must not be empty."]
        if not self._dataset_visible(dataset_id, who):
            errors["datasetId"] = [f"Dataset '{dataset_id}' was not found."]
        if errors:
            raise ValidationFailed(errors)
        with self.store.transaction():
            definition = self.store.insert("job_definitions", {
                "id": self.ids.new("jd"), "name": name, "definition_type": definition_type(workflow),
                "owner_id": who.user_id, "owner_mail": who.email, "organization_id": who.organization_id,
                "is_public": False, "created_at": self.now(), "latest_revision": 0, "deleted": False,
            })
            revision = self._add_revision(definition, who, workflow=workflow, referee=referee,
                                          dataset_id=dataset_id, feature_flags=feature_flags or [],
                                          campaign_feature_flags=campaign_feature_flags or [],
                                          aggregator_type=aggregator_type, base_revision_number=None)
            self.record("definition.created", definition["id"], name=name)
        return self.store.get("job_definitions", definition["id"]), revision

    def _dataset_visible(self, dataset_id: str, who: Principal) -> bool:
        row = self.store.get("datasets", dataset_id)
        return row is not None and row["organization_id"] == who.organization_id

    def _add_revision(self, definition: dict, who: Principal, **fields: Any) -> dict[str, Any]:
        number = definition["latest_revision"] + 1
        revision = self.store.insert("revisions", {
            "definition_id": definition["id"], "revision_number": number, "state": "Completed",
            "pipeline_id": self.ids.new("pl"), "created_at": self.now(), "created_by_id": who.user_id,
            "created_by_mail": who.email, **fields,
        })
        self.store.update("job_definitions", definition["id"], {"latest_revision": number})
        definition["latest_revision"] = number
        return revision

    def get(self, definition_id: str, who: Principal | None = None) -> DefinitionRow:
        row = self._get_live("job_definitions", definition_id, "Job definition")
        if who is not None:
            self.check_org(row, who, "Job definition", public_ok=True)
        return row

    def find(self, who: Principal, query: Query) -> Page:
        return self._page("job_definitions", DEFINITION_LIST, query, "deleted = 0 AND organization_id = ?",
                          [who.organization_id])

    def rename(self, who: Principal, definition_id: str, name: str) -> None:
        row = self.get(definition_id, who)
        self.check_org(row, who, "Job definition")
        if not name.strip():
            raise ValidationFailed.field("name", "'Name' must not be empty.")
        self.store.update("job_definitions", definition_id, {"name": name})

    def delete(self, who: Principal, definition_id: str) -> None:
        row = self.get(definition_id, who)
        self.check_org(row, who, "Job definition")
        self.store.update("job_definitions", definition_id, {"deleted": True})
        self.record("definition.deleted", definition_id)

    # -- revisions ----------------------------------------------------------------

    def revision(self, who: Principal, definition_id: str, number: int | None = None) -> RevisionRow:
        """Revision ``number``, or the latest one."""
        definition = self.get(definition_id, who)
        number = definition["latest_revision"] if number is None else number
        row = self.store.get("revisions", (definition_id, number))
        if row is None:
            raise NotFound(f"Revision {number} of job definition '{definition_id}' was not found.")
        return row

    def revisions(self, who: Principal, definition_id: str, query: Query) -> Page:
        self.get(definition_id, who)
        return self._page("revisions", REVISION_LIST, query, "definition_id = ?", [definition_id])

    def create_revision(self, who: Principal, definition_id: str, *, changes: dict[str, Any],
                        base_revision_number: int | None = None,
                        require_latest: bool = False) -> dict[str, Any]:
        """A new revision: fields not given are inherited from the latest revision.

        ``require_latest`` makes it conditional: 409 (with ``latestRevisionNumber``)
        unless ``base_revision_number`` is still the latest.
        """
        definition = self.get(definition_id, who)
        self.check_org(definition, who, "Job definition")
        latest = self.store.get("revisions", (definition_id, definition["latest_revision"]))
        errors: dict[str, list[str]] = {}
        if ("workflow" in changes) != ("referee" in changes):
            errors["workflow"] = ["'workflow' and 'referee' must be given together."]
        elif "workflow" in changes:
            errors.update(check_workflow_referee(changes["workflow"], changes["referee"]))
        if "dataset_id" in changes and not self._dataset_visible(changes["dataset_id"], who):
            errors["datasetId"] = [f"Dataset '{changes['dataset_id']}' was not found."]
        if changes.get("validation_set_id") is not None and self.validation_sets is not None:
            try:
                self.validation_sets.check_usable(who, changes["validation_set_id"])
            except ValidationFailed as exc:
                errors.update(exc.errors)
        if base_revision_number is not None and self.store.get(
                "revisions", (definition_id, base_revision_number)) is None:
            errors["baseRevisionNumber"] = [f"Revision {base_revision_number} does not exist."]
        if require_latest and base_revision_number is None:
            errors["requireLatest"] = ["'requireLatest' requires 'baseRevisionNumber'."]
        if errors:
            raise ValidationFailed(errors)
        if require_latest and base_revision_number != definition["latest_revision"]:
            raise RevisionConflict(definition_id, definition["latest_revision"])
        inherited = {key: latest[key] for key in ("workflow", "referee", "dataset_id", "feature_flags",
                                                   "campaign_feature_flags", "aggregator_type",
                                                   "validation_set_id")}
        inherited.update({k: v for k, v in changes.items() if k in inherited})
        with self.store.transaction():
            revision = self._add_revision(definition, who, base_revision_number=base_revision_number, **inherited)
            if "workflow" in changes:
                self.store.update("job_definitions", definition_id,
                                  {"definition_type": definition_type(inherited["workflow"])})
            self.record("definition.revised", definition_id, revision=revision["revision_number"],
                        base=base_revision_number)
        return revision

    def cost_estimate(self, who: Principal, definition_id: str) -> dict[str, Any]:
        revision = self.revision(who, definition_id)
        datapoints = self.store.count("datapoints", "dataset_id = ?", [revision["dataset_id"]])
        responses = datapoints * votes_per_datapoint(revision["referee"])
        return {"estimated_cost": round(responses * COST_PER_RESPONSE, 4), "cost_per_response": COST_PER_RESPONSE,
                "datapoint_count": datapoints, "required_responses": responses}


class RevisionConflict(Conflict):
    """``save(require_latest=True)`` lost a race: someone saved a newer revision."""

    def __init__(self, definition_id: str, latest: int) -> None:
        super().__init__(f"Job definition '{definition_id}' has a newer revision ({latest}).")
        self.latest_revision_number = latest
