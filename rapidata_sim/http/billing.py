"""Billing routes (payment.openapi.json; the SDK's ``client.billing``). The figures and their
rules (calendar-month periods of the virtual clock, 0.01 USD per response) are
``domain/billing.py``'s."""

from __future__ import annotations

from starlette.routing import Route

from .routing import Call, endpoint


def active_period(call: Call) -> dict:
    p = call.sim.billing.current_period(call.who)
    line_items = [{"_t": "RunningCost", "amount": p["gross_cost"]}] if p["gross_cost"] else []
    return {"id": p["id"], "organizationId": p["organization_id"], "startDate": p["start_date"],
            "endDate": p["end_date"], "status": p["status"], "totalGrossCost": p["gross_cost"],
            "totalDiscount": p["discount"], "totalNetCost": p["net_cost"], "totalResponseCount": p["response_count"],
            "lineItems": line_items}


def summary(call: Call) -> dict:
    return {"mode": "Usage", "currentPeriodUsage": call.sim.billing.current_usage(call.who), "effectiveLimit": None,
            "availableAmount": None, "minimumSpendCommitment": 0, "platformFee": None}


def outstanding(call: Call) -> dict:
    o = call.sim.billing.outstanding(call.who)
    return {"totalOutstanding": o["total_outstanding"], "unpaidInvoicesAmount": o["unpaid_invoices_amount"],
            "unpaidInvoiceCount": o["unpaid_invoice_count"], "awaitingInvoiceAmount": o["awaiting_invoice_amount"],
            "awaitingInvoicePeriodCount": o["awaiting_invoice_period_count"],
            "currentPeriodAccrued": o["current_period_accrued"], "currency": o["currency"],
            "settlementStale": o["settlement_stale"]}


def routes(sim) -> list[Route]:
    return [
        Route("/billing-period/active", endpoint(sim, active_period), methods=["GET"]),
        Route("/billing/summary", endpoint(sim, summary), methods=["GET"]),
        Route("/billing/outstanding", endpoint(sim, outstanding), methods=["GET"]),
    ]
