"""The regulator's report: Art. 33(3) fields from the computed facts, and the 72-hour clock."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from tests.incidents.support import T0, advance, record, shoppers
from trustable.bootstrap import Trustable, bootstrap
from trustable.core.clock import FixedClock
from trustable.core.settings import Settings
from trustable.incidents.report import regulator_report, submit_report
from trustable.incidents.service import (
    Incident,
    IncidentRefused,
    ReportAlreadySubmitted,
    get_incident,
    timeline,
)


@pytest.fixture
def shop(settings: Settings) -> Iterator[Trustable]:
    app = bootstrap(replace(settings), clock=FixedClock(T0))
    yield app
    app.close()


def report(app: Trustable, incident_id: str) -> dict[str, object]:
    with app.reader() as uow:
        return regulator_report(uow, app.policy, get_incident(uow, incident_id), now=app.clock())


def submit(app: Trustable, incident_id: str, reason: str | None = None) -> Incident:
    with app.uow() as uow:
        done = submit_report(
            uow,
            app.vault,
            get_incident(uow, incident_id),
            actor="usr_officer",
            now=app.clock(),
            delay_reason=reason,
        )
        uow.commit()
    return done


def test_the_report_holds_the_article_33_fields_and_the_clock(shop: Trustable) -> None:
    shoppers(shop)
    incident = record(shop, categories=["user.contact.email", "user.behavior.media_consumption"])
    advance(shop, hours=30)
    found = report(shop, incident.incident_id)
    nature = found["nature"]
    assert isinstance(nature, dict)
    assert nature["people"] == 3 and nature["records"] == 10
    assert {c["key"]: c["people"] for c in nature["categories"]} == {
        "user.behavior.media_consumption": 3,
        "user.contact.email": 2,
    }
    assert "encrypted data together with its keys" in nature["description"]
    assert found["contact"] == {"organization": "Demo Shop", "contact": "privacy@demo-shop.example"}
    assert "high risk" in str(found["likely_consequences"])
    assert "replaced every key" in str(found["measures"])
    assert found["deadline"] == "2026-11-26T10:00:00.000000Z"
    assert found["seconds_left"] == 42 * 3600 and found["clock"] == "42 h 0 min left"
    assert found["overdue"] is False
    submit(shop, incident.incident_id)
    assert report(shop, incident.incident_id)["clock"] == "submitted on time"
    with pytest.raises(ReportAlreadySubmitted, match="already submitted"):
        submit(shop, incident.incident_id)
    with shop.reader() as uow:
        assert timeline(uow, incident.incident_id)[-1].step == "report_submitted"


def test_past_72_hours_the_report_is_overdue_and_needs_the_reasons(shop: Trustable) -> None:
    shoppers(shop)
    incident = record(shop)
    advance(shop, hours=75)
    found = report(shop, incident.incident_id)
    assert found["overdue"] is True and found["clock"] == "overdue by 3 h 0 min"
    with pytest.raises(IncidentRefused, match="reasons for the delay"):
        submit(shop, incident.incident_id)
    done = submit(shop, incident.incident_id, reason="The copy was found by a partner late.")
    assert done.delay_reason == "The copy was found by a partner late."
    assert report(shop, incident.incident_id)["clock"] == "submitted late"
