"""MovieLens 100K as customers: 943 people and their 100,000 ratings.

People become customers `ml-<id>` with age, gender, occupation and zip code as
traits; ratings become `Movie Rated` track events (with the film's title and
genres, so the policy's segments can read them). Everything goes through the same
collection path as an SDK's batch, so minimization and encryption apply as usual.
The files are GroupLens' (research use only): they are read from where they lie and
never copied into Trustable's repository.

The ratings were made in 1997–98: kept at those dates, every one of them would be
past the policy's retention and the first retention sweep would delete them all.
So all dates move forward by one offset, the newest rating landing at import time:
order, gaps and the seven-month span stay as they were (what a temporal split needs).
"""

from __future__ import annotations

import csv
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from trustable.bootstrap import Trustable
from trustable.consent.service import ConsentMethod, ConsentStatus, record_consent
from trustable.core.errors import InvalidInput
from trustable.events.segment import parse_batch
from trustable.events.service import IngestResult, ingest
from trustable.identity.batch import IdentityBatch
from trustable.storage.uow import UnitOfWork

PERSONALIZE = "personalize.content.profiled"
BATCH = 1000
ACTOR = "import:movielens"


@dataclass(frozen=True)
class ImportSummary:
    customers: int
    events: int
    stored: int
    fields_dropped: int


def _rows(path: Path) -> Iterator[dict[str, str]]:
    """Rows of a RecBole atomic file, keyed by the header names without their types."""
    try:
        handle = path.open(encoding="latin-1", newline="")
    except FileNotFoundError as exc:
        raise InvalidInput(f"{path}: not found (expected MovieLens 100K files)") from exc
    with handle:
        reader = csv.reader(handle, delimiter="\t")
        header = [h.split(":", 1)[0] for h in next(reader)]
        for values in reader:
            yield dict(zip(header, values, strict=False))


def _collect(
    trustable: Trustable, uow: UnitOfWork, messages: list[dict[str, Any]], now: datetime
) -> IngestResult:
    """Segment-shaped messages through the same parsing and collection as an SDK's."""
    parsed = parse_batch({"batch": messages}, single_type=None, received_at=now).messages
    return ingest(
        uow, trustable.vault, trustable.policy, parsed, now=now, actor=ACTOR, trusted=True
    )


def _iso(ts: str | float, shift: float) -> str:
    return datetime.fromtimestamp(float(ts) + shift, UTC).isoformat()


def import_movielens(
    trustable: Trustable,
    folder: Path,
    *,
    deny_share: float = 0.0,
    limit: int | None = None,
    seed: int = 7,
    progress: Callable[[int, int], None] | None = None,
) -> ImportSummary:
    if not 0.0 <= deny_share <= 1.0:
        raise InvalidInput("deny_share must be between 0 and 1")
    users = list(_rows(folder / "ml-100k.user"))
    items = list(_rows(folder / "ml-100k.item"))
    titles = {r["item_id"]: r["movie_title"] for r in items}
    genres = {r["item_id"]: r.get("class", "").split() for r in items}
    ratings = list(_rows(folder / "ml-100k.inter"))
    if limit is not None:
        ratings = ratings[:limit]
    rng = random.Random(seed)
    denied = {u["user_id"] for u in users if rng.random() < deny_share}
    now = trustable.clock()
    total = len(users) + len(ratings)
    stamps = [float(r["timestamp"]) for r in ratings] or [now.timestamp()]
    shift = now.timestamp() - max(stamps)  # the newest rating lands at import time

    identify = [
        {
            "type": "identify",
            "userId": f"ml-{u['user_id']}",
            "messageId": f"ml-user-{u['user_id']}",
            "timestamp": _iso(min(stamps), shift),
            "traits": {
                "age": int(u["age"]),
                "gender": u["gender"],
                "occupation": u["occupation"],
                "zip": u["zip_code"],
            },
        }
        for u in users
    ]
    with trustable.uow() as uow:
        batch = IdentityBatch(uow, trustable.vault, now, trusted=True)
        batch.preload(("user_id", f"ml-{u['user_id']}") for u in users)
        ids = {u["user_id"]: batch.resolve([("user_id", f"ml-{u['user_id']}")]) for u in users}
        batch.flush()
        for user_id, customer_id in ids.items():
            record_consent(
                uow,
                trustable.policy,
                vault=trustable.vault,
                actor=ACTOR,
                customer_id=customer_id,
                purpose=PERSONALIZE,
                status=ConsentStatus.denied if user_id in denied else ConsentStatus.granted,
                method=ConsentMethod.import_,
                now=now,
            )
        result = _collect(trustable, uow, identify, now)
        uow.commit()
    stored, dropped, done = result.stored, result.fields_dropped, len(users)
    if progress:
        progress(done, total)

    for start in range(0, len(ratings), BATCH):
        chunk = ratings[start : start + BATCH]
        messages: list[dict[str, Any]] = [
            {
                "type": "track",
                "userId": f"ml-{r['user_id']}",
                "messageId": f"ml-rating-{r['user_id']}-{r['item_id']}",
                "event": "Movie Rated",
                "timestamp": _iso(r["timestamp"], shift),
                "properties": {
                    "movie_id": r["item_id"],
                    "title": titles.get(r["item_id"], ""),
                    "rating": float(r["rating"]),
                    "genres": genres.get(r["item_id"], []),
                },
            }
            for r in chunk
        ]
        with trustable.uow() as uow:
            result = _collect(trustable, uow, messages, now)
            uow.commit()
        stored += result.stored
        dropped += result.fields_dropped
        done += len(chunk)
        if progress:
            progress(done, total)
    return ImportSummary(
        customers=len(users), events=len(ratings), stored=stored, fields_dropped=dropped
    )
