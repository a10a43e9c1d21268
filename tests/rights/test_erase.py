"""Erasure: rows gone, key destroyed (copies unreadable), destinations told, certified."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import orjson
import pytest
from sqlalchemy import MetaData, select

from tests.conftest import LiveServer, make_key
from tests.destinations.receiver import Receiver
from tests.destinations.test_delivery import policy_with
from tests.helpers import msg, raw_dump
from tests.rights.support import T0, customer, file, send
from trustable.bootstrap import Trustable, bootstrap
from trustable.consent.receipts import verify_document
from trustable.core.clock import FixedClock
from trustable.core.mail import MailSettings
from trustable.core.settings import Settings
from trustable.destinations.worker import Worker
from trustable.events.tables import events
from trustable.identity.service import ConcurrentErasure, find_customer
from trustable.ledger import service as ledger
from trustable.ledger.verify import verify
from trustable.rights.runner import process
from trustable.rights.service import Channel, Kind, State, move, open_request
from trustable.vault.service import KeyMissing, Vault

# Also on a Citus cluster (tests/conftest.py): one of the paths docs/scale.md names.
pytestmark = pytest.mark.citus

ADA_VALUES = ("ada@example.org", "Ada Lovelace", "75001", "Film 1", "203.0.113.7")


@pytest.fixture
def shop(settings: Settings, tmp_path: Path, receiver: Receiver) -> Iterator[Trustable]:
    policy = tmp_path / "policy.yaml"
    policy.write_text(policy_with(receiver.url))
    app = bootstrap(replace(settings, policy_path=policy), clock=FixedClock(T0))
    yield app
    app.close()


def snapshot(app: Trustable) -> dict[str, list[tuple[object, ...]]]:
    """A copy of the whole data store, row by row, as a backup would hold it."""
    metadata = MetaData()
    metadata.reflect(bind=app.engine)
    with app.engine.connect() as conn:
        return {
            name: [tuple(row) for row in conn.execute(select(table))]
            for name, table in metadata.tables.items()
        }


def test_an_erased_customer_is_gone_and_every_copy_of_their_data_is_unreadable(
    shop: Trustable, receiver: Receiver, live_server_for: object
) -> None:
    ada = customer(shop)
    bob = customer(shop, user="bob", email="bob@example.org")
    assert Worker(shop).run_once()["delivered"] == 8  # identify calls and ratings of both
    backup = snapshot(shop)
    payload = list(events.c.keys()).index("payload")
    sealed = [(row[1], row[2], row[payload]) for row in backup["events"] if row[1] == ada]
    assert len(sealed) == 4
    with shop.reader() as uow:
        assert shop.vault.decrypt(ada, "event:" + sealed[0][1], sealed[0][2])  # opens today

    server: LiveServer = live_server_for(shop)  # type: ignore[operator]
    answer = file(server.url, make_key(shop, "requests"), ada, "erase")
    assert answer.status_code == 201, answer.text
    erased = answer.json()
    assert erased["state"] == "done"
    assert erased["detail"]["erased"]["events"] == 4 and erased["detail"]["destinations"] == [
        "recommender"
    ]

    # The live store holds nothing of Ada's; Bob is untouched.
    live = raw_dump(shop.engine)
    assert not [value for value in ADA_VALUES[:3] if value.encode() in live]
    with shop.reader() as uow:
        assert find_customer(uow, shop.vault, "email", "ada@example.org") is None
        assert find_customer(uow, shop.vault, "email", "bob@example.org") == bob
        left = uow.connection.execute(select(events.c.customer_id)).scalars().all()
    assert set(left) == {bob} and len(left) == 4

    # The backup taken before: its rows cannot be opened with the live key store,
    # not even by a fresh vault that never cached anything, and hold no value in clear.
    fresh = Vault(shop.key_engine, _master(shop)).open()
    for _, message_id, payload in sealed:
        with pytest.raises(KeyMissing):
            fresh.decrypt(ada, "event:" + message_id, payload)
        with pytest.raises(KeyMissing):
            shop.vault.decrypt(ada, "event:" + message_id, payload)
    copy = orjson.dumps(backup, default=lambda v: v.hex() if isinstance(v, bytes) else str(v))
    assert not [value for value in ADA_VALUES if value.encode() in copy]

    # The destination is told, with a signed notice, and the certificate says so.
    assert Worker(shop).run_once() == {"notice acknowledged": 1}
    notice = orjson.loads(receiver.received[-1].body)
    assert notice["type"] == "erase" and notice["customer_id"] == ada
    assert "X-Trustable-Signature" in receiver.received[-1].headers
    token = {"Authorization": f"Bearer {erased['token']}"}
    cert = httpx.get(f"{server.url}/v1/requests/{erased['request_id']}/certificate", headers=token)
    assert cert.status_code == 200
    signed = cert.json()
    assert verify_document("certificate", signed, shop.vault.public_key())
    body = signed["certificate"]
    assert body["complete"] and body["data_keys_destroyed"]
    assert body["destinations"][0]["name"] == "recommender"
    assert body["destinations"][0]["state"] == "acknowledged"

    # The ledger still verifies; Ada's entries stay, tied to no one.
    with shop.reader() as uow:
        assert ledger.customer_entries(uow, ada) == []
        assert verify(uow, shop.vault.public_key()).ok
        kinds = {e.kind for e in ledger.entries_of_kind(uow, "erase")}
    assert kinds == {"erase"}

    # A second erasure finds no one; the first request still shows as done.
    again = file(server.url, make_key(shop, "requests"), ada, "erase")
    assert again.status_code == 404
    status = httpx.get(f"{server.url}/v1/requests/{erased['request_id']}", headers=token)
    assert status.json()["state"] == "done"


def verified_erasure(app: Trustable, customer_id: str) -> str:
    """An erasure request, verified (as the company's backend files one), not yet run."""
    with app.uow() as uow:
        opened = open_request(
            uow,
            app.vault,
            app.policy,
            kind=Kind.erase,
            customer_id=customer_id,
            channel=Channel.api,
            now=app.clock(),
            actor="test",
        )
        move(uow, app.vault, opened, State.verified, actor="test", now=app.clock())
        uow.commit()
    return opened.request_id


def _master(app: Trustable) -> bytes:
    from trustable.vault.master import load_or_create_master_key

    return load_or_create_master_key(app.settings.master_key, app.settings.master_key_file)


def test_the_sqlite_file_copied_before_erasure_cannot_be_read_after(
    shop: Trustable, tmp_path: Path
) -> None:
    if shop.engine.dialect.name != "sqlite":
        pytest.skip("a file copy is SQLite's; the row snapshot above covers PostgreSQL")
    import sqlite3

    ada = customer(shop)
    backup = tmp_path / "backup.db"
    source = sqlite3.connect(str(shop.settings.home / "data.db"))
    target = sqlite3.connect(str(backup))
    source.backup(target)
    source.close()
    opened = verified_erasure(shop, ada)
    assert process(shop, opened, actor="test").state is State.done
    rows = target.execute(
        "SELECT message_id, payload FROM events WHERE customer_id = ?", (ada,)
    ).fetchall()
    target.close()
    assert len(rows) == 4
    for message_id, payload in rows:
        with pytest.raises(KeyMissing):
            shop.vault.decrypt(ada, "event:" + message_id, payload)
    blob = backup.read_bytes()
    assert b"Film 1" not in blob and b"ada@example.org" not in blob


def test_collection_racing_an_erasure_leaves_no_event_of_the_erased_customer(
    shop: Trustable,
) -> None:
    """Ingest and erasure for the same customer at once, many times: afterwards no
    event belongs to a customer without a key, whatever order they ran in."""
    for round_ in range(8):
        user = f"racer-{round_}"
        target = customer(shop, user=user, email=f"{user}@example.org", ratings=1)
        opened = verified_erasure(shop, target)

        def collect(user: str = user) -> None:
            rating = msg("track", user, event="Movie Rated", properties={"movie_id": "7"})
            try:
                send(shop, rating)
            except ConcurrentErasure:
                send(shop, rating)  # what the SDK does on a 503: lands on a new customer

        thread = threading.Thread(target=collect)
        thread.start()
        process(shop, opened, actor="test")
        thread.join()
        with shop.reader() as uow:
            owners = set(uow.connection.execute(select(events.c.customer_id).distinct()).scalars())
        assert target not in owners
        shop.vault.load_keys(owners)
        for owner in owners:
            shop.vault.pseudonym(owner)  # every event's owner still has a key


def test_an_erasure_reads_nothing_but_the_customer_s_own_rows(shop: Trustable) -> None:
    """Every statement of an erasure goes through an index (SQLite's query plans
    show no full scan), so its cost does not grow with other customers' data."""
    if shop.engine.dialect.name != "sqlite":
        pytest.skip("query plans are read from SQLite; the same indexes serve PostgreSQL")
    from sqlalchemy import event

    ada = customer(shop)
    customer(shop, user="bob", email="bob@example.org")
    opened = verified_erasure(shop, ada)
    statements: list[tuple[str, object]] = []

    def seen(conn: object, cursor: object, sql: str, params: object, *args: object) -> None:
        if not sql.lstrip().upper().startswith(("INSERT", "PRAGMA", "BEGIN", "COMMIT")):
            statements.append((sql, params))

    event.listen(shop.engine, "before_cursor_execute", seen)
    try:
        process(shop, opened, actor="test")
    finally:
        event.remove(shop.engine, "before_cursor_execute", seen)
    assert len(statements) > 10
    scans = []
    with shop.engine.connect() as conn:
        for sql, params in statements:
            plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params).all()  # type: ignore[arg-type]
            scans += [(sql, row[-1]) for row in plan if str(row[-1]).startswith("SCAN")]
    assert scans == []


