"""Datasets, datapoints and assets: what a job definition labels.

The asset service never fetches anything here: a URL "upload" completes at
once and remembers the URL's file name, which is what results are keyed by.
"""

from __future__ import annotations

import posixpath
from typing import Any
from urllib.parse import unquote, urlparse

from ..core.errors import NotFound, ValidationFailed
from .base import Principal, Service

ASSET_KINDS = {"ExistingAssetInput", "TextAssetInput", "MultiAssetInput", "UrlAssetInput", "FileAssetInput"}


def url_basename(url: str) -> str:
    return posixpath.basename(unquote(urlparse(url).path)) or url


def _extension(name: str) -> str:
    base = posixpath.basename(name)
    return base[base.rfind("."):].lower() if "." in base else ""


def check_asset(asset: Any, where: str, errors: dict[str, list[str]]) -> None:
    """What is wrong with one asset input (``_t`` and its fields), into ``errors`` under ``where``."""
    if not isinstance(asset, dict) or asset.get("_t") not in ASSET_KINDS:
        errors.setdefault(where, []).append(f"'_t' must be one of {sorted(ASSET_KINDS)}.")
        return
    if asset["_t"] == "MultiAssetInput":
        inner = asset.get("assets")
        if not isinstance(inner, list) or not inner:
            errors.setdefault(where, []).append("'assets' must be a non-empty list.")
            return
        for j, sub in enumerate(inner):
            check_asset(sub, f"{where}.assets[{j}]", errors)
    elif asset["_t"] == "TextAssetInput" and not isinstance(asset.get("text"), str):
        errors.setdefault(where, []).append("'text' must be a string.")
    elif asset["_t"] == "ExistingAssetInput" and not isinstance(asset.get("name"), str):
        errors.setdefault(where, []).append("'name' must be a string.")


