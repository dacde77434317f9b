"""Leaderboards of a benchmark: runs of matchups voted by the crowd, and the standings.

A *run* starts when participants are submitted (on every leaderboard of their benchmark)
and when a leaderboard is created (its initial run, over the participants already
submitted). It fixes its *matchups* at that instant: for every prompt the leaderboard
uses (``includedTags`` / ``excludedTags``, resolved now), every pair of submitted,
enabled participants that both have a sample for it and of which at least one is new.
Each matchup gets ``max(minResponses, responseBudget // matchups)`` votes.

**Over virtual time, lazily (no scheduler events):** a run's crowd delivers its votes at
the audience's rate (``Population.responses_per_hour``, or ``labeling_seconds``), so it
ends at ``completes_at``, decided at creation; vote *k* of a matchup lands at its share
of that span, round-robin over the matchups. Every read (standings, matrix, runs)
counts the votes whose instant has passed on the world's clock. Nothing is written as
time passes, so reading at the same instant always gives the same answer.

**Votes** come from the crowd's ``Prefer`` model in effect for the leaderboard's
audience when the run started (``Crowd.behaviour_for``; a later ``behave`` affects only
later runs), matched on each side's names: the sample's original file name (or text),
then the participant's name. Voters are drawn from the audience's ``Population`` (their
country, language, estimated demographics, userScore), from the run's own seeded
stream: same seed, same calls, same votes.

**Standings** are a Bradley–Terry fit (minorise–maximise, a weak prior of one win and
one loss against an average opponent) of the matchup results, as Elo points around
1000; ``voteAggregation`` decides whether a matchup counts once (majority, ties 0.5) or
every vote counts. Disabled participants are listed (``isDisabled``) without a score;
deleted ones vanish.
"""

from __future__ import annotations

import math
import random
from datetime import timedelta
from typing import Any, Iterable

from ..core.clock import iso, parse_iso
from ..core.errors import NotFound, ValidationFailed
from ..core.querying import ListSpec, Page, Query
from ..core.world import World
from ..crowd.population import Population
from ..crowd.timeline import Rate
from .audiences import Audiences
from .base import Principal, Service
from .benchmarks import Benchmarks
from .job_plans import Crowd

LEADERBOARD_LIST = ListSpec(filters={"name": ("name", "str")}, sorts={"created_at": "seq", "name": "name"},
                            default_sort="created_at")
RUN_LIST = ListSpec(filters={"status": ("status", "str")}, sorts={"created_at": "created_at"},
                    default_sort="-created_at")

DEFAULT_AUDIENCE = "global"
DEFAULT_BUDGET = 2_000
DEFAULT_MIN_RESPONSES = 3
AGGREGATIONS = ("AllVotes", "MajorityVote")
DIMENSIONS = {"AgeBucket": "age", "Gender": "gender", "Occupation": "occupation", "Country": "country",
              "Language": "language"}
UNKNOWN = "unknown"


