"""A portal sign-in by mailed code is an access request of its own channel: answered
by showing the portal, and never overdue when its code was never entered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from trustable.bootstrap import Trustable
from trustable.rights.service import Channel, Kind, list_requests, open_request

ASKED = datetime(2026, 10, 1, tzinfo=UTC)


def test_a_sign_in_never_finished_is_not_overdue_but_an_unanswered_request_is(
    app: Trustable,
) -> None:
    with app.uow() as uow:
        opened = {
            channel: open_request(
                uow,
                app.vault,
                app.policy,
                kind=Kind.access,
                customer_id=None,
                channel=channel,
                now=ASKED,
                actor="email",
            )
            for channel in (Channel.sign_in, Channel.email)
        }
        uow.commit()
    later = ASKED + timedelta(days=60)
    assert not opened[Channel.sign_in].overdue(later)
    assert opened[Channel.email].overdue(later)
    with app.reader() as uow:
        late = list_requests(uow, now=later, overdue=True)
    assert [r.request_id for r in late] == [opened[Channel.email].request_id]
