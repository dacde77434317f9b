"""``client.billing`` of SDK 3.27.1: the current period accrues each job's cost (required responses
× 0.01 USD) as the crowd answers over virtual time; periods are calendar months of the virtual
clock; ended periods are what ``get_outstanding_balance`` reports."""

from __future__ import annotations

import inspect
from datetime import datetime, timezone

import pytest

pytestmark = pytest.mark.frozen_clock  # the world starts at 2100-01-01T00:00:00Z and stays there


def _definition(client, responses=10, pairs=1):
    return client.job.create_compare_job_definition(
        name="pairs", instruction="Which is better?", responses_per_datapoint=responses,
        datapoints=[[f"a{i}", f"b{i}"] for i in range(pairs)], data_type="text")


def test_no_period_until_something_is_billed(client):
    from rapidata.rapidata_client.exceptions import RapidataError

    with pytest.raises(RapidataError) as err:
        client.billing.get_current_billing_period()
    assert err.value.status_code == 404
    assert client.billing.get_outstanding_balance() == 0.0


def test_a_job_accrues_its_cost_as_the_crowd_answers(client, sim):
    audience = client.audience.get_audience_by_id("global")
    job = audience.assign_job(_definition(client, responses=10, pairs=3))  # 30 responses: 0.30 USD
    period = client.billing.get_current_billing_period()
    assert period.start_date == datetime(2100, 1, 1, tzinfo=timezone.utc)
    assert period.end_date == datetime(2100, 2, 1, tzinfo=timezone.utc)
    assert period.status == "Open" and period.credits is None and period.effective_limit is None
    assert period.gross_cost == 0.0 and period.response_count == 0
    due = sim.store.get("jobs", job.id)["completes_at"]
    halfway = sim.clock.now() + (datetime.fromisoformat(due) - sim.clock.now()) / 2
    sim.advance_to(halfway)
    middle = client.billing.get_current_billing_period()
    assert 0 < middle.gross_cost < 0.30 and 0 < middle.response_count < 30
    job.get_results()  # the wait moves the clock to the job's end
    done = client.billing.get_current_billing_period()
    assert (done.gross_cost, done.outstanding_cost, done.discount, done.response_count) == (0.30, 0.30, 0.0, 30)
    assert done.id == middle.id  # one period, one id
    assert client.billing.get_outstanding_balance() == 0.0  # nothing is due while the period is open


def test_months_close_into_the_outstanding_balance(client, sim, other_client):
    from rapidata.rapidata_client.exceptions import RapidataError

    audience = client.audience.get_audience_by_id("global")
    audience.assign_job(_definition(client, responses=5)).get_results()  # 0.05 in January
    sim.advance(days=31)  # February 2100: January has ended
    with pytest.raises(RapidataError) as err:
        client.billing.get_current_billing_period()  # nothing billed in February yet
    assert err.value.status_code == 404
    assert client.billing.get_outstanding_balance() == 0.05
    audience.assign_job(_definition(client, responses=20)).get_results()  # 0.20 in February
    february = client.billing.get_current_billing_period()
    assert february.start_date == datetime(2100, 2, 1, tzinfo=timezone.utc) and february.gross_cost == 0.20
    assert client.billing.get_outstanding_balance() == 0.05
    sim.advance(days=29)  # March
    assert client.billing.get_outstanding_balance() == 0.25
    # Billing is per organization: another one has spent nothing.
    assert other_client.billing.get_outstanding_balance() == 0.0


def test_a_job_running_across_midnight_of_the_month_is_split(client, sim):
    from rapidata_sim.crowd import Population

    sim.advance_to(datetime(2100, 1, 31, 12, tzinfo=timezone.utc))
    sim.audiences.configure("global", population=Population(responses_per_hour=2))
    audience = client.audience.get_audience_by_id("global")
    job = audience.assign_job(_definition(client, responses=10, pairs=5))  # 50 responses at ~2 an hour
    job.get_results()
    row = sim.store.get("jobs", job.id)
    assert row["completed_at"] > "2100-02-01"
    february = client.billing.get_current_billing_period()
    january = client.billing.get_outstanding_balance()
    assert 0 < january < 0.50 and 0 < february.gross_cost < 0.50
    assert january + february.gross_cost == pytest.approx(0.50, abs=0.011)  # each rounded to the cent


def test_every_network_calling_method_is_covered():
    from rapidata.rapidata_client.billing import RapidataBillingManager

    public = {n for n, _ in inspect.getmembers(RapidataBillingManager, inspect.isfunction) if not n.startswith("_")}
    assert public == {"get_current_billing_period", "get_outstanding_balance"}
