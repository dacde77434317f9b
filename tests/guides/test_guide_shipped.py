"""The SDK's shipped guide (``python -m rapidata skill``, the installed ``rapidata/_skill/SKILL.md``),
section by section, against the simulator: every Python block of a section, as printed, in order.

The section covered elsewhere: "Model Ranking Insights" (``test_guide_mri.py``). The guide's
blocks are references more than scripts, so each test is given
what the guide assumes is already there: ``client`` (``RapidataClient()`` from the environment),
``audience`` (the global audience, the guide's default), the local files the guide names (written
into a scratch directory first), and ``webbrowser.open`` answering False (the SDK then prints the
URL). Every other change is an ``Edit`` below, named with its reason; each must match the guide's
text exactly once, so a changed guide fails here instead of running something else.
"""

from __future__ import annotations

import re
import webbrowser
from dataclasses import dataclass
from pathlib import Path

import pytest
import rapidata

GUIDE = Path(rapidata.__file__).parent / "_skill" / "SKILL.md"
FILES = ["img1.jpg", "img2.jpg", "img3.jpg", "img_a1.jpg", "img_b1.jpg", "img_a2.jpg", "img_b2.jpg",
         "optional_reference.jpg", "reference.jpg", "image.jpg", "example.jpg", "good.jpg", "bad.jpg",
         "example_with_artifact.jpg", "scene.jpg", "flux_book.jpg", "mj_book.jpg"]

pytestmark = pytest.mark.frozen_clock


@dataclass(frozen=True)
class Edit:
    old: str
    new: str
    why: str


def section_blocks(heading: str) -> list[str]:
    """The Python blocks under ``heading`` (a ``##``/``###`` line), up to the next heading."""
    text = GUIDE.read_text()
    start = text.index(f"\n{heading}\n")
    rest = text[start + len(heading) + 2:]
    end = re.search(r"^#{2,3} ", rest, flags=re.M)
    body = rest[:end.start()] if end else rest
    return re.findall(r"^```python\n(.*?)^```", body, flags=re.M | re.S)


def run_section(heading: str, ns: dict, edits: tuple[Edit, ...] = (), blocks: slice = slice(None)) -> dict:
    code = "\n".join(section_blocks(heading)[blocks])
    for edit in edits:
        assert code.count(edit.old) == 1, f"{heading}: the edit for {edit.why!r} no longer matches the guide"
        code = code.replace(edit.old, edit.new)
    exec(compile(code, f"<guide: {heading}>", "exec"), ns)  # noqa: S102 - the guide's own code
    return ns


