"""The quickstart (docs/quickstart.md) and custom-audience guide (docs/audiences.md), against the simulator.

The guides' code runs as written. The one change: placeholders such as
``"audience_id"`` are replaced by ids that exist (marked ``# placeholder``).
The quickstart's ``client.job.get_job_defintion_by_id`` (sic) does not exist
in SDK 3.27.1 either; the correctly spelled method is used instead.
"""

from __future__ import annotations


def test_quickstart_complete_example(sim, sdk_env):
    from rapidata import RapidataClient

    client = RapidataClient()

    # Get the global audience
    audience = client.audience.get_audience_by_id("global")

    # Create job definition
    job_definition = client.job.create_compare_job_definition(
        name="Example Image Comparison",
        instruction="Which image matches the description better?",
        datapoints=[
            ["https://assets.rapidata.ai/midjourney-5.2_37_3.jpg",
             "https://assets.rapidata.ai/flux-1-pro_37_0.jpg"]
        ],
        contexts=["A small blue book sitting on a large red book."]
    )

    # Preview before running
    job_definition.preview()

    # Assign to audience and get results
    job = audience.assign_job(job_definition)
    job.display_progress_bar()
    results = job.get_results()
    print(results)

    assert results["info"]["name"] == "Example Image Comparison"
    item = results["results"][0]
    assert list(item["assetUrls"]) == ["midjourney-5.2_37_3.jpg", "flux-1-pro_37_0.jpg"]
    assert item["winner"] in (None, *item["assetUrls"])
    assert sum(item["aggregatedResults"].values()) == 10  # responses_per_datapoint default

    # "Retrieve Existing Resources"
    audiences = client.audience.find_audiences("Image Comparison")
    assert audiences == []
    audience = client.audience.get_audience_by_id("global")  # placeholder "audience_id"
    assert audience.name == "Global"

    job_definitions = client.job.find_job_definitions("Prompt Alignment")
    assert job_definitions == []
    job_definitions = client.job.find_job_definitions("Image Comparison")
    assert [d.id for d in job_definitions] == [job_definition.id]
    job_definition = client.job.get_job_definition_by_id(job_definition.id)  # placeholder "job_definition_id"
    assert job_definition.instruction == "Which image matches the description better?"

    jobs = client.job.find_jobs("Prompt Alignment")
    assert jobs == []
    job = client.job.get_job_by_id(job.id)  # placeholder "job_id"
    audience = client.audience.get_audience_by_id("global")  # placeholder "audience_id"
    jobs = audience.find_jobs("Image Comparison")
    assert [j.id for j in jobs] == [job.id]

    # find_* without a name returns the most recent resources
    assert {a.id for a in client.audience.find_audiences()} == {"global", "aud_MU1GZYoESyO", "aud_sim_nightowls",
                                                                "aud_sim_crowd"}
    assert [j.id for j in client.job.find_jobs()] == [job.id]


