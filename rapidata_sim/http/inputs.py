"""Request bodies as the service accepts them (camelCase, strict JSON types).

Validation here is about shape and type; rules about meaning (interval >= 60,
the audience must exist) belong to the domain, which the Python API shares.
"""

from __future__ import annotations

from typing import Annotated, Any, Optional

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from ..core.querying import strict_int


#: The service's integers are int32: a larger one is a 400, never an overflow further in.
INT32_MIN, INT32_MAX = -2**31, 2**31 - 1
Int32 = Annotated[int, Field(ge=INT32_MIN, le=INT32_MAX)]


def int32(text: str) -> int | None:
    """``text`` as the service reads an int32 (a query or path value); None if it is not one."""
    value = strict_int(text)
    return value if value is not None and INT32_MIN <= value <= INT32_MAX else None


class Body(BaseModel):
    # defer_build: a model's validator is built on its first request, not when the server starts
    # (building all of them at import was ~100 ms of every `serve` start).
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", defer_build=True)

    def given(self, *names: str) -> dict[str, Any]:
        """The named fields the client actually sent (PATCH semantics)."""
        return {n: getattr(self, n) for n in names if n in self.model_fields_set}


class FeatureFlag(Body):
    key: str
    value: str


class CreateSignal(Body):
    name: str
    audience_id: str
    job_definition_id: str
    interval_seconds: Int32
    is_public: bool = False
    description: Optional[str] = None
    revision_number: Optional[Int32] = None


class UpdateSignal(Body):
    # Not nullable: the SDK omits them when unchanged; an explicit null is a type error.
    name: str = None  # type: ignore[assignment]
    interval_seconds: Int32 = None  # type: ignore[assignment]
    description: Optional[str] = None


class CreateDataset(Body):
    name: str
    schema_: Optional[list[dict[str, Any]]] = Field(default=None, alias="schema")


class CreateDatapoint(Body):
    segments: Optional[list[dict[str, Any]]] = None
    # The spec's older flat shape, accepted as well:
    asset: Optional[dict[str, Any]] = None
    context: Optional[str] = None
    context_asset: Optional[dict[str, Any]] = None
    transcription: Optional[str] = None
    sort_index: Optional[Int32] = None
    group: Optional[str] = None
    private_metadata: Optional[dict[str, str]] = None


class DatasetGroup(Body):
    group: str
    segments: list[dict[str, Any]] = []
    context: Optional[str] = None


class BatchUpload(Body):
    urls: list[str]
    correlation_id: Optional[str] = None
    compression: Optional[dict[str, Any]] = None


class ShortenContext(Body):
    items: list[dict[str, Any]]


class CreateJobDefinition(Body):
    definition_name: str
    workflow: dict[str, Any]
    referee: dict[str, Any]
    dataset_id: str
    feature_flags: Optional[list[FeatureFlag]] = None
    rapid_feature_flags: Optional[list[FeatureFlag]] = None
    campaign_feature_flags: Optional[list[FeatureFlag]] = None
    aggregator_type: Optional[str] = None


class CreateRevision(Body):
    workflow: Optional[dict[str, Any]] = None
    referee: Optional[dict[str, Any]] = None
    dataset_id: Optional[str] = None
    feature_flags: Optional[list[FeatureFlag]] = None
    rapid_feature_flags: Optional[list[FeatureFlag]] = None
    campaign_feature_flags: Optional[list[FeatureFlag]] = None
    aggregator_type: Optional[str] = None
    validation_set_id: Optional[str] = None
    base_revision_number: Optional[Int32] = None
    require_latest: Optional[bool] = None


class UpdateJobDefinition(Body):
    name: str


class CreateJob(Body):
    job_definition_id: str
    audience_id: str
    revision_number: Optional[Int32] = None
    name: Optional[str] = None
    priority: Optional[Int32] = None
    preceding_job_id: Optional[str] = None
    notify_owner_on_completion: Optional[bool] = None
    check_for_explicit_content: Optional[bool] = None
    experiment_id: Optional[str] = None


class PreliminaryDownload(Body):
    send_email: bool = False


class CreateAudience(Body):
    name: str
    description: Optional[str] = None
    filters: Optional[list[dict[str, Any]]] = None
    graduation_rule: Optional[dict[str, Any]] = None


class UpdateAudience(Body):
    name: str = None  # type: ignore[assignment]
    description: Optional[str] = None
    filters: list[dict[str, Any]] = None  # type: ignore[assignment]


class CreateFilteredAudience(Body):
    filter: dict[str, Any]


class AddExample(Body):
    asset: dict[str, Any]
    payload: dict[str, Any]
    truth: Optional[dict[str, Any]] = None
    random_correct_probability: float
    explanation: Optional[str] = None
    context: Optional[str] = None
    context_asset: Optional[dict[str, Any]] = None
    feature_flags: Optional[list[FeatureFlag]] = None
