"""Slowing password guessing at the console without handing strangers a lock.

A lock on the account (five wrong passwords and it closes) lets anyone who knows a
username lock its owner out, and it answers differently for usernames that exist.
So failures are counted by what the one trying controls, never by account:

- per (username, client address): `PAIR_LIMIT` failures within `WINDOW` block that
  username *from that address* for `BLOCK_FOR`. The owner, signing in from another
  address, is not affected;
- per client address, whatever the usernames: `ADDRESS_LIMIT` failures within
  `WINDOW` block that address for `BLOCK_FOR`, so one address cannot walk through
  usernames either.

There is no count per username across addresses: any limit there is one a stranger
reaches at will and holds for as long as they keep trying. Guessing spread over many
addresses is slowed by the per-address limits and by Argon2id (every attempt that
is not blocked costs one hash), against passwords of at least 12 characters.

Everything here depends only on what was sent (the username as typed, the address),
never on whether the account exists: real and unknown usernames are counted,
blocked and answered alike. A blocked attempt is refused before any password is
checked, and does not extend the block. The client address is the connection's
peer (`request.client.host`); `X-Forwarded-For` is not read, as Trustable has no
setting naming a proxy to trust. Behind a reverse proxy every client shares the
proxy's address, and the per-address limit then applies to all of them together.

Rows name what they count by a keyed hash (`Vault.blind_index`), so neither the
addresses nor the usernames tried (sometimes a password typed in the wrong box)
are kept. `sweep` removes rows that neither count nor block any more.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update

from trustable.storage.uow import UnitOfWork
from trustable.storage.upsert import insert_ignoring_conflicts
from trustable.users.tables import sign_in_failures
from trustable.vault.service import Vault

PAIR_LIMIT = 5  # failures of one username from one address
ADDRESS_LIMIT = 20  # failures from one address, whatever the usernames
WINDOW = timedelta(minutes=15)  # failures older than this are forgotten
BLOCK_FOR = timedelta(minutes=15)


@dataclass(frozen=True)
class Attempt:
    """Where a sign-in comes from, as the keys of its two counts."""

    pair: str
    address: str


def attempt(vault: Vault, username: str, address: str) -> Attempt:
    """The counts an attempt at `username` from `address` falls under. The username
    is folded as the sign-in folds it (`Ada` is `ada`), valid or not."""
    name = unicodedata.normalize("NFKC", username).strip().lower()
    return Attempt(
        pair=vault.blind_index("console_sign_in_pair", f"{name}\x00{address}"),
        address=vault.blind_index("console_sign_in_address", address),
    )


def blocked(uow: UnitOfWork, tried: Attempt, *, now: datetime) -> bool:
    """Is this username from this address, or this address at all, blocked now?"""
    found = uow.connection.execute(
        select(sign_in_failures.c.key).where(
            sign_in_failures.c.key.in_((tried.pair, tried.address)),
            sign_in_failures.c.blocked_until > now,
        )
    ).first()
    return found is not None


def record_failure(uow: UnitOfWork, tried: Attempt, *, now: datetime) -> bool:
    """Count one failure under both keys; True when it blocks either of them."""
    pair = _count(uow, tried.pair, PAIR_LIMIT, now)
    address = _count(uow, tried.address, ADDRESS_LIMIT, now)
    return pair or address


def record_success(uow: UnitOfWork, tried: Attempt) -> None:
    """A right password forgets that username's failures from that address; the
    address's own count stays, or a guesser with an account of their own could
    reset it between guesses."""
    uow.connection.execute(delete(sign_in_failures).where(sign_in_failures.c.key == tried.pair))


def sweep(uow: UnitOfWork, now: datetime) -> int:
    """Remove counts that have run out and block nothing: what they counted is
    forgotten anyway."""
    done = uow.connection.execute(
        delete(sign_in_failures).where(
            sign_in_failures.c.counting_since <= now - WINDOW,
            or_(
                sign_in_failures.c.blocked_until.is_(None),
                sign_in_failures.c.blocked_until <= now,
            ),
        )
    )
    return int(done.rowcount or 0)


def _count(uow: UnitOfWork, key: str, limit: int, now: datetime) -> bool:
    conn = uow.connection
    insert_ignoring_conflicts(
        uow,
        sign_in_failures,
        [{"key": key, "failures": 0, "counting_since": now, "blocked_until": None}],
    )
    stmt = select(sign_in_failures.c.failures, sign_in_failures.c.counting_since).where(
        sign_in_failures.c.key == key
    )
    if uow.dialect == "postgresql":
        stmt = stmt.with_for_update()  # two failures at once count as two
    row = conn.execute(stmt).one()
    failures, since = int(row.failures), row.counting_since
    if since <= now - WINDOW:
        failures, since = 0, now  # the earlier failures are forgotten
    failures += 1
    values: dict[str, object] = {"failures": failures, "counting_since": since}
    reached = failures >= limit
    if reached:
        # Blocked, and counting starts over from the block's end.
        values = {
            "failures": 0,
            "counting_since": now + BLOCK_FOR,
            "blocked_until": now + BLOCK_FOR,
        }
    conn.execute(update(sign_in_failures).where(sign_in_failures.c.key == key).values(**values))
    return reached
