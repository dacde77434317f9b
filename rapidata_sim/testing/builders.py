"""Small worlds in one call, from Python: a dataset and a job definition ready to assign or schedule.

The SDK builds these through ``create_*_job_definition``; tests, benchmarks and
scenarios that only need *some* definition use these instead of repeating the
dataset/datapoint/definition dance.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from ..domain.base import Principal

if TYPE_CHECKING:
    from ..simulator import Simulator


def text_definition(sim: "Simulator", *, name: str = "definition", kind: Literal["compare", "free_text"] = "compare",
                    datapoints: int = 1, votes: int = 1, who: Principal | None = None) -> dict[str, Any]:
    """A job definition over ``datapoints`` text datapoints (pairs for compare); returns its row."""
    who = who or sim.principal()
    with sim.store.transaction():
        dataset = sim.datasets.create(who, f"{name}_dataset")
        for i in range(datapoints):
            if kind == "compare":
                asset = {"_t": "MultiAssetInput", "assets": [{"_t": "TextAssetInput", "text": f"left {i}"},
                                                            {"_t": "TextAssetInput", "text": f"right {i}"}]}
                rapid = {"_t": "Compare", "asset": {"segment": "asset"}, "criteria": {"literal": "Which is better?"}}
            else:
                asset = {"_t": "TextAssetInput", "text": f"text {i}"}
                rapid = {"_t": "FreeText", "asset": {"segment": "asset"}, "question": {"literal": "Describe it"}}
            sim.datasets.add_datapoint(who, dataset["id"], [{"key": "asset", "kind": "Asset", "asset": asset}],
                                       sort_index=i)
        definition, _ = sim.definitions.create(who, name=name, workflow={"_t": "SimpleWorkflow", "rapid": rapid},
                                               referee={"_t": "NaiveReferee", "totalVotes": votes},
                                               dataset_id=dataset["id"])
    return definition