class Leaderboards(Service):
    def __init__(self, world: World, *, benchmarks: Benchmarks, audiences: Audiences, crowd: Crowd) -> None:
        super().__init__(world)
        self.benchmarks = benchmarks
        self.audiences = audiences
        self.crowd = crowd
        benchmarks.on_submit = self._on_submit
        #: A run's votes, drawn once per process (they depend only on the run's row and the seed).
        self._votes: dict[str, list[tuple[int, int, dict[str, Any], str]]] = {}

    # -- leaderboards -----------------------------------------------------------------

    def create(self, who: Principal, *, benchmark_id: str | None, benchmark_name: str | None, name: str,
               instruction: str, show_prompt: bool, show_prompt_asset: bool = False, is_inversed: bool = False,
               response_budget: int | None = None, min_responses: int | None = None,
               audience_id: str | None = None, vote_aggregation: str | None = None,
               included_tags: list[str] | None = None, excluded_tags: list[str] | None = None,
               feature_flags: list[dict[str, str]] | None = None, skip_initial_run: bool = False,
               display_instruction: str | None = None) -> dict[str, Any]:
        errors: dict[str, list[str]] = {}
        if not name.strip():
            errors["name"] = ["'Name' must not be empty."]
        if not instruction.strip():
            errors["instruction"] = ["'Instruction' must not be empty."]
        self._check_numbers(response_budget, min_responses, vote_aggregation, errors)
        if benchmark_id is None and not (benchmark_name or "").strip():
            errors["benchmarkId"] = ["Give 'benchmarkId' or 'benchmarkName'."]
        audience_id = audience_id or DEFAULT_AUDIENCE
        try:
            self.audiences.get(audience_id, who)
        except NotFound as exc:
            errors["audienceId"] = [exc.detail]
        if errors:
            raise ValidationFailed(errors)
        benchmark = (self.benchmarks.get(who, benchmark_id) if benchmark_id is not None
                     else self.benchmarks.create(who, name=benchmark_name or ""))
        now = self.now()
        row = self.store.insert("leaderboards", {
            "id": self.ids.new("lb"), "benchmark_id": benchmark["id"], "name": name, "instruction": instruction,
            "display_instruction": display_instruction, "show_prompt": show_prompt,
            "show_prompt_asset": bool(show_prompt_asset), "is_inversed": bool(is_inversed),
            "response_budget": response_budget or DEFAULT_BUDGET,
            "min_responses": min_responses or DEFAULT_MIN_RESPONSES, "audience_id": audience_id,
            "vote_aggregation": vote_aggregation or "MajorityVote", "included_tags": included_tags or [],
            "excluded_tags": excluded_tags or [], "feature_flags": feature_flags or [],
            "organization_id": benchmark["organization_id"], "created_at": now, "last_updated_at": now,
            "seq": self.store.count("leaderboards", "benchmark_id = ?", [benchmark["id"]]), "deleted": False})
        self.record("leaderboard.created", row["id"], benchmark=benchmark["id"], audience=audience_id)
        waiting = [p for p in self.benchmarks.live_participants(benchmark["id"]) if p["status"] == "Submitted"]
        if skip_initial_run:
            for p in self.benchmarks.live_participants(benchmark["id"]):
                if p["status"] in ("Created", "Submittable"):
                    self.store.update("participants", p["id"], {"status": "Submitted"})
        elif waiting:
            self._start_run(who, row, [p["id"] for p in waiting])
        return row

    @staticmethod
    def _check_numbers(budget: int | None, min_responses: int | None, aggregation: str | None,
                       errors: dict[str, list[str]]) -> None:
        if budget is not None and budget < 1:
            errors["responseBudget"] = ["'Response Budget' must be greater than 0."]
        if budget is not None and budget > 1_000_000:
            errors["responseBudget"] = ["'Response Budget' must be at most 1000000."]
        if min_responses is not None and not 3 <= min_responses <= 1000:
            errors["minResponses"] = ["'Min Responses' must be between 3 and 1000."]
        if aggregation is not None and aggregation not in AGGREGATIONS:
            errors["voteAggregation"] = [f"'Vote Aggregation' must be one of {', '.join(AGGREGATIONS)}."]

    def get(self, who: Principal | None, leaderboard_id: str) -> dict[str, Any]:
        row = self._get_live("leaderboards", leaderboard_id, "Leaderboard")
        if who is not None:
            try:
                self.benchmarks.get(who, row["benchmark_id"])
            except NotFound:
                raise NotFound(f"Leaderboard '{leaderboard_id}' was not found.") from None
        return row

    def of_benchmark(self, who: Principal, benchmark_id: str, query: Query) -> Page:
        self.benchmarks.get(who, benchmark_id)
        return self._page("leaderboards", LEADERBOARD_LIST, query, "benchmark_id = ? AND deleted = 0",
                          [benchmark_id])

    def _live(self, benchmark_id: str) -> list[dict[str, Any]]:
        return self.store.select("leaderboards", "benchmark_id = ? AND deleted = 0", [benchmark_id], order_by="seq")

    def update(self, who: Principal, leaderboard_id: str, changes: dict[str, Any]) -> None:
        self.get(who, leaderboard_id)
        changes = {k: v for k, v in changes.items() if v is not None}  # PATCH: null leaves it
        errors: dict[str, list[str]] = {}
        if "name" in changes and not changes["name"].strip():
            errors["name"] = ["'Name' must not be empty."]
        self._check_numbers(changes.get("response_budget"), changes.get("min_responses"),
                            changes.get("vote_aggregation"), errors)
        if errors:
            raise ValidationFailed(errors)
        if changes:
            self.store.update("leaderboards", leaderboard_id, {**changes, "last_updated_at": self.now()})
            self.record("leaderboard.updated", leaderboard_id, **changes)

    def delete(self, who: Principal, leaderboard_id: str) -> None:
        self.get(who, leaderboard_id)
        self.store.update("leaderboards", leaderboard_id, {"deleted": True})
        self.record("leaderboard.deleted", leaderboard_id)

    # -- runs -------------------------------------------------------------------------

    def _on_submit(self, who: Principal, benchmark: dict[str, Any], participant_ids: list[str]) -> None:
        for leaderboard in self._live(benchmark["id"]):
            self._start_run(who, leaderboard, participant_ids)

    def _eligible(self, leaderboard: dict[str, Any], prompt: dict[str, Any]) -> bool:
        values = {t["value"] for t in prompt["tags"] or []}
        if values & set(leaderboard["excluded_tags"] or []):
            return False
        included = set(leaderboard["included_tags"] or [])
        return not included or bool(values & included)

    def _start_run(self, who: Principal, leaderboard: dict[str, Any], new: list[str]) -> dict[str, Any] | None:
        field = [p for p in self.benchmarks.live_participants(leaderboard["benchmark_id"])
                 if p["status"] == "Submitted"]
        new_set = set(new)
        run_id = self.ids.new("run")
        rng = random.Random(f"{self.world.seed}/{run_id}/samples")
        samples: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for p in field:
            for s in self.store.select("participant_samples", "participant_id = ?", [p["id"]], order_by="seq"):
                samples.setdefault((p["id"], s["prompt_id"]), []).append(s)
        prompts = self.store.select("benchmark_prompts", "benchmark_id = ?", [leaderboard["benchmark_id"]],
                                    order_by="seq")
        pairs = []
        for prompt in prompts:
            if not self._eligible(leaderboard, prompt):
                continue
            for i, a in enumerate(field):
                for b in field[i + 1:]:
                    if a["id"] not in new_set and b["id"] not in new_set:
                        continue
                    sa, sb = samples.get((a["id"], prompt["id"])), samples.get((b["id"], prompt["id"]))
                    if sa and sb:
                        pairs.append((prompt["id"], a, rng.choice(sa), b, rng.choice(sb)))
        if not pairs:
            return None
        per = max(leaderboard["min_responses"], leaderboard["response_budget"] // len(pairs))
        matchups = [[prompt_id, a["id"], b["id"], self.benchmarks.asset_names(s_a["asset"]) + [a["name"]],
                     self.benchmarks.asset_names(s_b["asset"]) + [b["name"]], per]
                    for prompt_id, a, s_a, b, s_b in pairs]
        total = per * len(matchups)
        audience = self.store.get("audiences", leaderboard["audience_id"]) or {}
        start = self.clock.now()
        seconds = audience.get("labeling_seconds")
        if seconds is not None:
            end = start + timedelta(seconds=seconds)
        else:
            end = Rate.of(Population.from_dict(audience.get("population"))).finish(start, total) \
                or start + timedelta(days=365)
        benchmark = self.benchmarks.get(None, leaderboard["benchmark_id"])
        row = self.store.insert("leaderboard_runs", {
            "id": run_id, "leaderboard_id": leaderboard["id"], "benchmark_id": leaderboard["benchmark_id"],
            "name": f"{leaderboard['name']} #{self.store.count('leaderboard_runs', 'leaderboard_id = ?', [leaderboard['id']]) + 1}",
            "audience_id": leaderboard["audience_id"], "participant_ids": sorted(new_set),
            "matchups": matchups, "behaviour": self.crowd.latest_change(), "created_at": iso(start),
            "completes_at": iso(end), "owner_mail": who.email, "organization_id": benchmark["organization_id"]})
        self.record("leaderboard.run_started", leaderboard["id"], run=run_id, matchups=len(matchups), votes=total,
                    completes_at=row["completes_at"])
        return row

    def status(self, run: dict[str, Any]) -> str:
        return "Completed" if parse_iso(run["completes_at"]) <= self.clock.now() else "Running"

    def runs(self, who: Principal, leaderboard_id: str, query: Query) -> Page:
        self.get(who, leaderboard_id)
        return self._page("leaderboard_runs", RUN_LIST, query, "leaderboard_id = ?", [leaderboard_id])

    def _run_votes(self, run: dict[str, Any]) -> list[tuple[int, int, dict[str, Any], str]]:
        """Every vote of ``run``: (matchup index, 1 if side a won else 0, voter, instant)."""
        cached = self._votes.get(run["id"])
        if cached is not None:
            return cached
        prefer = self.crowd.behaviour_for(run["audience_id"], None, run["created_at"], upto=run["behaviour"]).compare
        audience = self.store.get("audiences", run["audience_id"]) or {}
        sampler = Population.from_dict(audience.get("population")).sampler()
        rng = random.Random(f"{self.world.seed}/{run['id']}/votes")
        start, end = parse_iso(run["created_at"]), parse_iso(run["completes_at"])
        span = end - start
        matchups = run["matchups"]
        count = len(matchups)
        votes = []
        for m, (_, _, _, names_a, names_b, per) in enumerate(matchups):
            p = prefer.p_first(names_a, names_b)
            for j in range(per):
                won = prefer.vote(rng, p, ("a", "b"), False) == "a"
                voter = sampler.draw(rng)
                at = start + span * ((j + (m + 1) / count) / per)
                votes.append((m, 1 if won else 0, voter, iso(at)))
        self._votes[run["id"]] = votes
        return votes

    # -- reading the votes ------------------------------------------------------------

    def _votes_in(self, runs: Iterable[dict[str, Any]], filters: dict[str, list[str] | None],
                  tags: list[str] | None) -> list[tuple[str, int, str, str, int, dict[str, Any]]]:
        """Votes cast by now, as (run id, matchup, participant a, participant b, a won, voter)."""
        now = self.now()
        by_voter = any(filters.get(name) is not None for name in
                       ("country", "language", "gender", "age_bucket", "occupation"))
        prompt_tags: dict[str, set[str]] = {}
        out = []
        for run in runs:
            if filters.get("run_id") is not None and run["id"] not in filters["run_id"]:
                continue
            matchups = run["matchups"]
            for m, won, voter, at in self._run_votes(run):
                if at > now:
                    continue
                prompt_id, a, b = matchups[m][0], matchups[m][1], matchups[m][2]
                if tags is not None:
                    if prompt_id not in prompt_tags:
                        row = self.store.get("benchmark_prompts", prompt_id) or {"tags": []}
                        prompt_tags[prompt_id] = {t["value"] for t in row["tags"] or []}
                    if not prompt_tags[prompt_id] & set(tags):
                        continue
                if by_voter and not self._voter_matches(voter, filters):
                    continue
                out.append((run["id"], m, a, b, won, voter))
        return out

    @staticmethod
    def voter_value(voter: dict[str, Any], dimension: str) -> str:
        key = DIMENSIONS[dimension]
        value = voter.get(key) if key in ("country", "language") else (voter.get("demographics") or {}).get(key)
        return value or UNKNOWN

    def _voter_matches(self, voter: dict[str, Any], filters: dict[str, list[str] | None]) -> bool:
        for dimension, name in (("Country", "country"), ("Language", "language"), ("Gender", "gender"),
                                ("AgeBucket", "age_bucket"), ("Occupation", "occupation")):
            wanted = filters.get(name)
            if wanted is not None and self.voter_value(voter, dimension) not in wanted:
                return False
        return True

    def _scope_runs(self, who: Principal, *, leaderboard_id: str | None = None, benchmark_id: str | None = None,
                    leaderboard_ids: list[str] | None = None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(runs, participants) a standings read covers."""
        if leaderboard_id is not None:
            board = self.get(who, leaderboard_id)
            benchmark_id = board["benchmark_id"]
            runs = self.store.select("leaderboard_runs", "leaderboard_id = ?", [leaderboard_id], order_by="created_at")
        else:
            self.benchmarks.get(who, benchmark_id)  # type: ignore[arg-type]
            boards = {b["id"] for b in self._live(benchmark_id)}  # type: ignore[arg-type]
            if leaderboard_ids is not None:
                boards &= set(leaderboard_ids)
            runs = [r for r in self.store.select("leaderboard_runs", "benchmark_id = ?", [benchmark_id],
                                                 order_by="created_at") if r["leaderboard_id"] in boards]
        participants = [p for p in self.benchmarks.live_participants(benchmark_id)  # type: ignore[arg-type]
                        if p["status"] in ("Submitted", "Disabled")]
        return runs, participants

    def standings(self, who: Principal, *, leaderboard_id: str | None = None, benchmark_id: str | None = None,
                  leaderboard_ids: list[str] | None = None, tags: list[str] | None = None,
                  filters: dict[str, list[str] | None] | None = None,
                  aggregation: str | None = None) -> dict[str, Any]:
        runs, participants = self._scope_runs(who, leaderboard_id=leaderboard_id, benchmark_id=benchmark_id,
                                              leaderboard_ids=leaderboard_ids)
        if aggregation is None:
            aggregation = (self.get(who, leaderboard_id)["vote_aggregation"] if leaderboard_id else "MajorityVote")
        votes = self._votes_in(runs, filters or {}, tags)
        return self._table(runs, participants, votes, aggregation)

    def _results(self, participants: list[dict[str, Any]], votes: list, aggregation: str,
                 weighted: bool = False) -> tuple[dict[tuple[str, str], float], dict[str, int]]:
        """Wins of each ordered pair (a over b), and the votes each participant was in."""
        enabled = {p["id"] for p in participants if p["status"] == "Submitted"}
        wins: dict[tuple[str, str], float] = {}
        responses: dict[str, int] = {}
        per_matchup: dict[tuple[str, int], list[float]] = {}
        pair_of: dict[tuple[str, int], tuple[str, str]] = {}
        for run_id, m, a, b, won, voter in votes:
            if a not in enabled or b not in enabled:
                continue
            responses[a] = responses.get(a, 0) + 1
            responses[b] = responses.get(b, 0) + 1
            weight = float((voter.get("userScores") or {}).get("global", 1.0)) if weighted else 1.0
            if aggregation == "AllVotes" or weighted:
                winner, loser = (a, b) if won else (b, a)
                wins[(winner, loser)] = wins.get((winner, loser), 0.0) + weight
            else:
                tally = per_matchup.setdefault((run_id, m), [0.0, 0.0])
                tally[0 if won else 1] += 1
                pair_of[(run_id, m)] = (a, b)
        for key, (for_a, for_b) in per_matchup.items():
            a, b = pair_of[key]
            share = 1.0 if for_a > for_b else 0.0 if for_a < for_b else 0.5
            wins[(a, b)] = wins.get((a, b), 0.0) + share
            wins[(b, a)] = wins.get((b, a), 0.0) + 1 - share
        return wins, responses

    def _table(self, runs: list[dict[str, Any]], participants: list[dict[str, Any]], votes: list,
               aggregation: str) -> dict[str, Any]:
        wins, responses = self._results(participants, votes, aggregation)
        ids = [p["id"] for p in participants if p["status"] == "Submitted"]
        scores = bradley_terry(ids, wins)
        evaluating = {pid for r in runs if self.status(r) == "Running"
                      for pid in {m[1] for m in r["matchups"]} | {m[2] for m in r["matchups"]}}
        items = []
        for p in participants:
            won = sum(v for (w, _), v in wins.items() if w == p["id"])
            total = sum(v for (w, l), v in wins.items() if p["id"] in (w, l))
            score = scores.get(p["id"]) if total > 0 and p["status"] == "Submitted" else None
            items.append({"participant": p, "score": score, "wins": won, "total_matches": total,
                          "response_count": responses.get(p["id"], 0), "is_evaluating": p["id"] in evaluating,
                          "status": "Active" if total > 0 else "Created"})
        items.sort(key=lambda i: (i["score"] is None, -(i["score"] or 0.0), i["participant"]["seq"]))
        return {"items": items, "total_responses": len(votes)}

    def matrix(self, who: Principal, *, leaderboard_id: str | None = None, benchmark_id: str | None = None,
               leaderboard_ids: list[str] | None = None, participant_ids: list[str] | None = None,
               tags: list[str] | None = None, filters: dict[str, list[str] | None] | None = None,
               weighted: bool | None = None) -> dict[str, Any]:
        runs, participants = self._scope_runs(who, leaderboard_id=leaderboard_id, benchmark_id=benchmark_id,
                                              leaderboard_ids=leaderboard_ids)
        aggregation = self.get(who, leaderboard_id)["vote_aggregation"] if leaderboard_id else "MajorityVote"
        votes = self._votes_in(runs, filters or {}, tags)
        table = self._table(runs, participants, votes, aggregation)
        wins, _ = self._results(participants, votes, aggregation, weighted=bool(weighted))
        order = [i["participant"] for i in table["items"]]
        if participant_ids is not None:
            order = [p for p in order if p["id"] in participant_ids]
        names = [p["name"] for p in order]
        data = [[wins.get((a["id"], b["id"]), 0.0) for b in order] for a in order]
        totals = [[wins.get((a["id"], b["id"]), 0.0) + wins.get((b["id"], a["id"]), 0.0) for b in order]
                  for a in order]
        return {"names": names, "data": data, "votes": totals}

    def demographics(self, who: Principal, benchmark_id: str, *, leaderboard_ids: list[str] | None = None,
                     tags: list[str] | None = None, filters: dict[str, list[str] | None] | None = None
                     ) -> dict[str, Any]:
        runs, _ = self._scope_runs(who, benchmark_id=benchmark_id, leaderboard_ids=leaderboard_ids)
        votes = self._votes_in(runs, filters or {}, tags)
        dims = {}
        for dimension in DIMENSIONS:
            counts: dict[str, int] = {UNKNOWN: 0}
            for *_, voter in votes:
                value = self.voter_value(voter, dimension)
                counts[value] = counts.get(value, 0) + 1
            total = len(votes)
            dims[dimension] = [{"value": v, "votes": n, "share": (n / total) if total else 0.0}
                               for v, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
        return {"total_votes": len(votes), "dimensions": dims}

    def breakdown(self, who: Principal, benchmark_id: str, dimension: str, *,
                  leaderboard_ids: list[str] | None = None, tags: list[str] | None = None,
                  filters: dict[str, list[str] | None] | None = None) -> dict[str, Any]:
        if dimension not in DIMENSIONS:
            raise ValidationFailed.field("dimension", f"'Dimension' must be one of {', '.join(DIMENSIONS)}.")
        runs, participants = self._scope_runs(who, benchmark_id=benchmark_id, leaderboard_ids=leaderboard_ids)
        votes = self._votes_in(runs, filters or {}, tags)
        overall = self._table(runs, participants, votes, "MajorityVote")
        segments: dict[str, list] = {}
        for vote in votes:
            segments.setdefault(self.voter_value(vote[-1], dimension), []).append(vote)
        out = [{"value": value, "votes": len(vs), "table": self._table(runs, participants, vs, "MajorityVote")}
               for value, vs in sorted(segments.items(), key=lambda kv: (-len(kv[1]), kv[0]))]
        return {"dimension": dimension, "global": overall, "segments": out}


def bradley_terry(ids: list[str], wins: dict[tuple[str, str], float], iterations: int = 200) -> dict[str, float]:
    """Elo-scaled Bradley–Terry strengths (mean 1000) of ``ids`` from pairwise ``wins``.

    Minorise–maximise (Hunter 2004), with a prior of one win and one loss against an
    opponent of average strength so that an unbeaten participant stays finite.
    """
    if not ids:
        return {}
    strength = dict.fromkeys(ids, 1.0)
    won = {i: sum(v for (w, _), v in wins.items() if w == i) for i in ids}
    games = {}
    for (a, b), v in wins.items():
        if a in strength and b in strength:
            key = (a, b) if a < b else (b, a)
            games[key] = games.get(key, 0.0) + v
    for _ in range(iterations):
        new = {}
        for i in ids:
            denom = 2.0 / (strength[i] + 1.0)  # the prior's two games against strength 1
            for (a, b), n in games.items():
                if i == a:
                    denom += n / (strength[a] + strength[b])
                elif i == b:
                    denom += n / (strength[a] + strength[b])
            new[i] = (won[i] + 1.0) / denom
        mean_log = sum(math.log(v) for v in new.values()) / len(new)
        strength = {i: v / math.exp(mean_log) for i, v in new.items()}
    return {i: 1000.0 + 400.0 * math.log10(v) for i, v in strength.items()}
