"""The dashboard's panels: its figures drawn as charts, by name.

One place decides which figure becomes which chart and in which colours (green for
what went well, red for what needs a person), so every page that shows the
dashboard shows the same thing.
"""

from __future__ import annotations

from trustable.dashboard.charts import (
    BLUE,
    GREEN,
    ORANGE,
    RED,
    Series,
    bar_chart,
    line_chart,
    stacked_bar_chart,
)
from trustable.dashboard.schemas import ConsentRate, Dashboard
from trustable.policy.service import Policy


def dashboard_charts(board: Dashboard, policy: Policy) -> dict[str, str]:
    """The dashboard's charts, by name, drawn from its figures; purposes are named as
    the policy names them for customers, never by their keys."""
    consent, days = board.consent, board.consent.days
    rates = [r for r in board.rates if r.needs_consent]

    def named(key: str) -> str:
        found = policy.purpose(key)
        return found.spec.name if found else key

    deliveries = board.deliveries
    kinds = board.requests
    return {
        "consent_granted": line_chart(
            "Consents granted per purpose",
            days,
            [Series(named(p.purpose), p.granted) for p in consent.purposes],
            chart_id="consent-granted",
        ),
        "grants_withdrawals": line_chart(
            "Grants against withdrawals",
            days,
            [
                Series("granted", consent.total("granted"), GREEN),
                Series("withdrawn", consent.total("withdrawn"), RED),
                Series("denied", consent.total("denied"), ORANGE),
            ]
            if consent.purposes
            else [],
            chart_id="grants-withdrawals",
        ),
        "consent_rates": bar_chart(
            "Customers who allow each purpose now, of those who chose",
            [_rate_bar(named(r.purpose), r) for r in rates if r.rate is not None],
            unit="%",
            chart_id="consent-rates",
        ),
        "requests": stacked_bar_chart(
            "Requests by kind",
            [k.kind for k in kinds],
            [
                Series("received", [k.received for k in kinds]),
                Series("completed", [k.completed for k in kinds], GREEN),
                Series("overdue now", [k.overdue for k in kinds], RED),
            ]
            if any(k.received or k.completed or k.open or k.refused for k in kinds)
            else [],
            grouped=True,
            chart_id="requests",
        ),
        "drops": bar_chart(
            "Fields dropped at collection, by reason",
            [(d.reason, d.count) for d in board.drops],
            chart_id="drops",
        ),
        "deliveries": stacked_bar_chart(
            "Deliveries by destination",
            [d.destination for d in deliveries],
            [
                Series("delivered", [d.delivered for d in deliveries], GREEN),
                Series("queued", [d.queued for d in deliveries], BLUE),
                Series("retrying", [d.retrying for d in deliveries], ORANGE),
                Series("dead", [d.dead for d in deliveries], RED),
            ]
            if any(d.delivered or d.queued or d.retrying or d.dead for d in deliveries)
            else [],
            chart_id="deliveries",
        ),
    }


def _rate_bar(name: str, rate: ConsentRate) -> tuple[str, float]:
    """A rate says what it is out of: "(310 of 500 who chose)"."""
    assert rate.rate is not None
    label = f"{name} ({rate.granted:,} of {rate.decided:,} who chose)"
    return label, round(100 * rate.rate, 1)
