"""No public SDK method slips by: every public method and property of every class reachable from
``RapidataClient`` (found by introspection of the installed SDK, ``tests/support/sdk_surface.py``)
is placed here — the test that runs it through the simulator, why it makes no request, or the
branch it is pending on. A new SDK method fails ``test_every_public_sdk_method_is_placed`` until it
is placed; a placement is checked against the code (the test exists and names the method; a
"no request" method's code never reaches the API client; a pending one's test file and route have
not arrived). The small tests at the end cover what no other test did.

How "has a test" is established: statically. Each ``Test`` names a test function that exists and
whose body, with the helpers of its module it calls, names the method (``.name``). That works when
this file runs alone; it cannot tell two classes' ``delete`` apart, which is why each placement
points at the test of that class's own file.
"""

from __future__ import annotations

from support.sdk_surface import ROOT, NoRequest, Pending, Test, check, discover, managers

HOME = "tests/sdk/test_sdk_surface.py"
REV, RES, SIG, JD = ("tests/sdk/test_revisions.py", "tests/sdk/test_results_formats.py",
                     "tests/sdk/test_signals_over_time.py", "tests/sdk/test_job_definitions.py")
FLOWS, BENCH, MRI = "tests/sdk/test_flows.py", "tests/sdk/test_benchmarks.py", "tests/guides/test_guide_mri.py"
GUIDE, AUD = "tests/guides/test_guide_shipped.py", "tests/guides/test_guide_quickstart_audiences.py"
SIGNALS_GUIDE = "tests/guides/test_guide_signals.py"
#: Built on the branch i-valbill (merged): validation sets, billing, unlisted audiences. Until it
#: was, they were ``Pending`` entries (which fail once their file exists or the simulator serves
#: their route, ``docs/endpoints.md``): use one for whatever is next built on another branch.
VALIDATION = "tests/sdk/test_validation_sets.py"
BILLING = "tests/sdk/test_billing.py"
UNLISTED = "tests/sdk/test_audience_semantics.py"


def T(test: str, where: str = HOME) -> Test:
    return Test(f"{where}::{test}")


def pending(where: str, route: str) -> Pending:
    return Pending(where, route)


CACHED = NoRequest("a field of the object as it was read; no request")
BROWSER = NoRequest("opens a browser on the app's page (webbrowser.open); no API request")