def test_audiences_complete_example(sim, sdk_env):
    from rapidata import RapidataClient

    client = RapidataClient()

    audience = client.audience.create_audience(name="Custom Prompt Alignment Audience")

    DATAPOINTS = [
        ["https://assets.rapidata.ai/flux_sign_diffusion.jpg", "https://assets.rapidata.ai/mj_sign_diffusion.jpg"],
        ["https://assets.rapidata.ai/flux_duck.jpg", "https://assets.rapidata.ai/mj_duck.jpg"],
        ["https://assets.rapidata.ai/flux_book.jpg", "https://assets.rapidata.ai/mj_book.jpg"],
        ["https://assets.rapidata.ai/flux_flower.jpg", "https://assets.rapidata.ai/mj_flower.jpg"],
        ["https://assets.rapidata.ai/flux_store_front.jpg", "https://assets.rapidata.ai/mj_store_front.jpg"],
        ["https://assets.rapidata.ai/flux_hand.jpg", "https://assets.rapidata.ai/mj_hand.jpg"],
        ["https://assets.rapidata.ai/flux_traffic_lights.jpg", "https://assets.rapidata.ai/mj_traffic_lights.jpg"],
        ["https://assets.rapidata.ai/flux_plane.jpg", "https://assets.rapidata.ai/mj_plane.jpg"],
    ]
    PROMPTS = [
        "A sign that says 'Diffusion'.",
        "A psychedelic duck with glasses",
        "A small blue book sitting on a large red book.",
        "A yellow flower sticking out of a bright green pot.",
        "A store front with 'hello world' written on it.",
        "A yellow hand on a black stone.",
        "A green, yellow and red traffic light.",
        "A plane flying over a person.",
    ]

    for prompt, datapoint in zip(PROMPTS, DATAPOINTS):
        audience.add_compare_example(
            instruction="Which image follows the prompt more accurately?",
            datapoint=datapoint,
            truth=datapoint[0],
            context=prompt
        )

    job_definition = client.job.create_compare_job_definition(
        name="Prompt Alignment Job",
        instruction="Which image follows the prompt more accurately?",
        datapoints=[
            ["https://assets.rapidata.ai/flux_book.jpg",
             "https://assets.rapidata.ai/mj_book.jpg"]
        ],
        contexts=["A small blue book sitting on a large red book."]
    )

    job = audience.assign_job(job_definition)
    job.view()
    job.display_progress_bar()
    results = job.get_results()
    print(results)

    assert sim.store.count("audience_examples", "audience_id = ?", [audience.id]) == 8
    row = sim.store.get("audiences", audience.id)
    # The job started recruiting; it waited until the first labelers graduated, then was answered.
    assert row["recruiting_started_at"] == sim.store.get("jobs", job.id)["created_at"]
    assert audience.get_recruiting_metrics().graduated > 0
    assert results["results"][0]["context"] == "A small blue book sitting on a large red book."

    # "Matching the Job UI with Settings"
    from rapidata import NoShuffleSetting

    audience.add_classification_example(
        instruction="How well does the image match the description?",
        answer_options=[
            "1: Not at all",
            "2: A little",
            "3: Moderately",
            "4: Very well",
            "5: Perfectly",
        ],
        datapoint="https://assets.rapidata.ai/email-4o.png",
        truth=["5: Perfectly", "4: Very well"],
        context="A laptop screen with clearly readable text, addressed to the marketing team.",
        settings=[NoShuffleSetting()],
    )
    example = sim.store.select("audience_examples", "audience_id = ?", [audience.id], order_by="rowid")[-1]
    assert example["feature_flags"] == [{"key": "no_shuffle", "value": "true"}]

    # "Reusing Audiences"
    new_job_definition = job_definition
    audiences = client.audience.find_audiences("Custom Prompt Alignment Audience")
    assert [a.id for a in audiences] == [audience.id]
    audience = client.audience.get_audience_by_id(audience.id)  # placeholder "audience_id"

    job = audience.assign_job(new_job_definition)
    assert job.get_status() == "Running"
    assert job.get_results()["info"]["name"] == "Prompt Alignment Job"

    # "Filtered Audiences"
    from rapidata import CountryFilter, LanguageFilter

    base = client.audience.get_audience_by_id(audience.id)  # placeholder "audience_id"

    us_english_speakers = base.filter([
        CountryFilter(["US"]),
        LanguageFilter(["en"]),
    ])

    job = us_english_speakers.assign_job(new_job_definition)
    filtered = sim.store.get("audiences", us_english_speakers.id)
    assert filtered["base_audience_id"] == audience.id and filtered["filter"]["_t"] == "AndFilter"
    assert sim.store.get("jobs", job.id)["audience_id"] == us_english_speakers.id

    # "Combining filters"
    audience_slice = base.filter([
        (CountryFilter(["US"]) | CountryFilter(["CA"]))
        & ~LanguageFilter(["fr"]),
    ])
    assert sim.store.get("audiences", audience_slice.id)["filter"]["_t"] == "AndFilter"


def test_update_filters_and_start_recruiting(client, sim):
    from rapidata import CountryFilter

    audience = client.audience.create_audience(name="Recruit me")
    assert audience.get_recruiting_metrics().graduated == 0
    audience.update_filters([CountryFilter(["US"])])
    assert sim.store.get("audiences", audience.id)["filters"] == [{"_t": "CountryFilter", "countries": ["US"]}]
    # The default graduation rule asks for 10 validation tasks: the service refuses to recruit with fewer
    # examples (SimConfig.recruit_requires_examples), so give it ten.
    for i in range(10):
        audience.add_classification_example(instruction="Cat or dog?", answer_options=["Cat", "Dog"],
                                            datapoint=f"animal {i}", truth=["Cat"], data_type="text")
    audience.start_recruiting()
    population = sim.crowd.population(sim.store.get("audiences", audience.id))
    assert audience.get_recruiting_metrics().graduated == 0
    assert sim.store.get("audiences", audience.id)["status"] == "Recruiting"  # distilling first
    sim.advance(hours=population.distill_hours / 2)
    metrics = audience.get_recruiting_metrics()
    assert metrics.graduated == 0 and metrics.distilling > 0
    sim.advance(days=2)
    metrics = audience.get_recruiting_metrics()
    assert metrics.graduated == population.target and metrics.distilling == 0 and metrics.dropped > 0
    assert sim.store.get("audiences", audience.id)["status"] == "Ready"
    assert type(client.audience.get_audience_by_id(audience.id).filters[0]).__name__ == "CountryFilter"
