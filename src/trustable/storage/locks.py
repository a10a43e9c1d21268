"""Named locks that last until the end of a unit of work (PostgreSQL advisory locks).

Some decisions are about rows that do not exist yet: "is this identifier new? then
make a customer for it". Two transactions can both decide "new" and then collide on
the unique index, or worse, decide differently about what follows. A lock on the
*name* serialises them: the second waits until the first commits, then looks again
and finds what the first one made.

Locks are taken in one statement, in sorted order, so two pieces of work that need
overlapping sets never wait for each other in a circle. Each `space` is a separate
set of names (the first key of PostgreSQL's two-key advisory locks), so these never
meet the locks of other parts of Trustable. On SQLite there is one writer at a time,
which is the strongest lock there is: nothing to do.
"""

from __future__ import annotations

from collections.abc import Iterable
from hashlib import blake2b

from sqlalchemy import text

from trustable.storage.uow import UnitOfWork

IDENTIFIERS = 0x54520001  # an identifier being created: kind and blind index
SEGMENT_COUNTS = 0x54520002  # a customer's segment memberships being judged
REFERENCE_WRITES = 0x54520003  # on Citus: the `identifiers` reference table written

_HOLD = text(
    "SELECT count(pg_advisory_xact_lock(:space, k)) "
    "FROM (SELECT unnest(CAST(:keys AS integer[])) AS k ORDER BY 1) AS sorted"
)


def lock_key(name: str) -> int:
    """A name's 32-bit key. Two names may share one: the cost is a needless wait."""
    return int.from_bytes(blake2b(name.encode(), digest_size=4).digest(), "big", signed=True)


def hold(uow: UnitOfWork, space: int, names: Iterable[str]) -> None:
    """Lock every name in `space` until the unit of work ends (waiting for holders)."""
    if uow.dialect != "postgresql":
        return
    keys = sorted({lock_key(name) for name in names})
    if keys:
        uow.connection.execute(_HOLD, {"space": space, "keys": keys})


def hold_reference_writes(uow: UnitOfWork) -> None:
    """On Citus, before work that writes the `identifiers` reference table and may
    then update it (vouch for an identifier, join histories): such work takes turns.

    Citus locks a reference table on every node for each write until the transaction
    ends: shared for a plain insert, exclusive for an update, a delete or an insert
    with `ON CONFLICT`. Work that inserts and then updates upgrades its lock, and two
    doing that at once deadlock. One at a time they cannot; work that only inserts,
    or starts with an exclusive write, never upgrades and needs no turn. Elsewhere
    nothing is needed: PostgreSQL locks rows, not the table, and SQLite has one
    writer.
    """
    if uow.distributed:
        hold(uow, REFERENCE_WRITES, ["identifiers"])