class Datasets(Service):
    # -- datasets -----------------------------------------------------------------

    def create(self, who: Principal, name: str, schema: list[dict] | None = None) -> dict[str, Any]:
        row = self.store.insert("datasets", {
            "id": self.ids.new("ds"), "name": name, "schema": schema, "organization_id": who.organization_id,
            "owner_id": who.user_id, "created_at": self.now(),
        })
        self.record("dataset.created", row["id"], name=name)
        return row

    def get(self, dataset_id: str, who: Principal | None = None) -> dict[str, Any]:
        row = self.store.get("datasets", dataset_id)
        if row is None or (who is not None and row["organization_id"] != who.organization_id):
            raise NotFound(f"Dataset '{dataset_id}' was not found.")
        return row

    def add_datapoint(self, who: Principal, dataset_id: str, segments: list[dict], *,
                      sort_index: int | None = None, group: str | None = None,
                      private_metadata: dict[str, str] | None = None) -> dict[str, Any]:
        self.get(dataset_id, who)
        errors: dict[str, list[str]] = {}
        keys = set()
        for i, seg in enumerate(segments):
            if seg.get("key") in keys:
                errors.setdefault(f"segments[{i}].key", []).append(f"Duplicate segment key '{seg.get('key')}'.")
            keys.add(seg.get("key"))
            if seg.get("kind") == "Asset":
                check_asset(seg.get("asset"), f"segments[{i}].asset", errors)
        if not any(seg.get("kind") == "Asset" or seg.get("key") == "asset" for seg in segments):
            errors.setdefault("segments", []).append("A datapoint needs an 'asset' segment.")
        if errors:
            raise ValidationFailed(errors)
        row = self.store.insert("datapoints", {
            "id": self.ids.derived("dp", dataset_id, sort_index, group), "dataset_id": dataset_id, "sort_index": sort_index, "group_name": group,
            "segments": segments, "private_metadata": private_metadata, "created_at": self.now(),
        })
        return row


    def add_group(self, who: Principal, dataset_id: str, group: str, segments: list[dict]) -> None:
        self.get(dataset_id, who)
        if not group:
            raise ValidationFailed.field("group", "'group' must not be empty.")
        self.store.conn.execute("DELETE FROM dataset_groups WHERE dataset_id = ? AND group_name = ?",
                                [dataset_id, group])
        self.store.insert("dataset_groups", {"dataset_id": dataset_id, "group_name": group, "segments": segments})

    def datapoints(self, dataset_id: str) -> list[dict[str, Any]]:
        """In dataset order: by ``sortIndex`` (uploads arrive out of order), then arrival."""
        return self.store.select("datapoints", "dataset_id = ?", [dataset_id],
                                 order_by="sort_index IS NULL, sort_index, rowid")

    # -- assets -------------------------------------------------------------------

    def upload_file(self, who: Principal, original_name: str, size: int, content_type: str | None) -> dict[str, Any]:
        if not original_name:
            raise ValidationFailed.field("file", "A file part named 'file' is required.")
        if "/" in original_name or "\\" in original_name or original_name.strip(". ") == "" \
                or "/" in unquote(original_name) or "\\" in unquote(original_name) or "\x00" in original_name:
            raise ValidationFailed.field("file", f"'{original_name[:100]}' is not a plain file name.")
        row = self.store.insert("assets", {
            "file_name": self.ids.derived_file_name("file", original_name, size, extension=_extension(original_name)),
            "original_name": posixpath.basename(original_name),
            "source_url": None, "size": size, "content_type": content_type, "organization_id": who.organization_id,
            "created_at": self.now(),
        })
        return row

    def upload_url(self, who: Principal, url: str) -> dict[str, Any]:
        try:
            parsed = urlparse(url)
        except ValueError:  # e.g. an unclosed IPv6 bracket: 'http://[::1'
            parsed = None
        if parsed is None or parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValidationFailed.field("url", f"'{url}' is not an absolute http(s) URL.")
        name = url_basename(url)
        return self.store.insert("assets", {
            "file_name": self.ids.derived_file_name("url", url, extension=_extension(name)), "original_name": name,
            "source_url": url,
            "size": None, "content_type": None, "organization_id": who.organization_id, "created_at": self.now(),
        })

    def asset_original_name(self, file_name: str) -> str:
        row = self.store.get("assets", file_name)
        return row["original_name"] if row else file_name

    # -- batch uploads ------------------------------------------------------------

    def start_batch(self, who: Principal, urls: list[str], correlation_id: str | None) -> dict[str, Any]:
        if not urls:
            raise ValidationFailed.field("urls", "'urls' must not be empty.")
        items = []
        for url in urls:
            try:
                asset = self.upload_url(who, url)
                items.append({"url": url, "status": "Completed", "fileName": asset["file_name"], "warnings": []})
            except ValidationFailed:
                items.append({"url": url, "status": "Failed", "errorMessage": "The URL is not a valid http(s) URL.",
                              "stage": "Validation", "warnings": []})
        row = self.store.insert("batch_uploads", {
            "id": self.ids.new("bu"), "correlation_id": correlation_id, "organization_id": who.organization_id,
            "status": "Completed", "items": items, "created_at": self.now(),
        })
        return row

    def get_batch(self, who: Principal, batch_id: str) -> dict[str, Any]:
        row = self.store.get("batch_uploads", batch_id)
        if row is None or row["organization_id"] != who.organization_id:
            raise NotFound(f"Batch upload '{batch_id}' was not found.")
        return row

    def batches_for(self, who: Principal, correlation_id: str) -> list[dict[str, Any]]:
        return self.store.select("batch_uploads", "correlation_id = ? AND organization_id = ?",
                                 [correlation_id, who.organization_id], order_by="rowid")

    def abort_batch(self, who: Principal, batch_id: str) -> None:
        row = self.get_batch(who, batch_id)
        if row["status"] != "Completed":
            self.store.update("batch_uploads", batch_id, {"status": "Aborted"})
