"""Sending an incident's notices from end to end, owning the transactions (an entry
point, like `rights.runner`): the console, the API and the CLI all call `send`.

The notices are marked sent and logged in one unit of work; the mail leaves after it
commits, from the mailer's thread, and a notice the mail server never takes is marked
`failed` in a unit of work of its own, so the console shows it and sending again
reaches that customer, and only them.
"""

from __future__ import annotations

from trustable.bootstrap import Trustable
from trustable.core.mail import Outcome
from trustable.incidents.notices import Sending, mark_failed, send_notices
from trustable.incidents.service import get_incident


def send(
    app: Trustable, incident_id: str, *, portal_url: str, actor: str, anyway: bool = False
) -> Sending:
    with app.uow() as uow:
        sending = send_notices(
            uow,
            app.vault,
            app.policy,
            get_incident(uow, incident_id),
            portal_url=portal_url,
            actor=actor,
            now=app.clock(),
            anyway=anyway,
        )
        uow.commit()
    for customer_id, to, subject, body in sending.mails:
        app.mailer.send(to, subject, body, on_result=_recorder(app, incident_id, customer_id))
    return sending


def _recorder(app: Trustable, incident_id: str, customer_id: str) -> Outcome:
    def record(delivered: bool) -> None:
        if delivered:
            return
        with app.uow() as uow:
            mark_failed(uow, app.vault, incident_id, customer_id, actor="mailer", now=app.clock())
            uow.commit()

    return record
