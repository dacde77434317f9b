"""Billing: what each organization's jobs cost, period by period, as virtual time passes.

**Price.** A job costs its required responses × ``COST_PER_RESPONSE`` (0.01 USD; the rule
``Definitions.cost_estimate`` quotes): the revision's datapoints × the referee's votes per
datapoint. No discounts, platform fee or minimum commitment (``totalDiscount`` is 0).

**Accrual.** The cost accrues as the crowd answers: at any instant a job has cost its
price × the fraction of its work done (``Crowd.done``, the same figure its progress shows).
A job that completes has cost its whole price; one that failed or was paused keeps what it
had cost by then; a queued job has cost nothing yet.

**Periods.** One period per organization and calendar month of the virtual clock (UTC):
``startDate`` is the first of the month at 00:00, ``endDate`` the first of the next month.
A period opens once there is something to bill: ``GET /billing-period/active`` is 404 (as the
SDK documents) until a job of the organization has run in the current month (it opens with the job, at
0 USD, and accrues from there). Its id is
derived from the organization and the month (``bp_…``, the same on every call).

**Outstanding.** Periods that have ended are settled and awaiting an invoice: nothing is ever
paid or invoiced in the simulator, so the outstanding balance is the sum of the organization's
ended periods (``awaitingInvoiceAmount``), never the current one.

**Plan.** Every organization is billed for its usage (``mode`` "Usage"): no prepaid credits
(``availableAmount`` null) and no spending cap (``effectiveLimit`` null).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from ..core.clock import iso, parse_iso
from ..core.errors import NotFound
from ..core.world import World
from .base import Principal, Service
from .definitions import COST_PER_RESPONSE, votes_per_datapoint
from .job_plans import Crowd


def month_bounds(at: datetime) -> tuple[datetime, datetime]:
    """The calendar month (UTC) ``at`` falls in: [first instant, first instant of the next)."""
    at = at.astimezone(timezone.utc)
    start = datetime(at.year, at.month, 1, tzinfo=timezone.utc)
    end = datetime(at.year + (at.month == 12), at.month % 12 + 1, 1, tzinfo=timezone.utc)
    return start, end


class Billing(Service):
    def __init__(self, world: World, *, crowd: Crowd) -> None:
        super().__init__(world)
        self.crowd = crowd

    # -- one job ----------------------------------------------------------------------

    def required_responses(self, job: dict[str, Any], memo: dict[tuple[str, int], int] | None = None) -> int:
        """The responses a job's revision asks for (what it is priced by); ``memo`` shares the
        answer between the jobs of one revision (a signal's many jobs)."""
        key = (job["definition_id"], job["revision_number"])
        if memo is not None:
            if key not in memo:
                memo[key] = self.required_responses(job)
            return memo[key]
        revision = self.store.get("revisions", key)
        if revision is None:
            return 0
        datapoints = self.store.count("datapoints", "dataset_id = ?", [revision["dataset_id"]])
        return datapoints * votes_per_datapoint(revision["referee"])

    def fraction_at(self, job: dict[str, Any], at: datetime) -> float:
        """How much of ``job``'s work was done by ``at`` (0 before it started, 1 once complete).

        From the plan's last checkpoint (``since``) on, this is the crowd's own figure; before
        it (a job paused and resumed, or halted), the work banked by then is spread evenly
        over the time from the job's creation to that checkpoint.
        """
        created = parse_iso(job["created_at"])
        if at <= created or job["state"] == "Queued" or not job.get("plan"):
            return 0.0
        if job["state"] == "Completed" and job.get("completed_at") and at >= parse_iso(job["completed_at"]):
            return 1.0
        plan = job["plan"]
        since = parse_iso(plan.get("since") or job["created_at"])
        work = plan.get("work") or 0.0
        if at >= since:
            if job["state"] == "Completed":
                if work <= 0:
                    return 1.0
                done = plan.get("done", 0.0) + self.crowd.rate(plan).work(since, at)
                return max(0.0, min(1.0, done / work))
            return self.crowd.done(job, at)
        banked = (plan.get("done", 0.0) / work) if work > 0 else 0.0
        span = (since - created).total_seconds()
        return max(0.0, min(1.0, banked * (at - created).total_seconds() / span)) if span > 0 else banked

    # -- one period ---------------------------------------------------------------------

    def _jobs_in(self, organization_id: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """Jobs of the organization that may have run in [start, end) (created before its end,
        not finished before its start). Deleted jobs were still billed."""
        self.store.flush()
        return self.store.select(
            "jobs", "organization_id = ? AND created_at < ? AND (completed_at IS NULL OR completed_at >= ?) "
            "AND (failed_at IS NULL OR failed_at >= ?)",
            [organization_id, iso(end), iso(start), iso(start)], order_by="created_at, rowid")

    def period(self, organization_id: str, at: datetime | None = None) -> dict[str, Any]:
        """The period (calendar month) containing ``at`` (default now), accrued up to now."""
        now = self.clock.now()
        start, end = month_bounds(at or now)
        until = min(end, now)
        start_iso, until_iso = iso(start), iso(until)
        gross, responses, jobs = 0.0, 0, 0
        memo: dict[tuple[str, int], int] = {}
        for job in self._jobs_in(organization_id, start, end):
            if job["state"] == "Queued" or not job.get("plan"):
                continue  # waiting for its predecessor: nothing to bill yet
            jobs += 1
            if job["state"] == "Completed" and job["created_at"] >= start_iso and job["completed_at"] <= until_iso:
                before, after = 0.0, 1.0  # ran wholly inside the period (most jobs): no rate to follow
            else:
                before = self.fraction_at(job, start)
                after = self.fraction_at(job, until)
            if after <= before:
                continue
            required = self.required_responses(job, memo)
            gross += required * COST_PER_RESPONSE * (after - before)
            responses += round(required * after) - round(required * before)
        gross = round(gross, 6)
        return {"id": self.ids.derived_nth("bp", (organization_id, start.strftime("%Y-%m")), 0),
                "organization_id": organization_id, "start_date": iso(start), "end_date": iso(end),
                "status": "Open" if now < end else "Closed", "gross_cost": gross, "discount": 0.0,
                "net_cost": gross, "response_count": responses, "job_count": jobs}

    def current_period(self, who: Principal) -> dict[str, Any]:
        """The organization's open period; 404 while nothing has been billed in it."""
        period = self.period(who.organization_id)
        if period["job_count"] == 0:
            raise NotFound(f"Organization '{who.organization_id}' has no active billing period: nothing has been "
                           "billed this month.")
        return period

    def current_usage(self, who: Principal) -> float:
        return self.period(who.organization_id)["net_cost"]

    def ended_periods(self, organization_id: str) -> list[dict[str, Any]]:
        """The organization's months before the current one that billed something, oldest first."""
        self.store.flush()
        (first,) = self.store.conn.execute("SELECT MIN(created_at) FROM jobs WHERE organization_id = ?",
                                           [organization_id]).fetchone()
        if first is None:
            return []
        current, _ = month_bounds(self.clock.now())
        out = []
        start, _ = month_bounds(parse_iso(first))
        while start < current:
            period = self.period(organization_id, start)
            if period["job_count"]:
                out.append(period)
            start = parse_iso(period["end_date"])
        return out

    def outstanding(self, who: Principal) -> dict[str, Any]:
        """What the organization owes: its ended periods, all awaiting an invoice."""
        ended = self.ended_periods(who.organization_id)
        awaiting = round(sum(p["net_cost"] for p in ended), 6)
        return {"total_outstanding": awaiting, "unpaid_invoices_amount": 0.0, "unpaid_invoice_count": 0,
                "awaiting_invoice_amount": awaiting, "awaiting_invoice_period_count": len(ended),
                "current_period_accrued": self.current_usage(who), "currency": "USD" if ended else None,
                "settlement_stale": False}
