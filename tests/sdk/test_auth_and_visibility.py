"""Auth through the SDK, and who sees which signal, job and definition."""

from __future__ import annotations

import pytest
from rapidata.rapidata_client.exceptions.rapidata_error import RapidataError


def test_client_credentials_and_userinfo(sim, sdk_env):
    from rapidata import RapidataClient

    client = RapidataClient()
    token = client.get_token()
    assert token["token_type"].lower() == "bearer"
    assert token["expires_at"] > 0
    row = sim.store.get("tokens", token["access_token"])
    assert row["client_id"] == "rapidata-sim"


def test_wrong_secret_fails_fast_without_a_browser(sim, sdk_env, monkeypatch):
    from rapidata import RapidataClient

    monkeypatch.setenv("RAPIDATA_CLIENT_SECRET", "wrong")
    with pytest.raises(Exception) as info:
        RapidataClient()
    # invalid_client makes the SDK reset credentials and try the browser bridge, which answers 404.
    assert "Failed to fetch client credentials" in str(info.value) or "invalid_client" in str(info.value)


def test_revoked_client_stops_working(sim, sdk_env):
    from rapidata import RapidataClient

    sim.identity.delete_client("rapidata-sim-colleague")
    with pytest.raises(Exception):
        RapidataClient(client_id="rapidata-sim-colleague", client_secret="colleague-secret")


def test_expired_token_is_refreshed_by_the_sdk(sim, sdk_env):
    """Tokens with expires_in = 61 count as expired 1 s later (SDK leeway 60 s): it asks again."""
    from rapidata import RapidataClient

    sim.config.token_lifetime_seconds = 61
    client = RapidataClient()
    first = client.get_token()["access_token"]
    import time

    time.sleep(1.1)
    client.audience.get_audience_by_id("global")
    assert client.get_token()["access_token"] != first


def _signal(client, name, public):
    definition = client.job.create_free_text_job_definition(name=name, instruction="?", datapoints=["t"],
                                                            data_type="text", responses_per_datapoint=1)
    return client.signals.create_signal(name=name, audience="global", job_definition=definition,
                                        interval_hours=1, is_public=public)


def test_signal_visibility_matrix(client, colleague_client, other_client):
    private = _signal(client, "mine-private", False)
    public = _signal(client, "mine-public", True)

    assert {s.name for s in client.signals.find_signals()} == {"mine-private", "mine-public"}
    assert {s.name for s in colleague_client.signals.find_signals()} == {"mine-public"}
    assert other_client.signals.find_signals() == []

    assert colleague_client.signals.get_signal_by_id(public.id).name == "mine-public"
    for reader, signal in [(colleague_client, private), (other_client, private), (other_client, public)]:
        with pytest.raises(RapidataError) as info:
            reader.signals.get_signal_by_id(signal.id)
        assert info.value.status_code == 404

    # A colleague may read a public signal but not change it.
    shared = colleague_client.signals.get_signal_by_id(public.id)
    with pytest.raises(RapidataError) as info:
        shared.pause()
    assert info.value.status_code == 403
    assert public.is_paused is False


def test_jobs_and_definitions_stay_in_their_organization(client, colleague_client, other_client):
    definition = client.job.create_free_text_job_definition(name="org-def", instruction="?", datapoints=["t"],
                                                            data_type="text", responses_per_datapoint=1)
    job = client.audience.get_audience_by_id("global").assign_job(definition)
    assert colleague_client.job.get_job_by_id(job.id).id == job.id
    assert [j.id for j in colleague_client.job.find_jobs("org-def")] == [job.id]
    assert [d.id for d in colleague_client.job.find_job_definitions("org-def")] == [definition.id]
    assert other_client.job.find_jobs() == []
    assert other_client.job.find_job_definitions() == []
    for call in (lambda: other_client.job.get_job_by_id(job.id),
                 lambda: other_client.job.get_job_definition_by_id(definition.id)):
        with pytest.raises(RapidataError) as info:
            call()
        assert info.value.status_code == 404
    # Public audiences are shared; another organization's custom audience is not.
    custom = client.audience.create_audience(name="ours")
    assert {a.id for a in other_client.audience.find_audiences()} == {"global", "aud_MU1GZYoESyO"}
    with pytest.raises(RapidataError):
        other_client.audience.get_audience_by_id(custom.id)