@pytest.fixture
def ns(client, sim, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in FILES:
        (tmp_path / name).write_bytes(b"\xff\xd8\xff\xe0" + name.encode())
    monkeypatch.setattr(webbrowser, "open", lambda *a, **k: False)
    return {"client": client, "audience": client.audience.get_audience_by_id("global")}


def test_installation_and_authentication(ns, sdk_env):
    edits = (Edit('client_id="...", client_secret="..."',
                  'client_id=CLIENT_ID, client_secret=CLIENT_SECRET', "the guide's placeholders"),)
    ns.update(CLIENT_ID=sdk_env["RAPIDATA_CLIENT_ID"], CLIENT_SECRET=sdk_env["RAPIDATA_CLIENT_SECRET"])
    run_section("## Installation & Authentication", ns, edits)
    assert ns["client"].audience.get_audience_by_id("global").name == "Global"


def test_sharing_a_token_across_workers(ns, sim):
    edits = (Edit('coordinator.maintain_token_file("/shared/rapidata_token.json").join()',
                  'coordinator.maintain_token_file("shared/rapidata_token.json")',
                  "a scratch path, and no .join(): it blocks forever, as the guide says"),
             Edit('RapidataClient(token_file="/shared/rapidata_token.json")',
                  'RapidataClient(token_file="shared/rapidata_token.json")', "the same scratch path"))
    run_section("### Sharing a token across many workers (distributed training)", ns, edits)
    worker = ns["client"]
    token = Path("shared/rapidata_token.json").read_text()
    assert sim.store.get("tokens", __import__("json").loads(token)["access_token"]) is not None
    assert worker.audience.get_audience_by_id("global").name == "Global"  # the worker's requests work


def test_step_by_step_workflow(ns):
    run_section("### Step-by-step workflow", ns)
    assert ns["job"].get_status() == "Completed"
    assert set(ns["df"]["identifier"]) == {"img1.jpg", "img2.jpg"}
    assert ns["progress"].state in ("Running", "Completed")


#: The SDK's own validator refuses some task blocks before any request: they give one context, media
#: context or metadata entry for two datapoints. One datapoint (or as many entries) makes them valid.
ONE = "one context, media context or metadata entry for two datapoints: the SDK itself refuses it"
TASK_EDITS = {
    "### Classification": (Edit('datapoints=["img1.jpg", "img2.jpg"],\n    data_type="media"',
                                'datapoints=["img1.jpg"],\n    data_type="media"', ONE),),
    "### Comparison": (Edit('[["img_a1.jpg", "img_b1.jpg"], ["img_a2.jpg", "img_b2.jpg"]]',
                            '[["img_a1.jpg", "img_b1.jpg"]]', ONE),),
    "### Ranking": (),
    "### Locate": (Edit('datapoints=["img1.jpg", "img2.jpg"]', 'datapoints=["img1.jpg"]', ONE),),
    "### Draw": (Edit('datapoints=["img1.jpg", "img2.jpg"]', 'datapoints=["img1.jpg"]', ONE),),
    "### Select Words": (Edit('private_metadata=[{"id": "abc"}]', 'private_metadata=[{"id": "abc"}, {"id": "abd"}]',
                              ONE),),
    "### Free Text": (),
}


@pytest.mark.parametrize("heading", list(TASK_EDITS))
def test_each_task_type(ns, sim, heading):
    run_section(heading, ns, TASK_EDITS[heading])
    definition = sim.store.get("job_definitions", ns["job_def"].id)
    assert definition is not None and definition["name"] == ns["job_def"].name
    if heading == "### Ranking":
        assert ns["job"].get_status() == "Completed" and ns["results"]["info"]


def test_custom_audiences(ns, sim):
    run_section("### Free Text", ns)  # the job_def the section assigns at its end: the guide's latest
    edits = (Edit("    # min_tasks=12,", "    min_tasks=3,",
                  "it adds five examples and deletes one: fewer than the default min_tasks of 10, "
                  "which start_recruiting() must refuse"),
             *[Edit(f"settings=[...],  # Optional: match job settings so labelers qualify on the same UI\n)"
                    f"\n\n{after}", f"settings=[],\n)\n\n{after}", "settings=[...] is an Ellipsis placeholder")
               for after in ("# Add draw examples", "# Add select words examples", "# Inspect the examples")])
    run_section("### Custom Audiences", ns, edits, blocks=slice(0, 1))
    audience = ns["audience"]
    assert len(ns["examples_df"]) == 5
    assert len(audience.get_examples(amount=10)) == 4  # one deleted
    assert ns["job"].get_status() in ("Running", "Completed")
    # The section's second block (run_after) names a definition it never makes: the guide's Draw one.
    ns["other_job_def"] = run_section("### Draw", dict(ns), TASK_EDITS["### Draw"])["job_def"]
    run_section("### Custom Audiences", ns, blocks=slice(1, 2))
    assert ns["second"].get_status() == "Queued"  # behind the first, which has not finished
    ns["first"].pause()
    assert ns["second"].get_status() == "Queued"


def test_context_management(ns, sim):
    ns.update(context_a="A long scene: " + "the hero walks through the rain in a red coat. " * 12,
              question_a="Is the coat red?", context_b="A short one.", question_b="Is it short?")
    config = rapidata.rapidata_config.upload
    before = config.contextShortening
    try:
        run_section("## Context Management", ns)
    finally:
        config.contextShortening = before
    assert isinstance(ns["short"], str) and len(ns["shortened"]) == 2
    assert len(ns["shortened"][0]) <= 400


def test_settings(ns):
    run_section("## Settings", ns)
    assert ns["settings"][0].__class__.__name__ == "CustomSetting"


def test_ranking_flows(ns, sim):
    edits = (Edit('client.flow.get_flow_by_id("flow_id")', "client.flow.get_flow_by_id(flow.id)",
                  "the id of the flow the guide made"),)
    run_section("### Ranking Flows", ns, edits)
    assert ns["status"] in ("Completed", "Incomplete")
    assert set(ns["results"].datapoints) == {"img1.jpg", "img2.jpg", "img3.jpg"}
    assert ns["count"] == ns["results"].total_votes
    assert ns["flow"].id in {f.id for f in ns["all_flows"]} and ns["items"][0].id == ns["flow_item"].id
    assert sim.store.get("flows", ns["flow"].id)["deleted"]


def test_classify_flows(ns, sim):
    run_section("### Classify Flows", ns)
    result = ns["result"]
    assert set(result.datapoints) == {"img1.jpg", "img2.jpg"}
    assert ns["count"] == result.total_responses > 0
    assert sim.store.get("flows", ns["flow"].id)["drain_duration_seconds"] == 20


def test_signals(ns, sim):
    edits = (Edit("signal.delete()\n", "",
                  "moved to the end: the guide looks the signal up by id after deleting it, a 404"),
             Edit('client.signals.get_signal_by_id("signal_id")', "client.signals.get_signal_by_id(signal.id)",
                  "the id of the signal the guide made"))
    run_section("## Signals (Scheduled Labeling)", ns, edits)
    assert ns["job"].get_status() == "Completed"
    assert [s.id for s in ns["signals"]] == [ns["signal"].id]  # "Hourly prompt alignment"
    ns["signal"].delete()
    assert sim.store.get("signals", ns["signal"].id)["deleted"]


def test_billing(ns, sim):
    """The organization has something to bill (a period only opens then): the guide's step-by-step
    workflow ran first; then both of the section's blocks, as printed."""
    run_section("### Step-by-step workflow", ns)
    run_section("## Billing", ns)
    period = ns["period"]
    assert period.status == "Open" and period.gross_cost > 0 and period.response_count > 0
    assert ns["owed"] == 0.0  # the current period is not owed yet