def _placements() -> dict[type, dict[str, object]]:
    from rapidata import (RapidataAudience, RapidataClassifyFlow, RapidataClient, RapidataJob,
                          RapidataJobDefinition, RapidataRankingFlow, RapidataSignal)
    from rapidata.rapidata_client.audience._rapidata_unlisted_audience import RapidataUnlistedAudience
    from rapidata.rapidata_client.audience.rapidata_audience_manager import RapidataAudienceManager
    from rapidata.rapidata_client.audience.rapidata_filtered_audience import RapidataFilteredAudience
    from rapidata.rapidata_client.benchmark.leaderboard.rapidata_leaderboard import RapidataLeaderboard
    from rapidata.rapidata_client.benchmark.participant.participant import BenchmarkParticipant
    from rapidata.rapidata_client.benchmark.rapidata_benchmark import RapidataBenchmark
    from rapidata.rapidata_client.benchmark.rapidata_benchmark_manager import RapidataBenchmarkManager
    from rapidata.rapidata_client.billing.rapidata_billing_manager import RapidataBillingManager
    from rapidata.rapidata_client.context.context_manager import ContextManager
    from rapidata.rapidata_client.exceptions.failed_upload import FailedUpload
    from rapidata.rapidata_client.flow.rapidata_flow_item import RapidataFlowItem
    from rapidata.rapidata_client.flow.rapidata_flow_manager import RapidataFlowManager
    from rapidata.rapidata_client.job.rapidata_job_manager import RapidataJobManager
    from rapidata.rapidata_client.results.rapidata_results import RapidataResults
    from rapidata.rapidata_client.signal.rapidata_signal_manager import RapidataSignalManager
    from rapidata.rapidata_client.validation.rapidata_validation_set import RapidataValidationSet
    from rapidata.rapidata_client.validation.validation_set_manager import ValidationSetManager

    placed: dict[type, dict[str, object]] = {
        RapidataClient: {
            "get_token": T("test_client_credentials_and_userinfo", "tests/sdk/test_auth_and_visibility.py"),
            "maintain_token_file": T("test_sharing_a_token_across_workers", GUIDE),
            "set_token": T("test_set_token_reset_credentials_and_clear_caches"),
            "reset_credentials": T("test_set_token_reset_credentials_and_clear_caches"),
            "clear_all_caches": NoRequest("empties the upload and userinfo caches in memory and on disk"),
        },
        RapidataAudienceManager: {
            "create_audience": T("test_custom_audiences", GUIDE),
            "find_audiences": T("test_audiences_complete_example", AUD),
            "get_audience_by_id": T("test_step_by_step_workflow", GUIDE),
            "create_unlisted_audience": T("test_unlisted_audience_flow", UNLISTED),
        },
        RapidataJobManager: {
            "create_classification_job_definition": T("test_classification", JD),
            "create_compare_job_definition": T("test_compare", JD),
            "create_draw_job_definition": T("test_locate_and_draw", JD),
            "create_locate_job_definition": T("test_locate_and_draw", JD),
            "create_free_text_job_definition": T("test_free_text", JD),
            "create_ranking_job_definition": T("test_ranking", JD),
            "create_select_words_job_definition": T("test_select_words", JD),
            "find_job_definitions": T("test_jobs_and_definitions_stay_in_their_organization",
                                      "tests/sdk/test_auth_and_visibility.py"),
            "find_jobs": T("test_jobs_and_definitions_stay_in_their_organization",
                           "tests/sdk/test_auth_and_visibility.py"),
            "get_job_by_id": T("test_job_pause_resume_delete", REV),
            "get_job_definition_by_id": T("test_edit_save_reload_revisions", REV),
        },
        RapidataJobDefinition: {
            "revision": T("test_edit_save_reload_revisions", REV),
            "base_revision": T("test_edit_save_reload_revisions", REV),
            "instruction": T("test_edit_save_reload_revisions", REV),
            "responses_per_datapoint": T("test_edit_save_reload_revisions", REV),
            "save": T("test_edit_save_reload_revisions", REV),
            "reload": T("test_edit_save_reload_revisions", REV),
            "revisions": T("test_edit_save_reload_revisions", REV),
            "state": T("test_edit_save_reload_revisions", REV),
            "estimated_cost": T("test_update_dataset_and_cost", REV),
            "update_dataset": T("test_update_dataset_and_cost", REV),
            "delete": T("test_delete_definition", REV),
            "preview": NoRequest("opens the preview page in a browser"),
            "answer_options": T("test_staged_edits_of_a_job_definition"),
            "dataset_id": T("test_staged_edits_of_a_job_definition"),
            "settings": T("test_staged_edits_of_a_job_definition"),
            "validation_set_id": T("test_staged_edits_of_a_job_definition"),
            "set_datapoints": T("test_staged_edits_of_a_job_definition"),
            "wait_until_ready": T("test_staged_edits_of_a_job_definition"),
            "has_unsaved_changes": NoRequest("compares the staged edits with the revision held"),
            "discard_changes": NoRequest("drops the staged edits held in the object"),
        },
        RapidataJob: {
            "get_status": T("test_job_pause_resume_delete", REV),
            "pause": T("test_job_pause_resume_delete", REV),
            "resume": T("test_job_pause_resume_delete", REV),
            "delete": T("test_job_pause_resume_delete", REV),
            "completed_at": T("test_job_pause_resume_delete", REV),
            "get_progress": T("test_progress_mid_way_and_at_the_end", RES),
            "get_results": T("test_results_shape_and_dataframes", RES),
            "display_progress_bar": T("test_step_by_step_workflow", GUIDE),
            "estimated_cost": T("test_update_dataset_and_cost", REV),
            "pipeline_id": T("test_staged_edits_of_a_job_definition"),
            "view": BROWSER,
        },
        RapidataResults: {
            "to_pandas": NoRequest("builds a DataFrame from the results already downloaded"),
            "to_json": NoRequest("writes the results already downloaded to a local file"),
        },
        RapidataAudience: {
            "assign_job": T("test_step_by_step_workflow", GUIDE),
            "add_classification_example": T("test_custom_audiences", GUIDE),
            "add_compare_example": T("test_custom_audiences", GUIDE),
            "add_locate_example": T("test_custom_audiences", GUIDE),
            "add_draw_example": T("test_custom_audiences", GUIDE),
            "add_select_words_example": T("test_custom_audiences", GUIDE),
            "get_examples": T("test_custom_audiences", GUIDE),
            "delete_example": T("test_custom_audiences", GUIDE),
            "start_recruiting": T("test_update_filters_and_start_recruiting", AUD),
            "get_recruiting_metrics": T("test_update_filters_and_start_recruiting", AUD),
            "update_filters": T("test_update_filters_and_start_recruiting", AUD),
            "filter": T("test_audiences_complete_example", AUD),
            "find_jobs": T("test_jobs_and_definitions_stay_in_their_organization",
                           "tests/sdk/test_auth_and_visibility.py"),
            "update_name": T("test_audience_rename_delete_and_a_filtered_slices_jobs"),
            "delete": T("test_audience_rename_delete_and_a_filtered_slices_jobs"),
            "name": CACHED, "filters": CACHED,
        },
        RapidataFilteredAudience: {
            "assign_job": T("test_audience_rename_delete_and_a_filtered_slices_jobs"),
            "find_jobs": T("test_audience_rename_delete_and_a_filtered_slices_jobs"),
            "name": CACHED, "filters": CACHED,
        },
        RapidataUnlistedAudience: {
            "assign_job": T("test_unlisted_audience_flow", UNLISTED),
            "find_jobs": T("test_unlisted_audience_flow", UNLISTED),
            "link": T("test_unlisted_audience_flow", UNLISTED),
            # Both only format the environment's app URL (no request), but read it off the API client.
            "get_job_link": T("test_audience_rename_delete_and_a_filtered_slices_jobs"),
            "name": CACHED, "filters": CACHED,
        },
        RapidataSignalManager: {
            "create_signal": T("test_a_daily_signal_over_three_days_makes_three_jobs", SIG),
            "get_signal_by_id": T("test_managing_a_signal", SIGNALS_GUIDE),
            "find_signals": T("test_managing_a_signal", SIGNALS_GUIDE),
        },
        RapidataSignal: {
            "get_jobs": T("test_a_daily_signal_over_three_days_makes_three_jobs", SIG),
            "last_run_at": T("test_a_daily_signal_over_three_days_makes_three_jobs", SIG),
            "next_run_at": T("test_a_daily_signal_over_three_days_makes_three_jobs", SIG),
            "pause": T("test_pause_resume_update_delete", SIG),
            "resume": T("test_pause_resume_update_delete", SIG),
            "update": T("test_pause_resume_update_delete", SIG),
            "delete": T("test_pause_resume_update_delete", SIG),
            "trigger": T("test_trigger_fires_once_off_the_grid", SIG),
            "wait_for_next_job": T("test_wait_for_next_job_waits_for_the_next_scheduled_firing", SIG),
            "name": T("test_managing_a_signal", SIGNALS_GUIDE),
            "description": T("test_managing_a_signal", SIGNALS_GUIDE),
            "interval_hours": T("test_managing_a_signal", SIGNALS_GUIDE),
            "is_paused": T("test_managing_a_signal", SIGNALS_GUIDE),
        },
        ContextManager: {
            "shorten_context": T("test_context_management", GUIDE),
            "shorten_contexts": T("test_context_management", GUIDE),
        },
        RapidataFlowManager: {
            "create_ranking_flow": T("test_find_get_items_and_delete", FLOWS),
            "create_classify_flow": T("test_classify_flow_results_follow_the_crowds_truth", FLOWS),
            "get_flow_by_id": T("test_find_get_items_and_delete", FLOWS),
            "find_flows": T("test_find_get_items_and_delete", FLOWS),
            "preheat": T("test_find_get_items_and_delete", FLOWS),
        },
        RapidataRankingFlow: {
            "create_new_flow_batch": T("test_ranking_results_and_matrix_follow_the_crowds_preference", FLOWS),
            "update_config": T("test_update_config_applies_to_new_items", FLOWS),
            "get_flow_items": T("test_find_get_items_and_delete", FLOWS),
            "delete": T("test_find_get_items_and_delete", FLOWS),
        },
        RapidataClassifyFlow: {
            "create_new_flow_batch": T("test_classify_flow_results_follow_the_crowds_truth", FLOWS),
            "update_config": T("test_classify_flow_results_follow_the_crowds_truth", FLOWS),
            "get_flow_items": T("test_classify_flow_results_follow_the_crowds_truth", FLOWS),
            "delete": T("test_classify_flow_results_follow_the_crowds_truth", FLOWS),
        },
        RapidataFlowItem: {
            "get_status": T("test_ranking_results_and_matrix_follow_the_crowds_preference", FLOWS),
            "get_results": T("test_ranking_results_and_matrix_follow_the_crowds_preference", FLOWS),
            "get_win_loss_matrix": T("test_ranking_results_and_matrix_follow_the_crowds_preference", FLOWS),
            "get_response_count": T("test_ranking_results_and_matrix_follow_the_crowds_preference", FLOWS),
        },
        FailedUpload: {
            "format_error_details": NoRequest("formats the failure already recorded"),
            "from_exception": NoRequest("builds a failure record from an exception"),
        },
        ValidationSetManager: {
            "create_classification_set": T("test_create_classification_set_text", VALIDATION),
            "create_compare_set": T("test_create_compare_set_media", VALIDATION),
            **{name: T("test_create_select_words_locate_draw_timestamp_sets", VALIDATION) for name in (
                "create_select_words_set", "create_locate_set", "create_draw_set", "create_timestamp_set")},
            "create_mixed_set": T("test_create_mixed_set_with_dimensions", VALIDATION),
            "get_validation_set_by_id": T("test_get_find_and_update_a_set", VALIDATION),
            "find_validation_sets": T("test_get_find_and_update_a_set", VALIDATION),
        },
        RapidataValidationSet: {
            **{name: T("test_get_find_and_update_a_set", VALIDATION) for name in (
                "add_rapid", "update_dimensions", "update_should_alert", "update_can_be_flagged")},
            "delete": T("test_delete_and_visibility", VALIDATION),
            "view": BROWSER,
        },
        RapidataBillingManager: {
            "get_current_billing_period": T("test_a_job_accrues_its_cost_as_the_crowd_answers", BILLING),
            "get_outstanding_balance": T("test_months_close_into_the_outstanding_balance", BILLING),
        },
    }
    # The MRI classes: test_benchmarks.py's own table (whose entries name tests by a prefix, or a
    # helper), each entry made a placement here.
    from tests.sdk.test_benchmarks import COVERED as MRI_COVERED

    bench_functions = [line[4:].split("(")[0] for line in (ROOT / BENCH).read_text().splitlines()
                       if line.startswith("def ")]
    for cls in (RapidataBenchmarkManager, RapidataBenchmark, RapidataLeaderboard, BenchmarkParticipant):
        placed[cls] = {}
        for name, where in MRI_COVERED[cls.__name__].items():
            if where.startswith("no request"):
                placed[cls][name] = NoRequest(where)
            elif where == MRI:
                placed[cls][name] = Test(f"{MRI}::test_the_mri_section_runs_against_the_simulator")
            else:
                prefix = where.split()[0]
                found = [f for f in bench_functions if f == prefix] or [f for f in bench_functions
                                                                         if f.startswith(prefix)]
                placed[cls][name] = Test(f"{BENCH}::{found[0] if len(found) == 1 else prefix}")
    # add_model uploads through it; the guide's own block calls it by name.
    placed[BenchmarkParticipant]["upload_media"] = Test(f"{MRI}::test_the_mri_section_runs_against_the_simulator")
    return placed