def test_a_correction_is_announced_to_the_destinations_that_hold_the_old_value(
    shop: Trustable, receiver: Receiver, live_server_for: object
) -> None:
    ada = customer(shop)
    Worker(shop).run_once()
    server: LiveServer = live_server_for(shop)  # type: ignore[operator]
    fixed = file(
        server.url,
        make_key(shop, "requests"),
        ada,
        "rectify",
        correction={"target": "trait", "name": "age", "value": 37},
    )
    assert fixed.json()["state"] == "done", fixed.text
    assert Worker(shop).run_once() == {"notice acknowledged": 1}
    notice = orjson.loads(receiver.received[-1].body)
    assert notice["type"] == "rectify" and notice["fields"] == ["traits.age"]
    # The field is named, never valued.
    assert set(notice) == {"id", "type", "customer_id", "request_id", "fields", "sent_at"}


def test_mail_written_to_the_erased_customer_goes_with_them_and_the_certificate_says_so(
    settings: Settings, tmp_path: Path, live_server_for: Callable[[Trustable], LiveServer]
) -> None:
    folder = tmp_path / "mail"
    app = bootstrap(replace(settings, mail=MailSettings(pickup_dir=folder)), clock=FixedClock(T0))
    try:
        ada = customer(app)
        customer(app, "bob", email="bob@example.org")
        server = live_server_for(app)
        for address in ("Ada@Example.org", "bob@example.org"):  # a code mailed to each
            asked = httpx.post(
                f"{server.url}/v1/requests/by-email", json={"email": address, "kind": "access"}
            )
            assert asked.status_code == 202
        app.mailer.flush()
        # A copy left by an older version, naming her with a display name and in capitals.
        (folder / "older.eml").write_bytes(
            b"From: privacy@trustable.invalid\nTo: Ada Lovelace <ADA@example.org>\n"
            b"Subject: Your verification code\n\nYour code is 000000\n"
        )
        assert len(list(folder.glob("*.eml"))) == 3

        erased = file(server.url, make_key(app, "requests"), ada, "erase").json()
        assert erased["state"] == "done"

        left = [p.read_bytes() for p in folder.glob("*.eml")]
        assert len(left) == 1 and b"To: bob@example.org" in left[0]
        assert not [m for m in left if b"ada@" in m.lower()]
        token = {"Authorization": f"Bearer {erased['token']}"}
        signed = httpx.get(
            f"{server.url}/v1/requests/{erased['request_id']}/certificate", headers=token
        ).json()
        assert verify_document("certificate", signed, app.vault.public_key())
        assert signed["certificate"]["erased"]["mail_files"] == 2
        with app.reader() as uow:
            (entry,) = ledger.entries_of_kind(uow, "erase")
        assert entry.content()["detail"]["erased"]["mail_files"] == 2
    finally:
        app.close()


def test_mail_queued_while_the_erasure_runs_is_removed_after_it_and_counted(
    settings: Settings, tmp_path: Path
) -> None:
    folder = tmp_path / "mail"
    app = bootstrap(replace(settings, mail=MailSettings(pickup_dir=folder)), clock=FixedClock(T0))
    try:
        ada = customer(app)
        request_id = verified_erasure(app, ada)
        original = app.mailer.remove_mail_to
        sweeps: list[int | None] = []

        def then_a_code_is_queued(addresses: Iterable[str]) -> int | None:
            """The first sweep (inside step one) finds nothing; a code requested a
            moment before is queued just after it, and is on disk only later."""
            found = original(addresses)
            if not sweeps:
                app.mailer.send("ada@example.org", "Your verification code", "Your code is 1")
            sweeps.append(found)
            return found

        app.mailer.remove_mail_to = then_a_code_is_queued  # type: ignore[method-assign]
        done = process(app, request_id, actor="test")
        app.mailer.remove_mail_to = original  # type: ignore[method-assign]
        assert done.state is State.done
        assert list(folder.glob("*.eml")) == []
        assert sweeps == [0, 1]
        assert done.detail["erased"]["mail_files"] == 1
    finally:
        app.close()
