"""Results documents in the service's format, from a job's datapoints.

Every vote is drawn from a generator seeded by (world seed, job id,
datapoint id), so the same world gives the same results byte for byte. The
stand-in crowd prefers assets by a latent quality derived from each asset's
name, and picks a "true" category per datapoint; the synthetic-audience
issue replaces this with configurable behaviour models.
"""

from __future__ import annotations

import hashlib
import math
import random
from typing import Any

from .base import Service
from .definitions import votes_per_datapoint

COUNTRIES = [("US", "en"), ("DE", "de"), ("GB", "en"), ("FR", "fr"), ("BR", "pt"), ("IN", "en"), ("JP", "ja"),
             ("EG", "ar"), ("ES", "es"), ("PH", "en")]
AGES = ["18-29", "30-39", "40-49", "50-64", "65+"]
GENDERS = ["Male", "Female", "Other"]


def _unit(*parts: str) -> float:
    digest = hashlib.sha256("/".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def latent_quality(name: str) -> float:
    """A stable per-asset quality in roughly [-1.5, 1.5]."""
    return (_unit("quality", name) - 0.5) * 3


class Results(Service):
    def assets_base_url(self) -> str:
        return self.sim.config.assets_base_url.rstrip("/")

    def document(self, job: dict[str, Any], fraction: float = 1.0) -> dict[str, Any]:
        """The results file of ``job``; ``fraction`` < 1 gives the answers so far (preliminary)."""
        revision = self.store.get("revisions", (job["definition_id"], job["revision_number"]))
        workflow, referee = revision["workflow"], revision["referee"]
        rapid = workflow.get("rapid") or {}
        kind = rapid.get("_t") if workflow.get("_t") == "SimpleWorkflow" else workflow.get("_t")
        datapoints = self.sim.datasets.datapoints(revision["dataset_id"])
        votes = int(votes_per_datapoint(referee) * fraction)
        builder = {"Compare": self._compare, "Classify": self._classify,
                   "GroupedRankingWorkflow": self._ranking, "RankingWorkflow": self._ranking}.get(kind, self._generic)
        info_type, version, results, summary = builder(job, datapoints, votes, rapid, referee)
        definition = self.store.get("job_definitions", job["definition_id"])
        # The guides' results show the definition's name here, not the job's "name:revision".
        doc = {"info": {"createdAt": job["completed_at"] or job["created_at"], "version": version,
                        "type": info_type, "name": definition["name"], "instruction": _instruction(workflow)},
               "results": results}
        if summary is not None:
            doc["summary"] = summary
        return doc

    # -- helpers ------------------------------------------------------------------

    def _rng(self, job: dict, datapoint_id: str) -> random.Random:
        return random.Random(f"{self.sim.seed}/{job['id']}/{datapoint_id}")

    def _user(self, rng: random.Random) -> dict[str, Any]:
        country, language = rng.choice(COUNTRIES)
        return {"country": country, "language": language, "userScores": {"global": round(rng.uniform(0.3, 1.0), 3)},
                "demographics": {"age": rng.choice(AGES), "gender": rng.choice(GENDERS)}}

    def _asset(self, asset: dict) -> tuple[str, str | None]:
        """(identifier as results show it, asset URL or None for text)."""
        if asset.get("_t") == "TextAssetInput":
            return asset.get("text", ""), None
        name = asset.get("name", "")
        return self.sim.datasets.asset_original_name(name), f"{self.assets_base_url()}/{name}"

    @staticmethod
    def _segment(datapoint: dict, key: str) -> dict | None:
        return next((s for s in datapoint["segments"] if s.get("key") == key), None)

    def _main_assets(self, datapoint: dict) -> list[dict]:
        seg = self._segment(datapoint, "asset") or next(
            (s for s in datapoint["segments"] if s.get("kind") == "Asset"), {})
        asset = seg.get("asset") or {}
        return asset.get("assets", []) if asset.get("_t") == "MultiAssetInput" else [asset]

    def _context(self, datapoint: dict) -> str | None:
        seg = self._segment(datapoint, "context")
        return seg.get("text") if seg else None

    # -- builders -----------------------------------------------------------------

    def _compare(self, job, datapoints, votes, rapid, referee):
        results, a_wins, b_wins = [], 0, 0
        for dp in datapoints:
            rng = self._rng(job, dp["id"])
            pair = [self._asset(a) for a in self._main_assets(dp)][:2]
            names = [n for n, _ in pair]
            p_a = 1 / (1 + math.exp(latent_quality(names[1]) - latent_quality(names[0])))
            counts = dict.fromkeys(names, 0)
            scores = dict.fromkeys(names, 0.0)
            detailed = []
            for _ in range(votes):
                user = self._user(rng)
                choice = names[0] if rng.random() < p_a else names[1]
                counts[choice] += 1
                scores[choice] += user["userScores"]["global"]
                detailed.append({"votedFor": choice, "userDetails": user})
            winner, w_index = _argmax(names, counts)
            weighted, ww_index = _argmax(names, scores)
            a_wins += winner == names[0]
            b_wins += winner == names[1]
            item: dict[str, Any] = {}
            context = self._context(dp)
            if context is not None:
                item["context"] = context
            item.update({
                "winner": winner, "winnerIndex": w_index, "weightedWinner": weighted,
                "weightedWinnerIndex": ww_index, "winner_index": w_index,
                "assetUrls": {n: (u or n) for n, u in pair},
                "aggregatedResults": counts, "aggregatedResultsRatios": _ratios(counts),
                "summedUserScores": {k: round(v, 3) for k, v in scores.items()},
                "summedUserScoresRatios": _ratios(scores), "detailedResults": detailed,
            })
            if dp["private_metadata"]:
                item["privateMetadata"] = dp["private_metadata"]
            results.append(item)
        return "Compare", "4.1.0", results, {"A_wins_total": a_wins, "B_wins_total": b_wins}

    def _classify(self, job, datapoints, votes, rapid, referee):
        results, summary = [], {}
        for dp in datapoints:
            rng = self._rng(job, dp["id"])
            options_seg = self._segment(dp, "answer_options") or {}
            options = [o.get("label") or o.get("value") for o in options_seg.get("options", [])] or ["Yes", "No"]
            identifier, url = self._asset(self._main_assets(dp)[0])
            truth = options[int(_unit("truth", str(self.sim.seed), dp["id"]) * len(options))]
            counts = dict.fromkeys(options, 0)
            scores = dict.fromkeys(options, 0.0)
            detailed = []
            for _ in range(votes):
                user = self._user(rng)
                choice = truth if rng.random() < 0.7 else rng.choice(options)
                counts[choice] += 1
                scores[choice] += user["userScores"]["global"]
                detailed.append({"selectedCategory": choice, "userDetails": user})
            for option, count in counts.items():
                summary[option] = summary.get(option, 0) + count
            item = {"identifier": identifier, "originalFileName": identifier}
            if url:
                item["assetUrl"] = url
            context = self._context(dp)
            if context is not None:
                item["context"] = context
            item.update({"aggregatedResults": counts, "aggregatedResultsRatios": _ratios(counts),
                         "summedUserScores": {k: round(v, 3) for k, v in scores.items()},
                         "summedUserScoresRatios": _ratios(scores)})
            if referee.get("_t") == "EarlyStoppingReferee":
                item["confidencePerCategory"] = _confidence(scores)
            item["detailedResults"] = detailed
            if dp["private_metadata"]:
                item["privateMetadata"] = dp["private_metadata"]
            results.append(item)
        return "Classification", "3.0.0", results, summary

    def _ranking(self, job, datapoints, votes, rapid, referee):
        groups: dict[str, list[dict]] = {}
        for dp in datapoints:
            groups.setdefault(dp["group_name"] or dp["id"], []).append(dp)
        results = []
        for group, members in groups.items():
            rng = self._rng(job, group)
            assets = [self._asset(self._main_assets(dp)[0]) for dp in members]
            names = [n for n, _ in assets]
            score = {n: 1200.0 + 100 * latent_quality(n) + rng.uniform(-20, 20) for n in names}
            order = sorted(names, key=lambda n: -score[n])
            results.append({"group": group, "assetUrls": {n: (u or n) for n, u in assets},
                            "aggregatedResults": {n: round(score[n], 2) for n in names},
                            "rank": {n: order.index(n) + 1 for n in names}})
        return "Ranking", "1.0.0", results, None

    def _generic(self, job, datapoints, votes, rapid, referee):
        kind = rapid.get("_t", "Unknown")
        results = []
        for dp in datapoints:
            rng = self._rng(job, dp["id"])
            identifier, url = self._asset(self._main_assets(dp)[0])
            answers = [_answer(kind, rng) | {"userDetails": self._user(rng)} for _ in range(votes)]
            item = {"identifier": identifier, "originalFileName": identifier}
            if url:
                item["assetUrl"] = url
            item["detailedResults"] = answers
            results.append(item)
        return kind, "1.0.0", results, None


def _instruction(workflow: dict) -> str | None:
    rapid = workflow.get("rapid") or {}
    for key in ("criteria", "title", "question", "target"):
        value = rapid.get(key)
        if isinstance(value, dict) and "literal" in value:
            return value["literal"]
    criteria = workflow.get("criteria")
    return criteria if isinstance(criteria, str) else None


def _argmax(names: list[str], values: dict[str, float]) -> tuple[str | None, int | None]:
    best = max(values.values()) if values else 0
    top = [n for n in names if values[n] == best]
    if not values or best == 0 or len(top) != 1:
        return None, None
    return top[0], names.index(top[0])


def _ratios(values: dict[str, float]) -> dict[str, float]:
    total = sum(values.values())
    return {k: (round(v / total, 4) if total else 0.0) for k, v in values.items()}


def _confidence(scores: dict[str, float]) -> dict[str, float]:
    exps = {k: math.exp(4 * v) for k, v in scores.items()}
    total = sum(exps.values())
    return {k: round(v / total, 4) for k, v in exps.items()}


def _answer(kind: str, rng: random.Random) -> dict[str, Any]:
    if kind == "FreeText":
        return {"text": rng.choice(["Looks good.", "Too dark.", "A cat on a mat.", "Not sure.", "Very clear."])}
    if kind == "Locate":
        return {"coordinates": [{"x": round(rng.random(), 4), "y": round(rng.random(), 4)}]}
    if kind == "Line":
        return {"lines": [[{"x": round(rng.random(), 4), "y": round(rng.random(), 4)} for _ in range(2)]]}
    if kind == "Transcription":
        return {"selectedWords": sorted(rng.sample(range(6), 2))}
    if kind == "Scrub":
        return {"timestamps": [round(rng.uniform(0, 10), 2)]}
    return {"answer": None}
