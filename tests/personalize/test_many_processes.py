"""Each process has a recommender of its own; a customer erased through another
process leaves this one's model within a second, with nothing else changed that its
sync would notice (the request was filed and verified long before)."""

from __future__ import annotations

import time

from tests.helpers import grant
from tests.personalize.test_recommendations import PERSONALIZE, audience, customer_id, rate
from trustable.bootstrap import Trustable, bootstrap
from trustable.core.settings import Settings
from trustable.personalize.runner import personalization, start_in_background
from trustable.rights.runner import process
from trustable.rights.service import Channel, Kind, State, move, open_request


def test_an_erasure_elsewhere_takes_the_customer_out_of_this_process_model(
    app: Trustable, settings: Settings
) -> None:
    audience(app)
    grant(app, "ada", PERSONALIZE)
    rate(app, "ada", {"1": 5, "2": 5})
    ada = customer_id(app, "ada")
    with app.uow() as uow:
        opened = open_request(
            uow,
            app.vault,
            app.policy,
            kind=Kind.erase,
            customer_id=ada,
            channel=Channel.api,
            now=app.clock(),
            actor="test",
            jurisdiction=None,
            detail={},
        )
        move(uow, app.vault, opened, State.verified, actor="test", now=app.clock())
        uow.commit()

    other = bootstrap(settings, run_migrations=False)  # another process: its own model
    _, stop = start_in_background(other)
    try:
        model = personalization(other).recommender().model
        deadline = time.monotonic() + 5
        while ada not in model.contributors and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ada in model.contributors
        time.sleep(0.6)  # its sync has seen the request filed: nothing new from here on

        assert process(app, opened.request_id, actor="test").state is State.done
        erased = time.monotonic()
        while ada in model.contributors and time.monotonic() - erased < 5:
            time.sleep(0.02)
        taken = time.monotonic() - erased
        assert ada not in model.contributors
        assert taken < 1.0, taken
    finally:
        stop.set()
        time.sleep(0.3)
        other.close()
