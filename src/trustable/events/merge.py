"""Joining one customer's history into another's, and undoing it.

A join runs when an `alias` or an `identify` carrying both ids ties two customers
together (within the rules of docs/identity.md). Every row of the absorbed customer
moves to the survivor; sealed values are opened with the old key and sealed again
with the survivor's, so nothing of theirs is left under a key that no longer belongs
to a live customer. Each moved row remembers the history it came from (`history`),
and what arrives later under the absorbed history's identifiers is marked so too:
that is what lets a privacy officer undo the join (`split_histories`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, delete, select

from trustable.consent.service import merge_consents, split_consents
from trustable.core.errors import NotFound, TrustableError
from trustable.destinations.tables import outbox
from trustable.events.tables import events, received_messages, traits
from trustable.identity.merges import (
    absorbed_histories,
    get_merge,
    mark_merged,
    mark_unmerged,
    move_identifiers,
    record_merge,
    return_identifiers,
)
from trustable.identity.service import customer_exists
from trustable.ledger import service as ledger
from trustable.segments.service import merge_segments, split_segments
from trustable.storage.moves import reassign
from trustable.storage.uow import UnitOfWork
from trustable.storage.upsert import insert_ignoring_conflicts
from trustable.vault.service import Vault


def merge_histories(
    uow: UnitOfWork,
    vault: Vault,
    *,
    winner: str,
    loser: str,
    actor: str,
    now: datetime,
    trusted: bool,
) -> None:
    """`trusted`: a trusted source joined them, so `loser`'s later grants carry over
    (`merge_consents`)."""
    conn = uow.connection
    vault.load_keys([winner, loser])
    move_identifiers(uow, vault, winner, loser)
    merge_consents(uow, winner, loser, widen=trusted)

    _move_events(
        uow,
        vault,
        events.c.customer_id == loser,
        source=loser,
        target=winner,
        history=lambda h: h or loser,
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
                "history": row.history or loser,
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
    reassign(uow, outbox, outbox.c.customer_id == loser, {"customer_id": winner})
    merge_segments(uow, winner, loser)
    ledger.move_entries(uow, winner, loser)
    mark_merged(uow, winner, loser)
    record_merge(uow, winner=winner, loser=loser, actor=actor, now=now)


def _move_events(
    uow: UnitOfWork,
    vault: Vault,
    which: ColumnElement[bool],
    *,
    source: str,
    target: str,
    history: Callable[[str | None], str | None],
) -> list[str]:
    """Give the events `which` selects from `source` to `target`, each opened with the
    old key and sealed with the new one, its `history` mapped; their message ids."""
    conn = uow.connection
    rows = conn.execute(
        select(events.c.id, events.c.message_id, events.c.payload, events.c.history).where(which)
    ).all()
    for row in rows:
        field = "event:" + row.message_id
        plain = vault.decrypt(source, field, row.payload)
        reassign(
            uow,
            events,
            (events.c.customer_id == source) & (events.c.id == row.id),
            {
                "customer_id": target,
                "payload": vault.encrypt(target, field, plain),
                "history": history(row.history),
            },
        )
    return [row.message_id for row in rows]


class AlreadyUndone(TrustableError):
    code = "merge_undone"
    status = 409


@dataclass(frozen=True)
class Split:
    """What undoing a join gave back to the history it had absorbed."""

    merge_id: str
    holder: str  # the live customer the history was taken from
    restored: str  # the absorbed history, a customer of its own again
    identifiers: int
    events: int
    traits: int


def split_histories(
    uow: UnitOfWork, vault: Vault, merge_id: str, *, actor: str, now: datetime
) -> Split:
    """Undo a join: the absorbed history, and every history joined into it before,
    becomes a customer of its own again, with its identifiers, events, traits,
    consent records and ledger entries, including those collected into it since the
    join. Logged for both customers. The caller commits."""
    merge = get_merge(uow, merge_id)
    if merge is None:
        raise NotFound("no such merge", code="unknown_merge")
    if merge.undone_at is not None:
        raise AlreadyUndone("this merge was undone already")
    holder = customer_exists(uow, merge.winner)
    if holder is None:
        raise NotFound("the customer it was joined into has been erased", code="unknown_merge")
    restored = merge.loser
    histories = absorbed_histories(uow, restored)
    conn = uow.connection
    vault.load_keys([holder, restored])
    mark_unmerged(uow, merge_id, restored, actor=actor, now=now)
    moved_identifiers = return_identifiers(
        uow, vault, holder=holder, to=restored, histories=histories
    )

    def back(history: str | None) -> str | None:
        return None if history == restored else history

    message_ids = _move_events(
        uow,
        vault,
        and_(events.c.customer_id == holder, events.c.history.in_(histories)),
        source=holder,
        target=restored,
        history=back,
    )
    for start in range(0, len(message_ids), 500):
        chunk = message_ids[start : start + 500]
        reassign(
            uow,
            received_messages,
            (received_messages.c.customer_id == holder)
            & received_messages.c.message_id.in_(chunk),
            {"customer_id": restored},
        )
        reassign(
            uow,
            outbox,
            (outbox.c.customer_id == holder) & outbox.c.message_id.in_(chunk),
            {"customer_id": restored},
        )

    their_traits = conn.execute(
        select(traits).where(traits.c.customer_id == holder, traits.c.history.in_(histories))
    ).all()
    if their_traits:
        conn.execute(
            traits.insert(),
            [
                {
                    "customer_id": restored,
                    "name": row.name,
                    "category": row.category,
                    "value": vault.encrypt(
                        restored,
                        "trait:" + row.name,
                        vault.decrypt(holder, "trait:" + row.name, row.value),
                    ),
                    "updated_at": row.updated_at,
                    "history": back(row.history),
                }
                for row in their_traits
            ],
        )
        conn.execute(
            delete(traits).where(traits.c.customer_id == holder, traits.c.history.in_(histories))
        )
    split_consents(uow, holder=holder, to=restored, histories=histories)
    split_segments(uow, holder=holder, to=restored, message_ids=message_ids)
    ledger.return_entries(uow, holder, restored, histories)
    detail = {"merge": merge_id}
    ledger.submit(
        uow,
        vault,
        [
            ledger.Record(
                kind="unmerge",
                customer_id=holder,
                actor=actor,
                detail={**detail, "restored": vault.pseudonym(restored)},
            ),
            ledger.Record(
                kind="unmerge",
                customer_id=restored,
                actor=actor,
                detail={**detail, "from": vault.pseudonym(holder)},
            ),
        ],
        now=now,
    )
    return Split(
        merge_id=merge_id,
        holder=holder,
        restored=restored,
        identifiers=moved_identifiers,
        events=len(message_ids),
        traits=len(their_traits),
    )