def test_the_surface_is_found_by_introspection():
    """The walk finds what a user of 3.27.1 reaches: every public manager, the classes their
    methods return, and what those return in turn."""
    names = {cls.__name__ for cls in discover()}
    assert set(managers()) >= {"signals", "job", "audience", "flow", "mri", "validation", "billing", "context"}
    assert names >= {"RapidataSignal", "RapidataJob", "RapidataJobDefinition", "RapidataAudience",
                     "RapidataFilteredAudience", "RapidataRankingFlow", "RapidataClassifyFlow", "RapidataFlowItem",
                     "RapidataBenchmark", "RapidataLeaderboard", "BenchmarkParticipant", "RapidataValidationSet",
                     "RapidataResults"}
    assert sum(len(v) for v in discover().values()) > 150


def test_every_public_sdk_method_is_placed():
    problems = check(_placements(), home=HOME)
    assert not problems, "\n".join(problems)


def test_nothing_is_pending_any_more():
    """i-valbill has landed: its tests cover validation sets, billing and unlisted audiences, so no
    entry is ``Pending`` (``check`` would fail one whose file or route has arrived anyway)."""
    waiting = sorted(f"{cls.__name__}.{name}" for cls, names in _placements().items()
                     for name, p in names.items() if isinstance(p, Pending))
    assert waiting == []


