"""Joining one customer's history into another's, re-sealed under the survivor's key.

Runs when an `alias` or an `identify` carrying both ids ties two customers together.
Every row of the absorbed customer moves to the survivor; sealed values are opened
with the old key and sealed again with the survivor's, so nothing of theirs is left
under a key that no longer belongs to a live customer.
"""

from __future__ import annotations

from sqlalchemy import delete, select, update

from trustable.consent.service import merge_consents
from trustable.destinations.tables import outbox
from trustable.events.tables import events, received_messages, traits
from trustable.identity.service import mark_merged, move_identifiers
from trustable.ledger import service as ledger
from trustable.segments.service import merge_segments
from trustable.storage.uow import UnitOfWork
from trustable.storage.upsert import insert_ignoring_conflicts
from trustable.vault.service import Vault


def merge_histories(uow: UnitOfWork, vault: Vault, *, winner: str, loser: str) -> None:
    conn = uow.connection
    vault.load_keys([winner, loser])
    move_identifiers(uow, vault, winner, loser)
    merge_consents(uow, winner, loser)

    for row in conn.execute(
        select(events.c.id, events.c.message_id, events.c.payload).where(
            events.c.customer_id == loser
        )
    ).all():
        field = "event:" + row.message_id
        plain = vault.decrypt(loser, field, row.payload)
        conn.execute(
            update(events)
            .where(events.c.id == row.id)
            .values(customer_id=winner, payload=vault.encrypt(winner, field, plain))
        )

    theirs = conn.execute(select(traits).where(traits.c.customer_id == loser)).all()
    moved = []
    for row in theirs:
        field = "trait:" + row.name
        plain = vault.decrypt(loser, field, row.value)
        moved.append(
            {
                "customer_id": winner,
                "name": row.name,
                "category": row.category,
                "value": vault.encrypt(winner, field, plain),
                "updated_at": row.updated_at,
            }
        )
    # The survivor's own traits are the ones it stated last: they stay.
    insert_ignoring_conflicts(uow, traits, moved)
    conn.execute(delete(traits).where(traits.c.customer_id == loser))

    received = conn.execute(
        select(received_messages.c.message_id, received_messages.c.received_at).where(
            received_messages.c.customer_id == loser
        )
    ).all()
    insert_ignoring_conflicts(
        uow,
        received_messages,
        [{"customer_id": winner, "message_id": m, "received_at": t} for m, t in received],
    )
    conn.execute(delete(received_messages).where(received_messages.c.customer_id == loser))
    # Deliveries still queued follow the events they point at.
    conn.execute(update(outbox).where(outbox.c.customer_id == loser).values(customer_id=winner))
    merge_segments(uow, winner, loser)
    ledger.move_entries(uow, winner, loser)
    mark_merged(uow, winner, loser)
