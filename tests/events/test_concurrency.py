"""Many senders at once over real HTTP: batches that create the same new customers,
join the same histories and fill the same segments concurrently all answer 200,
and what they acknowledged is stored exactly once, under one customer per
identifier."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import select

from tests.conftest import LiveServer
from tests.helpers import msg
from tests.senders import fire
from trustable.bootstrap import Trustable
from trustable.events.tables import events, received_messages
from trustable.identity.tables import customers, identifiers, merges

# Also on a Citus cluster (tests/conftest.py): one of the paths docs/scale.md names.
pytestmark = pytest.mark.citus

SENDERS = 6
ROUNDS = 10
PEOPLE = 12


def _round_batch(rnd: int, sender: int) -> list[dict[str, Any]]:
    """The same brand-new people as every other sender this round, in an order of
    this sender's own; a third of them also alias an anonymous history."""
    shuffle = random.Random(rnd * 1000 + sender)
    order = list(range(PEOPLE))
    shuffle.shuffle(order)
    out: list[dict[str, Any]] = []
    for k in order:
        k += rnd * PEOPLE // 2  # half of them were in the round before
        user, anon = f"u-{k}", f"a-{k}"
        out.append(msg("page", anonymousId=anon, name="Shoes"))
        out.append(msg("identify", user, anonymousId=anon, traits={"plan": "pro"}))
        out.append(msg("track", user, event="Order Completed", properties={"order_id": f"o-{k}"}))
        if k % 3 == 0:
            # Another sender's visitor of this round signs in as the same user.
            other = f"a-{k + 1}"
            out.append(msg("alias", user, previousId=other))
    return out


def test_concurrent_batches_about_the_same_new_people_never_fail(
    app: Trustable, live_server: LiveServer, server_key: str
) -> None:
    batches = [[_round_batch(r, s) for s in range(SENDERS)] for r in range(ROUNDS)]
    answers = fire(live_server, server_key, batches)
    statuses = Counter(status for status, _ in answers)
    assert statuses == {200: SENDERS * ROUNDS}
    sent = [m for _, ids in answers for m in ids]

    with app.reader() as uow:
        conn = uow.connection
        received = Counter(conn.execute(select(received_messages.c.message_id)).scalars())
        stored = Counter(conn.execute(select(events.c.message_id)).scalars())
        live = set(
            conn.execute(
                select(customers.c.customer_id).where(customers.c.merged_into.is_(None))
            ).scalars()
        )
        owners = conn.execute(
            select(identifiers.c.kind, identifiers.c.blind_index, identifiers.c.customer_id)
        ).all()
        absorbed = Counter(conn.execute(select(merges.c.absorbed)).scalars())
        holders = {
            r[0]: r[1]
            for r in conn.execute(
                select(received_messages.c.message_id, received_messages.c.customer_id)
            )
        }
    # Every acknowledged message was received once, and stored at most once.
    assert set(received) == set(sent) and max(received.values()) == 1
    assert max(stored.values()) == 1
    # One customer per identifier, and that customer is live.
    assert len({(k, b) for k, b, _ in owners}) == len(owners)
    assert {c for _, _, c in owners} <= live
    # Each history was joined into another once, however many batches asked at once.
    assert absorbed and max(absorbed.values()) == 1
    # Every message lies with a live customer (none with a history absorbed since).
    assert set(holders.values()) <= live
    # Each alias joined the next visitor's history into the user's.
    by_ident = {(k, b): c for k, b, c in owners}
    last = (ROUNDS - 1) * PEOPLE // 2 + PEOPLE
    for k in range(0, last, 3):
        user = by_ident[("user_id", app.vault.blind_index("user_id", f"u-{k}"))]
        for anon in (f"a-{k}", f"a-{k + 1}"):
            assert by_ident[("anonymous_id", app.vault.blind_index("anonymous_id", anon))] == user


def test_one_batch_sent_by_many_senders_at_once_is_stored_once(
    app: Trustable, live_server: LiveServer, server_key: str
) -> None:
    """The same messages (same message ids) from every sender at the same moment, each
    in an order of its own, as when one batch is re-sent to another server."""
    rounds = []
    for r in range(4):
        same = [
            msg(
                "track",
                f"buyer-{k % 5}",
                event="Order Completed",
                properties={"order_id": f"o-{r}-{k}"},
            )
            for k in range(20)
        ]
        senders = []
        for s in range(SENDERS):
            mine = list(same)
            random.Random(r * 100 + s).shuffle(mine)
            senders.append(mine)
        rounds.append(senders)
    answers = fire(live_server, server_key, rounds)
    assert Counter(status for status, _ in answers) == {200: SENDERS * 4}
    with app.reader() as uow:
        received = Counter(uow.connection.execute(select(received_messages.c.message_id)).scalars())
        stored = Counter(uow.connection.execute(select(events.c.message_id)).scalars())
    assert len(received) == 4 * 20 and set(received.values()) == {1}
    assert len(stored) == 4 * 20 and set(stored.values()) == {1}