def test_a_wrong_placement_is_caught(tmp_path):
    """The check itself: a method placed on a test that never names it, a missing test, a false
    "no request", a pending entry whose file exists or whose route is served, and an unplaced
    method are each reported."""
    from rapidata import RapidataJob

    placed = _placements()
    placed[RapidataJob] = dict(placed[RapidataJob])
    placed[RapidataJob]["pause"] = T("test_the_surface_is_found_by_introspection")  # never names .pause
    placed[RapidataJob]["resume"] = T("test_nothing_here")
    placed[RapidataJob]["delete"] = NoRequest("it does not")  # it does
    placed[RapidataJob]["get_status"] = Pending(HOME)  # this file exists
    placed[RapidataJob]["get_results"] = Pending("tests/sdk/test_not_yet.py", "GET /job/{jobId}")  # served
    del placed[RapidataJob]["get_progress"]
    problems = "\n".join(check(placed, home=HOME))
    for expected in ("RapidataJob.pause: tests/sdk/test_sdk_surface.py::test_the_surface_is_found_by_introspection "
                     "never names .pause", "RapidataJob.resume: no function test_nothing_here",
                     "RapidataJob.delete: placed as NoRequest", "RapidataJob.get_status: still pending",
                     "RapidataJob.get_results: still pending, but the simulator serves GET /job/{jobId}",
                     "RapidataJob.get_progress: not placed"):
        assert expected in problems


