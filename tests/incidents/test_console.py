"""The console's incidents pages over HTTP: a privacy officer walks a breach from
record to sent notices and a submitted report; the admin follows, others see nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from tests.conftest import LiveServer, free_port
from tests.incidents.support import T0, record, shoppers
from tests.mail import Inbox, mail_to, mailing_shop
from tests.portal.support import csrf_of
from tests.users.support import Console, console_browsers
from trustable.bootstrap import Trustable, bootstrap
from trustable.core.clock import FixedClock
from trustable.core.mail import Mailer
from trustable.core.settings import Settings
from trustable.incidents.service import list_incidents


@pytest.fixture
def shop(settings: Settings, inbox: tuple[Inbox, int]) -> Iterator[Trustable]:
    with mailing_shop(settings, inbox[1], FixedClock(T0)) as app:
        yield app


@pytest.fixture
def console(shop: Trustable, live_server_for: Any) -> Iterator[Console]:
    server: LiveServer = live_server_for(shop)
    with console_browsers(shop, server.url) as sign_in:
        yield sign_in


def test_a_breach_walked_through_the_console(
    shop: Trustable, console: Console, inbox: tuple[Inbox, int]
) -> None:
    assert isinstance(shop.clock, FixedClock)
    shop.clock.now = T0 - timedelta(hours=6)  # the customers' data, stored at 04:00
    shoppers(shop)
    shop.clock.now = T0
    officer = console("privacy_officer")
    listing = officer.get("/admin/incidents")
    assert listing.status_code == 200 and "Record an incident" in listing.text
    assert 'href="/admin/incidents"' in listing.text  # in the menu
    recorded = officer.post(
        "/admin/incidents",
        data={
            "title": "Backup <b>copied</b> by a contractor",
            "window_start": "2026-11-21T10:00",
            "window_end": "2026-11-23T04:30",
            "discovered_at": "2026-11-23T05:00",
            "store": "backup",
            "exposed": "both",
            "categories": ["user.contact.email", "user.behavior.media_consumption"],
            "measures": "We revoked the contractor's access and replaced every key.",
            "csrf": csrf_of(listing.text),
        },
    )
    assert recorded.status_code == 303, recorded.text
    detail_url = recorded.headers["location"]
    page = officer.get(detail_url).text
    assert "Backup &lt;b&gt;copied&lt;/b&gt;" in page  # escaped, never markup
    assert "67 h 0 min left" in page and 'data-deadline="2026-11-26T05:00:00+00:00"' in page
    assert "<dd>3</dd>" in page  # customers affected
    assert "Email address <code>user.contact.email</code></td><td>2" in page
    assert "Approve the notices" in page and "Send 3 notices" not in page
    approved = officer.post(
        f"{detail_url}/approve", data={"csrf": csrf_of(page)}, follow_redirects=True
    )
    assert "Send 3 notices by email" in approved.text
    sent = officer.post(
        f"{detail_url}/send", data={"csrf": csrf_of(approved.text)}, follow_redirects=True
    )
    assert "Sent: 2 by email; 1 customer has no email" in sent.text
    twice = officer.post(f"{detail_url}/send", data={"csrf": csrf_of(sent.text)})
    assert twice.status_code == 409 and "never sent twice" in twice.text
    shop.mailer.flush()
    deadline = time.monotonic() + 5
    while len(inbox[0].messages) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(inbox[0].messages) == 2
    submitted = officer.post(
        f"{detail_url}/submit", data={"csrf": csrf_of(sent.text)}, follow_redirects=True
    )
    assert "submitted on time" in submitted.text
    for step in ("recorded", "affected", "notices approved", "notices sent", "report submitted"):
        assert step in submitted.text
    assert "by privacy-officer-0 · ledger entry" in submitted.text  # staff by name
    assert "ada@example.org" not in submitted.text


def test_others_follow_or_see_nothing_and_bad_input_is_refused(
    shop: Trustable, console: Console
) -> None:
    admin = console("admin")
    page = admin.get("/admin/incidents")
    assert page.status_code == 200 and "Record an incident" not in page.text
    refused = admin.post(
        "/admin/incidents",
        data={
            "title": "t",
            "window_start": "2026-11-21T10:00",
            "window_end": "2026-11-22T10:00",
            "store": "data_store",
            "exposed": "both",
            "categories": ["user.contact.email"],
            "csrf": csrf_of(page.text),
        },
    )
    assert refused.status_code == 403
    assert console("analyst").get("/admin/incidents").status_code == 403
    officer = console("privacy_officer")
    form = officer.get("/admin/incidents").text
    inverted = officer.post(
        "/admin/incidents",
        data={
            "title": "t",
            "window_start": "2026-11-22T10:00",
            "window_end": "2026-11-21T10:00",
            "store": "data_store",
            "exposed": "both",
            "categories": ["user.contact.email"],
            "csrf": csrf_of(form),
        },
    )
    assert inverted.status_code == 400 and "window is inverted" in inverted.text
    # The form comes back on its own page: the message beside its field, input kept.
    cleartext = officer.post(
        "/admin/incidents",
        data={
            "title": "Laptop with a database copy stolen",
            "window_start": "2026-11-21T10:00",
            "window_end": "2026-11-22T10:00",
            "store": "data_store",
            "exposed": "cleartext",
            "categories": ["user.contact.email"],
            "measures": "Remote wipe requested",
            "csrf": csrf_of(form),
        },
    )
    assert cleartext.status_code == 400 and "Record an incident" in cleartext.text
    text = cleartext.text
    assert '<p class="field-error" id="exposed-error">' in text
    assert 'id="exposed" name="exposed" required aria-invalid="true"' in text
    assert '<a href="#exposed">' in text  # the summary links to the field
    assert 'value="Laptop with a database copy stolen"' in text
    assert 'value="cleartext" selected' in text and 'value="data_store" selected' in text
    assert 'value="user.contact.email" checked' in text and ">Remote wipe requested<" in text
    unreadable = officer.post(
        "/admin/incidents",
        data={
            "title": "t",
            "window_start": "yesterday",
            "window_end": "2026-11-22T10:00",
            "store": "data_store",
            "exposed": "both",
            "csrf": csrf_of(form),
        },
    )
    assert unreadable.status_code == 400 and 'id="start-error"' in unreadable.text
    assert 'value="yesterday"' in unreadable.text
    forged = officer.post(
        "/admin/incidents",
        data={
            "title": "t",
            "window_start": "2026-11-21T10:00",
            "window_end": "2026-11-22T10:00",
            "store": "data_store",
            "exposed": "both",
        },
    )
    assert forged.status_code == 403
    with shop.reader() as uow:
        assert list_incidents(uow) == []


def test_undelivered_notices_are_shown_and_sent_again_from_the_console(
    settings: Settings, inbox: tuple[Inbox, int], live_server_for: Any
) -> None:
    nobody = mail_to(free_port())  # nothing listens there
    app = bootstrap(replace(settings, mail=nobody), clock=FixedClock(T0))
    try:
        shoppers(app)
        incident = record(app)
        with console_browsers(app, live_server_for(app).url) as console:
            officer = console("privacy_officer")
            url = f"/admin/incidents/{incident.incident_id}"
            page = officer.get(url).text
            page = officer.post(
                f"{url}/approve", data={"csrf": csrf_of(page)}, follow_redirects=True
            ).text
            officer.post(f"{url}/send", data={"csrf": csrf_of(page)})
            app.mailer.flush()  # nothing listens: each notice is given up on
            page = officer.get(url).text
            assert "2 notices could not be delivered" in page
            assert "Send the 2 failed notices again" in page
            app.mailer.close()
            app.mailer = Mailer(replace(nobody, smtp_port=inbox[1]))
            again = officer.post(f"{url}/send", data={"csrf": csrf_of(page)})
            assert again.status_code == 303
            app.mailer.flush()
            assert len(inbox[0].messages) == 2
            assert "could not be delivered" not in officer.get(url).text
    finally:
        app.close()


def test_a_late_report_without_its_reasons_comes_back_with_the_field_marked(
    shop: Trustable, console: Console
) -> None:
    discovered = shop.clock() - timedelta(days=4)
    late = record(shop, discovered_at=discovered, window_start=discovered - timedelta(days=1),
                  window_end=discovered)  # fmt: skip
    officer = console("privacy_officer")
    url = f"/admin/incidents/{late.incident_id}"
    page = officer.get(url).text
    assert "Reasons for the delay" in page
    refused = officer.post(f"{url}/submit", data={"delay_reason": "", "csrf": csrf_of(page)})
    assert refused.status_code == 400 and 'id="delay-error"' in refused.text
    assert 'id="delay" name="delay_reason"' in refused.text and "aria-invalid" in refused.text
    done = officer.post(
        f"{url}/submit",
        data={"delay_reason": "The copy was found by a partner", "csrf": csrf_of(page)},
        follow_redirects=True,
    )
    assert done.status_code == 200 and "The copy was found by a partner" in done.text
