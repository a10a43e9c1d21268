"""Notices: drafted per customer in plain words, sent by real SMTP once approved, never twice."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace

import pytest

from tests.conftest import free_port
from tests.incidents.support import PORTAL, T0, record, shoppers
from tests.mail import Inbox, mail_to, mailing_shop
from trustable.bootstrap import Trustable, bootstrap
from trustable.core.clock import FixedClock
from trustable.core.mail import Mailer
from trustable.core.settings import Settings
from trustable.incidents import runner
from trustable.incidents.affected import affected_customers
from trustable.incidents.notices import Sending
from trustable.incidents.service import (
    Incident,
    NoticesAlreadySent,
    NoticesNotRequired,
    NoticeState,
    Status,
    WrongState,
    approve_notices,
    get_incident,
    notice_counts,
    timeline,
)
from trustable.ledger import service as ledger
from trustable.ledger.sequencer import flush
from trustable.portal.service import describe


@pytest.fixture
def shop(settings: Settings, inbox: tuple[Inbox, int]) -> Iterator[Trustable]:
    with mailing_shop(settings, inbox[1], FixedClock(T0)) as app:
        yield app


def approve(app: Trustable, incident: Incident) -> Incident:
    with app.uow() as uow:
        done = approve_notices(uow, app.vault, incident, actor="usr_officer", now=app.clock())
        uow.commit()
    return done


def send(app: Trustable, incident_id: str, *, anyway: bool = False) -> Sending:
    sending = runner.send(app, incident_id, portal_url=PORTAL, actor="usr_officer", anyway=anyway)
    app.mailer.flush()
    return sending


def wait_for(inbox: Inbox, count: int) -> None:
    deadline = time.monotonic() + 5
    while len(inbox.messages) < count and time.monotonic() < deadline:
        time.sleep(0.02)


def test_each_customer_is_told_of_their_own_data_once_approved(
    shop: Trustable, inbox: tuple[Inbox, int]
) -> None:
    people = shoppers(shop)
    incident = record(shop, categories=["user.contact.email", "user.behavior.media_consumption"])
    with pytest.raises(WrongState, match="approve"):
        send(shop, incident.incident_id)
    approve(shop, incident)
    sending = send(shop, incident.incident_id)
    assert sending.sent == 2 and sending.no_email == 1  # Alan has no address: counted
    wait_for(inbox[0], 2)
    mails = {m["To"]: m for m in inbox[0].messages}
    assert set(mails) == {"ada@example.org", "grace@example.org"}
    body = mails["ada@example.org"].get_payload()
    assert mails["ada@example.org"]["From"] == "privacy@shop.example"
    assert "security incident at Demo Shop" in body
    words = " ".join(mails["ada@example.org"].get_payload(decode=True).decode().split())
    for category in ("user.contact.email", "user.behavior.media_consumption"):
        assert shop.policy.category_label(category) in words  # the policy's plain words
    assert "replaced every key" in body  # what we did, in the officer's words
    assert PORTAL in body and "privacy@demo-shop.example" in body
    assert "Change your password" not in body  # account advice only for account data
    flush(shop)
    with shop.reader() as uow:
        states = {c.customer_id: c.notice for c in affected_customers(uow, incident.incident_id)}
        assert states == {
            people["ada"]: NoticeState.sent,
            people["grace"]: NoticeState.sent,
            people["alan"]: NoticeState.no_email,
        }
        notices = [e.content() for e in ledger.customer_entries(uow, people["ada"])]
        (notice,) = [n for n in notices if n["kind"] == "incident_notice"]
        assert notice["detail"]["state"] == "sent"
        assert notice["subject"] == shop.vault.pseudonym(people["ada"])
        entry = ledger.entry(uow, notice["i"])
        assert b"ada@example.org" not in entry.body
        told = describe(entry, shop.policy, {}).sentence  # what Ada's portal says
        assert told == (
            "A security incident involved your data (films you watched and rated; email "
            "address); we told you by email"
        )
        steps = [s.step for s in timeline(uow, incident.incident_id)]
        assert steps == ["recorded", "affected", "notices_approved", "notices_sent"]
        assert get_incident(uow, incident.incident_id).status is Status.notified


def test_a_notice_is_never_sent_twice(shop: Trustable, inbox: tuple[Inbox, int]) -> None:
    shoppers(shop)
    incident = approve(shop, record(shop))
    send(shop, incident.incident_id)
    with pytest.raises(NoticesAlreadySent, match="never sent twice"):
        send(shop, incident.incident_id)
    with pytest.raises(WrongState, match="already approved"):
        approve(shop, get_incident_now(shop, incident.incident_id))
    assert len(inbox[0].messages) == 2  # the mailer was flushed: nothing else is coming


def get_incident_now(app: Trustable, incident_id: str) -> Incident:
    with app.reader() as uow:
        return get_incident(uow, incident_id)


def test_ciphertext_alone_needs_no_notices_unless_sent_anyway(
    shop: Trustable, inbox: tuple[Inbox, int]
) -> None:
    shoppers(shop)
    incident = approve(shop, record(shop, exposed="ciphertext"))
    with pytest.raises(NoticesNotRequired, match=r"Art\. 34\(3\)\(a\)"):
        send(shop, incident.incident_id)
    assert get_incident_now(shop, incident.incident_id).status is Status.approved
    sending = send(shop, incident.incident_id, anyway=True)
    assert sending.sent == 2
    wait_for(inbox[0], 2)
    assert "cannot be read" in inbox[0].messages[0].get_payload()


def test_a_notice_the_mail_server_never_took_is_failed_and_sent_again_alone(
    settings: Settings, inbox: tuple[Inbox, int]
) -> None:
    nobody = mail_to(free_port())  # nothing listens there
    app = bootstrap(replace(settings, mail=nobody), clock=FixedClock(T0))
    try:
        people = shoppers(app)
        incident = approve(app, record(app))
        send(app, incident.incident_id)  # nothing listens: every attempt is refused
        flush(app)
        with app.reader() as uow:
            counts = notice_counts(uow, incident.incident_id)
            ada = [e.content() for e in ledger.customer_entries(uow, people["ada"])]
        assert (counts.pending, counts.sent, counts.failed) == (0, 0, 2)
        failed = [e for e in ada if e["kind"] == "incident_notice"][-1]
        assert failed["detail"]["state"] == "failed"  # her history does not claim she was told
        assert (
            "could not reach you"
            in describe(ledger_entry(app, failed["i"]), app.policy, {}).sentence
        )

        app.mailer.close()
        app.mailer = Mailer(replace(nobody, smtp_port=inbox[1]))  # the server is back
        again = send(app, incident.incident_id)
        assert again.again and again.sent == 2
        wait_for(inbox[0], 2)
        assert sorted(m["To"] for m in inbox[0].messages) == [
            "ada@example.org",
            "grace@example.org",
        ]
        with app.reader() as uow:
            assert notice_counts(uow, incident.incident_id).failed == 0
            steps = [s.step for s in timeline(uow, incident.incident_id)]
        assert steps[-2:] == ["notices_sent", "notices_sent_again"]
        with pytest.raises(NoticesAlreadySent, match="never sent twice"):
            send(app, incident.incident_id)
        assert len(inbox[0].messages) == 2
    finally:
        app.close()


def ledger_entry(app: Trustable, index: int) -> ledger.StoredEntry:
    with app.reader() as uow:
        return ledger.entry(uow, index)
