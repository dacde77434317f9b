"""The main rows of a world, typed: what ``Store`` reads back for a signal, run, job, job
definition, revision and audience (the columns of ``store.SCHEMA``, with JSON decoded and
booleans as ``bool``). Services return these; ``tests/unit/test_rows.py`` keeps them equal to
the schema. Timestamps are ``clock.iso`` strings; ``None`` where a column may be empty.
"""

from __future__ import annotations

from typing import Any, TypedDict


class SignalRow(TypedDict):
    id: str
    name: str
    description: str | None
    audience_id: str
    job_definition_id: str
    revision_number: int | None  # None: the definition's latest revision at each firing
    interval_seconds: int
    next_run_at: str
    last_run_at: str | None
    is_paused: bool
    is_public: bool
    owner_id: str
    owner_mail: str
    organization_id: str
    created_at: str
    pending_triggers: int  # manual triggers waiting to start
    pending_trigger_at: str | None
    last_job_id: str | None
    buffered_at: str | None  # the overlap policy ``buffer_one``'s held firing
    deleted: bool


class RunRow(TypedDict):
    id: str
    signal_id: str
    trigger_source: str  # Scheduled | Manual
    status: str  # Running | Completed | Failed | Skipped
    started_at: str
    audience_job_id: str | None
    completed_at: str | None
    result_file_name: str | None
    failure_message: str | None
    skipped_reason: str | None  # scheduling.skips


class JobRow(TypedDict):
    id: str
    name: str
    definition_id: str
    revision_number: int
    audience_id: str
    pipeline_id: str
    state: str  # Running | Completed | Failed | Paused | ManualApproval | SpendLimited | Queued
    is_public: bool
    owner_id: str
    owner_mail: str
    organization_id: str
    created_at: str
    completed_at: str | None
    failed_at: str | None
    failure_message: str | None
    completes_at: str | None  # when the crowd is done (the scheduler's due instant)
    plan: dict[str, Any]  # domain.job_plans: how the crowd answers it
    preceding_job_id: str | None
    deleted: bool


class DefinitionRow(TypedDict):
    id: str
    name: str
    definition_type: str
    owner_id: str
    owner_mail: str
    organization_id: str
    is_public: bool
    created_at: str
    latest_revision: int
    deleted: bool


class RevisionRow(TypedDict):
    definition_id: str
    revision_number: int
    state: str
    pipeline_id: str
    dataset_id: str
    workflow: dict[str, Any]
    referee: dict[str, Any]
    feature_flags: list[Any] | None
    campaign_feature_flags: list[Any] | None
    aggregator_type: str | None
    validation_set_id: str | None
    base_revision_number: int | None
    created_at: str
    created_by_id: str
    created_by_mail: str


class AudienceRow(TypedDict):
    id: str
    name: str
    description: str | None
    status: str  # Created | Pending | Recruiting | Ready
    organization_id: str
    owner_id: str
    owner_mail: str
    is_public: bool
    filters: list[dict[str, Any]] | None
    graduation_rule: dict[str, Any] | None
    created_at: str
    qualified_user_count: int
    users_per_state: dict[str, int] | None
    capacity: str
    labeling_seconds: int | None  # a fixed time per job, else the crowd's rate decides
    population: dict[str, Any] | None
    recruiting_started_at: str | None
    ready_at: str | None
    retrieval_mode: str | None
    boost_level: str | None
    distilling_campaign_id: str | None
    base_audience_id: str | None  # a filtered audience's base
    logo: str | None
    filter: dict[str, Any] | None
    is_distilling: bool
    deleted: bool


#: Which row type each table's rows are.
ROW_TYPES: dict[str, type] = {
    "signals": SignalRow, "signal_runs": RunRow, "jobs": JobRow, "job_definitions": DefinitionRow,
    "revisions": RevisionRow, "audiences": AudienceRow,
}
