"""Dataset, datapoint and asset routes (dataset.openapi.json, asset.openapi.json)."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import UploadFile
from starlette.routing import Route

from ..core.errors import ValidationFailed
from . import inputs
from .routing import Call, endpoint


def create_dataset(call: Call) -> dict:
    b: inputs.CreateDataset = call.body
    if not b.name.strip():
        raise ValidationFailed.field("name", "'Name' must not be empty.")
    return {"datasetId": call.sim.datasets.create(call.who, b.name, b.schema_)["id"]}


def _segments(b: inputs.CreateDatapoint) -> list[dict[str, Any]]:
    """The 3.27.1 SDK sends ``segments``; the older flat shape is mapped onto them."""
    if b.segments is not None:
        return b.segments
    if b.asset is None:
        raise ValidationFailed.field("asset", "'asset' or 'segments' is required.")
    segments = [{"key": "asset", "kind": "Asset", "asset": b.asset}]
    if b.context is not None:
        segments.append({"key": "context", "kind": "Text", "text": b.context})
    if b.context_asset is not None:
        segments.append({"key": "context_asset", "kind": "Asset", "asset": b.context_asset})
    if b.transcription is not None:
        segments.append({"key": "transcription", "kind": "Text", "text": b.transcription})
    return segments


def create_datapoint(call: Call) -> dict:
    b: inputs.CreateDatapoint = call.body
    row = call.sim.datasets.add_datapoint(call.who, call.path["dataset_id"], _segments(b), sort_index=b.sort_index,
                                          group=b.group, private_metadata=b.private_metadata)
    return {"datapointId": row["id"]}


def create_group(call: Call) -> None:
    b: inputs.DatasetGroup = call.body
    segments = list(b.segments)
    if b.context is not None:
        segments.append({"key": "context", "kind": "Text", "text": b.context})
    call.sim.datasets.add_group(call.who, call.path["dataset_id"], b.group, segments)


def shorten_context(call: Call) -> dict:
    """No language model here: contexts are cut to the 400 characters the service allows."""
    b: inputs.ShortenContext = call.body
    out = []
    for item in b.items:
        text = str(item.get("context") or item.get("text") or "")
        out.append({"shortenedContext": text if len(text) <= 400 else text[:397].rstrip() + "..."})
    return {"items": out}


def upload_file(call: Call) -> dict:
    form = call.body
    part = form.get("file")
    if not isinstance(part, UploadFile):
        raise ValidationFailed.field("file", "A multipart part named 'file' is required.")
    row = call.sim.datasets.upload_file(call.who, part.filename or "", part.size or 0, part.content_type)
    return {"fileName": row["file_name"], "warnings": [], "wasCompressed": False,
            "originalSizeBytes": row["size"], "finalSizeBytes": row["size"]}


def upload_url(call: Call) -> dict:
    url = call.query.get("url")
    if not url:
        raise ValidationFailed.field("url", "The 'url' query parameter is required.")
    row = call.sim.datasets.upload_url(call.who, url)
    return {"fileName": row["file_name"], "warnings": [], "wasCompressed": False}


def start_batch(call: Call) -> dict:
    b: inputs.BatchUpload = call.body
    return {"batchUploadId": call.sim.datasets.start_batch(call.who, b.urls, b.correlation_id)["id"]}


def _counts(items: list[dict[str, Any]]) -> dict[str, int]:
    done = sum(1 for i in items if i["status"] == "Completed")
    failed = sum(1 for i in items if i["status"] == "Failed")
    return {"totalCount": len(items), "completedCount": done, "failedCount": failed}


def batch_status(call: Call) -> dict:
    correlation_id = call.query.get("correlationId")
    if not correlation_id:
        raise ValidationFailed.field("correlationId", "The 'correlationId' query parameter is required.")
    batches = call.sim.datasets.batches_for(call.who, correlation_id)
    items = [i for b in batches for i in b["items"]]
    status = "Aborted" if any(b["status"] == "Aborted" for b in batches) else (
        "Completed" if all(b["status"] == "Completed" for b in batches) else "Processing")
    return {"status": status, **_counts(items),
            "completedBatches": [b["id"] for b in batches if b["status"] == "Completed"]}


def batch_result(call: Call) -> dict:
    batch = call.sim.datasets.get_batch(call.who, call.path["batch_id"])
    return {"batchUploadId": batch["id"], "status": batch["status"], **_counts(batch["items"]),
            "items": batch["items"]}


def abort_batch(call: Call) -> None:
    call.sim.datasets.abort_batch(call.who, call.path["batch_id"])


def routes(sim) -> list[Route]:
    e = lambda fn, **kw: endpoint(sim, fn, **kw)  # noqa: E731
    return [
        Route("/dataset", e(create_dataset, body=inputs.CreateDataset), methods=["POST"]),
        Route("/dataset/{dataset_id}/datapoint", e(create_datapoint, body=inputs.CreateDatapoint), methods=["POST"]),
        Route("/dataset/{dataset_id}/group", e(create_group, body=inputs.DatasetGroup), methods=["POST"]),
        Route("/datasets/shorten-context", e(shorten_context, body=inputs.ShortenContext), methods=["POST"]),
        Route("/asset/file", e(upload_file, raw_body=True), methods=["POST"]),
        Route("/asset/url", e(upload_url), methods=["POST"]),
        Route("/asset/batch-upload", e(start_batch, body=inputs.BatchUpload), methods=["POST"]),
        Route("/asset/batch-upload/status", e(batch_status), methods=["GET"]),
        Route("/asset/batch-upload/{batch_id}", e(batch_result), methods=["GET"]),
        Route("/asset/batch-upload/{batch_id}/abort", e(abort_batch), methods=["POST"]),
    ]