# -- what no other test covered ---------------------------------------------------------------

def test_set_token_reset_credentials_and_clear_caches(client, sim, tmp_path):
    """A worker given a token by ``set_token`` authenticates with it; ``reset_credentials`` and
    ``clear_all_caches`` leave a working client (the next request fetches a new token)."""
    from rapidata import RapidataClient

    token = client.get_token()
    worker = RapidataClient(token=token)
    fresh = sim.client().get_token()
    assert fresh["access_token"] != token["access_token"]
    worker.set_token(fresh)
    worker.audience.get_audience_by_id("global")
    used = [e for e in sim.store.select("tokens") if e["token"] == fresh["access_token"]]
    assert used, "the injected token is one the simulator issued"
    client.reset_credentials()
    client.clear_all_caches()
    assert client.audience.get_audience_by_id("global").name == "Global"


def test_staged_edits_of_a_job_definition(client, sim):
    definition = client.job.create_classification_job_definition(
        name="Staged", instruction="Which animal?", answer_options=["Cat", "Dog"], datapoints=["a", "b"],
        data_type="text", responses_per_datapoint=3)
    definition.wait_until_ready(timeout=30)
    # Options set per datapoint (what create_classification_job_definition does) read as None.
    assert definition.answer_options is None and definition.validation_set_id is None
    first_dataset = definition.dataset_id
    assert sim.store.get("datasets", first_dataset) is not None
    from rapidata import NoShuffleSetting

    definition.answer_options = ["Cat", "Dog", "Bird"]
    definition.settings = [NoShuffleSetting()]
    definition.set_datapoints(datapoints=["c", "d", "e"], data_type="text")
    assert definition.has_unsaved_changes
    definition.discard_changes()
    assert not definition.has_unsaved_changes and definition.answer_options is None
    definition.answer_options = ["Cat", "Dog", "Bird"]
    definition.settings = [NoShuffleSetting()]
    definition.set_datapoints(datapoints=["c", "d", "e"], data_type="text")
    assert definition.save() == 2
    assert definition.dataset_id != first_dataset and definition.answer_options == ["Cat", "Dog", "Bird"]
    assert len(definition.settings) == 1
    definition.reload()  # what the simulator stored for revision 2
    assert definition.answer_options == ["Cat", "Dog", "Bird"] and len(definition.settings) == 1
    job = client.audience.get_audience_by_id("global").assign_job(definition)
    assert job.pipeline_id == sim.store.get("jobs", job.id)["pipeline_id"]


def test_audience_rename_delete_and_a_filtered_slices_jobs(client, sim):
    from rapidata import CountryFilter

    definition = client.job.create_free_text_job_definition(
        name="Sliced", instruction="Why?", datapoints=["t"], data_type="text", responses_per_datapoint=1)
    base = client.audience.get_audience_by_id("global")
    us = base.filter([CountryFilter(["US"])])
    job = us.assign_job(definition)
    assert [j.id for j in us.find_jobs(name="Sliced")] == [job.id]
    mine = client.audience.create_audience(name="Before")
    mine.update_name("After")
    assert sim.store.get("audiences", mine.id)["name"] == "After"
    mine.delete()
    assert mine.id not in {a.id for a in client.audience.find_audiences(name="After")}
    unlisted = client.audience.create_unlisted_audience("Linked")
    assert unlisted.get_job_link(job).endswith(f"/label/{unlisted.id}/job/{job.id}")


def test_the_flow_files_table_agrees():
    """``test_flows.py`` keeps its own table of the flow classes (and ``test_benchmarks.py`` the MRI
    one, from which the placements above are drawn): the two views never drift apart."""
    from tests.sdk import test_flows

    placed = _placements()
    for cls, names in test_flows.COVERED.items():
        if cls in placed:
            assert set(placed[cls]) == names, cls.__name__
