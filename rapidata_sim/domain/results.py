"""Results documents in the service's format, from the votes a job's crowd cast.

The votes come from ``Crowd.job_crowd`` (seeded per job stream and datapoint,
answered by the behaviour in effect when the job was created); this module only
aggregates them into the service's results shape (as documented in the SDK's own
``rapidata/_skill/reference.md``, shipped with 3.27.1), so the same
world gives the same file byte for byte.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Any, Iterator

from ..crowd import referees
from ..crowd.labeling import JobCrowd
from ..core.world import World
from .base import Service
from .datasets import Datasets
from .job_plans import Crowd
from .definitions import simple_rapid

class Results(Service):
    def __init__(self, world: World, *, datasets: Datasets, crowd: Crowd) -> None:
        super().__init__(world)
        self.datasets = datasets
        self.crowd = crowd

    def assets_base_url(self) -> str:
        return self.world.config.assets_base_url.rstrip("/")

    def document(self, job: dict[str, Any], fraction: float = 1.0) -> dict[str, Any]:
        """The results file of ``job``; ``fraction`` < 1 gives the answers so far (preliminary)."""
        with _collector_paused():
            return self._document(job, fraction)

    def _document(self, job: dict[str, Any], fraction: float) -> dict[str, Any]:
        revision = self.store.get("revisions", (job["definition_id"], job["revision_number"]))
        workflow, referee = revision["workflow"], revision["referee"]
        kind, rapid = _kind(workflow)
        datapoints = self.datasets.datapoints(revision["dataset_id"])
        crowd = self.crowd.job_crowd(job, revision)
        info_type, version, results, summary = self._builder(kind)(crowd, datapoints, fraction, rapid, referee)
        definition = self.store.get("job_definitions", job["definition_id"])
        # The guides' results show the definition's name here, not the job's "name:revision".
        doc = {"info": {"createdAt": job["completed_at"] or job["created_at"], "version": version,
                        "type": info_type, "name": definition["name"], "instruction": _instruction(workflow)},
               "results": results}
        if summary is not None:
            doc["summary"] = summary
        return doc

    def current(self, job: dict[str, Any]) -> dict[str, Any]:
        """The answers in by now: all of them for a completed job, the ones before a failure
        or a pause, the share delivered so far for a running one (preliminary results)."""
        return self.document(job, fraction=self.crowd.done(job, self.clock.now()))

    def vote_count(self, job: dict[str, Any]) -> int:
        """How many votes ``job`` collects in all (drawing them: for referees that stop early)."""
        revision = self.store.get("revisions", (job["definition_id"], job["revision_number"]))
        kind, rapid = _kind(revision["workflow"])
        crowd = self.crowd.job_crowd(job, revision)
        datapoints = self.datasets.datapoints(revision["dataset_id"])
        return sum(len(votes) for _, votes in self._votes(kind, crowd, datapoints, rapid))

    def _builder(self, kind: str | None):
        return {"Compare": self._compare, "Classify": self._classify, "GroupedRankingWorkflow": self._ranking,
                "RankingWorkflow": self._ranking}.get(kind or "", self._generic)

    def _votes(self, kind: str | None, crowd: JobCrowd, datapoints: list[dict], rapid: dict):
        """(datapoint or group, votes) for every unit the crowd answers, in results order."""
        if kind == "Compare":
            for dp in datapoints:
                pair = [self._asset(a) for a in self._main_assets(dp)][:2]
                if len(pair) < 2:  # not a pair (the dataset was built by hand): nothing to compare
                    continue
                yield dp, crowd.compare(dp["id"], pair[0], pair[1], [n for n, _ in pair])
        elif kind == "Classify":
            for dp in datapoints:
                name, url = self._asset(self._main_assets(dp)[0])
                yield dp, crowd.classify(dp["id"], (name, url), self._options(dp, rapid))
        elif kind in ("GroupedRankingWorkflow", "RankingWorkflow"):
            for group, members in self._groups(datapoints).items():
                assets = [self._asset(self._main_assets(dp)[0]) for dp in members]
                yield (group, assets), crowd.ranking(group, [n for n, _ in assets], [u for _, u in assets],
                                                     votes=_ranking_votes(rapid, crowd.referee, len(assets)))
        else:
            for dp in datapoints:
                name, url = self._asset(self._main_assets(dp)[0])
                if kind == "FreeText":
                    yield dp, crowd.free_text(dp["id"], (name, url))
                else:
                    yield dp, crowd.shapes(dp["id"], kind or "Unknown")

    # -- helpers ------------------------------------------------------------------

    def _asset(self, asset: dict) -> tuple[str, str | None]:
        """(identifier as results show it, asset URL or None for text)."""
        if asset.get("_t") == "TextAssetInput":
            return asset.get("text", ""), None
        name = asset.get("name", "")
        return self.datasets.asset_original_name(name), f"{self.assets_base_url()}/{name}"

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

    def _options(self, dp: dict, rapid: dict) -> list[str]:
        """A classification's answers: the datapoint's own (SDK 3.26+), else those its
        blueprint lists (SDK 3.20-3.25)."""
        seg = self._segment(dp, "answer_options") or {}
        listed = rapid.get("categories") if isinstance(rapid.get("categories"), list) else []
        options = seg.get("options") or [c for c in listed if isinstance(c, dict)]
        return [o.get("label") or o.get("value") for o in options] or ["Yes", "No"]

    @staticmethod
    def _groups(datapoints: list[dict]) -> dict[str, list[dict]]:
        groups: dict[str, list[dict]] = {}
        for dp in datapoints:
            groups.setdefault(dp["group_name"] or dp["id"], []).append(dp)
        return groups

    # -- builders -----------------------------------------------------------------

    def _compare(self, crowd, datapoints, fraction, rapid, referee):
        results, a_wins, b_wins = [], 0, 0
        for dp, votes in self._votes("Compare", crowd, datapoints, rapid):
            votes = _so_far(votes, fraction)
            pair = [self._asset(a) for a in self._main_assets(dp)][:2]
            names = [n for n, _ in pair]
            counts = dict.fromkeys(names, 0)
            scores = dict.fromkeys(names, 0.0)
            detailed = []
            for choice, user in votes:
                counts[choice] = counts.get(choice, 0) + 1
                scores[choice] = scores.get(choice, 0.0) + user["userScores"]["global"]
                detailed.append({"votedFor": choice, "userDetails": user})
            keys = names + [k for k in ("Both", "Neither") if k in counts]
            winner, w_index = _argmax(keys, counts)
            # On the scores as shown (rounded): float noise must not break a tie the file shows.
            weighted, ww_index = _argmax(keys, {k: round(scores[k], 3) for k in keys})
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
                "aggregatedResults": {k: counts[k] for k in keys},
                "aggregatedResultsRatios": _ratios({k: counts[k] for k in keys}),
                "summedUserScores": {k: round(scores[k], 3) for k in keys},
                "summedUserScoresRatios": _ratios({k: scores[k] for k in keys}), "detailedResults": detailed,
            })
            if dp["private_metadata"]:
                item["privateMetadata"] = dp["private_metadata"]
            results.append(item)
        return "Compare", "4.1.0", results, {"A_wins_total": a_wins, "B_wins_total": b_wins}

    def _classify(self, crowd, datapoints, fraction, rapid, referee):
        results, summary = [], {}
        for dp, votes in self._votes("Classify", crowd, datapoints, rapid):
            votes = _so_far(votes, fraction)
            options = self._options(dp, rapid)
            identifier, url = self._asset(self._main_assets(dp)[0])
            counts = dict.fromkeys(options, 0)
            scores = dict.fromkeys(options, 0.0)
            detailed = []
            for choice, user in votes:
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
                conf = referees.confidence(options, ((c, u["userScores"]["global"]) for c, u in votes))
                item["confidencePerCategory"] = {k: round(v, 4) for k, v in conf.items()}
            item["detailedResults"] = detailed
            if dp["private_metadata"]:
                item["privateMetadata"] = dp["private_metadata"]
            results.append(item)
        return "Classification", "3.0.0", results, summary

    def _ranking(self, crowd, datapoints, fraction, rapid, referee):
        results = []
        for (group, assets), votes in self._votes("RankingWorkflow", crowd, datapoints, rapid):
            votes = _so_far(votes, fraction)
            names = [n for n, _ in assets]
            wins = dict.fromkeys(names, 0)
            detailed = []
            for (a, b, chosen), user in votes:
                wins[chosen] += 1
                detailed.append({"votedFor": chosen, "against": b if chosen == a else a, "userDetails": user})
            order = sorted(names, key=lambda n: (-wins[n], names.index(n)))
            results.append({"group": group, "assetUrls": {n: (u or n) for n, u in assets},
                            "aggregatedResults": wins, "aggregatedResultsRatios": _ratios(wins),
                            "rank": {n: order.index(n) + 1 for n in names}, "detailedResults": detailed})
        return "Ranking", "1.0.0", results, None

    def _generic(self, crowd, datapoints, fraction, rapid, referee):
        kind = rapid.get("_t", "Unknown")
        results = []
        for dp, votes in self._votes(kind, crowd, datapoints, rapid):
            identifier, url = self._asset(self._main_assets(dp)[0])
            item = {"identifier": identifier, "originalFileName": identifier}
            if url:
                item["assetUrl"] = url
            context = self._context(dp)
            if context is not None:
                item["context"] = context
            item["detailedResults"] = [answer | {"userDetails": user} for answer, user in _so_far(votes, fraction)]
            if dp["private_metadata"]:
                item["privateMetadata"] = dp["private_metadata"]
            results.append(item)
        return kind, "1.0.0", results, None


@contextmanager
def _collector_paused() -> Iterator[None]:
    """A results file is tens of thousands of small acyclic dicts: reference counting frees them,
    and the cyclic collector, triggered by the allocations, would rescan every object of the
    process (the SDK's included) several times over — about two thirds of the build time."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _kind(workflow: dict) -> tuple[str | None, dict]:
    """(task kind, what its votes depend on): a SimpleWorkflow's rapid; a ranking workflow
    itself (its pair maker); other workflows' ``rapid``, if any."""
    if workflow.get("_t") == "SimpleWorkflow":
        rapid = simple_rapid(workflow)
        return rapid.get("_t"), rapid
    kind = workflow.get("_t")
    return kind, (workflow if kind in ("GroupedRankingWorkflow", "RankingWorkflow") else workflow.get("rapid") or {})


def _ranking_votes(workflow: dict, referee: dict, size: int) -> int:
    """Votes one ranking group collects: each of its unique pairs ``totalVotes`` times
    (FullPermutationPairMaker, the SDK's choice up to 10 items), or the comparison budget
    times the responses per comparison (OnlinePairMaker)."""
    per = referees.max_votes(referee)
    pair_maker = workflow.get("pairMakerConfig") or {}
    if pair_maker.get("_t") == "OnlinePairMaker":
        return max(0, int(pair_maker.get("totalComparisonBudget") or 0)) * per
    return size * (size - 1) // 2 * per


def _so_far(votes: list, fraction: float) -> list:
    """The votes in by ``fraction`` of the job (each datapoint fills at the same pace)."""
    return votes if fraction >= 1 else votes[:int(len(votes) * max(0.0, fraction))]


def _instruction(workflow: dict) -> str | None:
    rapid = simple_rapid(workflow) if workflow.get("_t") == "SimpleWorkflow" else workflow.get("rapid") or {}
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
