"""The dashboard's panels: each figure drawn, and nothing drawn before there is data."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from tests.dashboard.conftest import NOW
from tests.helpers import grant, msg, send
from trustable.bootstrap import Trustable
from trustable.consent.service import ConsentStatus
from trustable.dashboard.charts import NO_DATA
from trustable.dashboard.panels import dashboard_charts
from trustable.dashboard.service import trust_dashboard

START = datetime(2026, 11, 16, tzinfo=UTC)
END = datetime(2026, 11, 24, tzinfo=UTC)  # to the end of the day NOW is in
PANELS = {
    "consent_granted",
    "grants_withdrawals",
    "consent_rates",
    "requests",
    "drops",
    "deliveries",
}


def panels(shop: Trustable) -> dict[str, ET.Element]:
    with shop.reader() as uow:
        board = trust_dashboard(
            uow, shop.policy, shop.vault.public_key(), start=START, end=END, now=NOW
        )
    drawn = dashboard_charts(board, shop.policy)
    assert set(drawn) == PANELS
    return {name: ET.fromstring(svg) for name, svg in drawn.items()}


def test_an_empty_store_shows_no_data_yet_everywhere(shop: Trustable) -> None:
    for name, root in panels(shop).items():
        assert root.attrib["aria-label"].endswith(NO_DATA), name


def test_a_store_with_data_draws_it(shop: Trustable) -> None:
    grant(shop, "ada", "personalize.content.profiled")
    grant(shop, "grace", "personalize.content.profiled", status=ConsentStatus.denied)
    send(shop, msg("identify", "ada", traits={"favouriteColour": "blue"}))
    drawn = panels(shop)
    for name in ("consent_granted", "grants_withdrawals", "consent_rates", "drops"):
        assert not drawn[name].attrib["aria-label"].endswith(NO_DATA), name
    rates = drawn["consent_rates"].findtext("{http://www.w3.org/2000/svg}desc") or ""
    # Purposes by the names customers read, each rate with what it is out of.
    assert "Recommendations made for you (1 of 2 who chose): 50%" in rates
    texts = "".join(drawn["consent_rates"].itertext()) + "".join(
        drawn["consent_granted"].itertext()
    )
    assert "personalize.content" not in texts and "…" not in texts
    assert "Recommendations made for you" in "".join(drawn["consent_granted"].itertext())
    assert drawn["deliveries"].attrib["aria-label"].endswith(NO_DATA)
