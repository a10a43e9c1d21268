"""API keys: expiry, revocation that every process obeys at once, and a last use that
is written down at most once a minute without ever holding a request back."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy.exc import OperationalError

from tests.conftest import LiveServer, make_key
from tests.helpers import msg
from trustable.access import service
from trustable.access.service import (
    USE_RECORDED_EVERY,
    authenticate,
    create_key,
    get_key,
    list_keys,
    parse_expiry,
    record_use,
    revoke_key,
)
from trustable.bootstrap import Trustable, bootstrap
from trustable.core.clock import FixedClock
from trustable.core.errors import InvalidInput, NotAuthenticated, NotFound
from trustable.core.settings import Settings
from trustable.storage.uow import UnitOfWork

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


@pytest.fixture
def clocked(settings: Settings) -> Iterator[Trustable]:
    """A Trustable whose clock stands still until the test moves it."""
    app = bootstrap(settings, clock=FixedClock(T0))
    yield app
    app.close()


def clock_of(app: Trustable) -> FixedClock:
    assert isinstance(app.clock, FixedClock)
    return app.clock


def made(app: Trustable, *scopes: str, expires_at: datetime | None = None) -> tuple[str, str]:
    """A new key's id and plaintext."""
    with app.uow() as uow:
        key, plaintext = create_key(
            uow,
            app.policy,
            name="shop",
            scopes=list(scopes),
            now=app.clock(),
            expires_at=expires_at,
        )
        uow.commit()
    return key.key_id, plaintext


def refusal(app: Trustable, presented: str) -> tuple[str, str, int]:
    """What `authenticate` answers a refused key: code, message, status."""
    with app.reader() as uow, pytest.raises(NotAuthenticated) as refused:
        authenticate(uow, presented, now=app.clock())
    return refused.value.code, refused.value.message, refused.value.status


def revoke(app: Trustable, key_id: str) -> bool:
    with app.uow() as uow:
        _, revoked = revoke_key(uow, key_id, now=app.clock())
        uow.commit()
    return revoked


def test_an_expired_revoked_or_wrong_key_gets_one_and_the_same_answer(
    clocked: Trustable,
) -> None:
    clock = clock_of(clocked)
    expiring_id, expiring = made(clocked, "collect", expires_at=T0 + timedelta(days=1))
    revoked_id, revoked = made(clocked, "collect")
    with clocked.reader() as uow:
        assert authenticate(uow, expiring, now=clock()).key_id == expiring_id
    assert revoke(clocked, revoked_id)

    clock.now = T0 + timedelta(days=1)  # the very moment it expires
    wrong_secret = expiring[:-4] + ("AAAA" if not expiring.endswith("AAAA") else "BBBB")
    unknown_id = "tk_key_" + "0" * 20 + expiring[-44:]
    answers = {
        refusal(clocked, p) for p in (expiring, revoked, wrong_secret, unknown_id, "tk_nonsense")
    }
    assert answers == {("invalid_key", "missing or invalid API key", 401)}


def test_a_revocation_holds_at_once_changes_nothing_when_repeated_and_keeps_the_key_listed(
    clocked: Trustable,
) -> None:
    clock = clock_of(clocked)
    key_id, plaintext = made(clocked, "collect:server")
    assert revoke(clocked, key_id) is True
    clock.now += timedelta(hours=1)
    assert revoke(clocked, key_id) is False  # a retried revocation is safe
    with clocked.reader() as uow:
        shown = get_key(uow, key_id)
    assert shown.revoked_at == T0  # the first revocation's time stays
    assert shown.state(clock()) == "revoked" and not shown.live(clock())
    assert refusal(clocked, plaintext)[0] == "invalid_key"
    with clocked.uow() as uow, pytest.raises(NotFound) as unknown:
        revoke_key(uow, "key_" + "0" * 20, now=clock())
    assert unknown.value.code == "unknown_key"


def test_the_list_shows_every_key_with_its_dates_and_never_its_secret(
    clocked: Trustable,
) -> None:
    clock = clock_of(clocked)
    live_id, live = made(clocked, "read:essential.service", "consent:read")
    clock.now += timedelta(minutes=5)
    gone_id, _ = made(clocked, "admin", expires_at=T0 + timedelta(days=2))
    clock.now = T0 + timedelta(days=3)
    with clocked.reader() as uow:
        found = list_keys(uow)
    assert [k.key_id for k in found] == [live_id, gone_id]  # oldest first
    first, second = found
    assert first.scopes == ("consent:read", "read:essential.service")
    assert first.created_at == T0 and first.expires_at is None and first.last_used_at is None
    assert [k.state(clock()) for k in found] == ["live", "expired"]
    assert second.expires_at == T0 + timedelta(days=2)
    shown = repr(found)
    assert live.split(".")[1] not in shown and "secret" not in shown and "hash" not in shown


def test_an_expiry_is_days_or_a_date_in_the_future_and_says_what_went_wrong() -> None:
    assert parse_expiry("90d", now=T0) == T0 + timedelta(days=90)
    assert parse_expiry(" 1D ", now=T0) == T0 + timedelta(days=1)
    assert parse_expiry("2027-06-30", now=T0) == datetime(2027, 6, 30, tzinfo=UTC)
    assert parse_expiry("2027-06-30T12:00:00+02:00", now=T0) == datetime(
        2027, 6, 30, 10, tzinfo=UTC
    )
    assert parse_expiry("", now=T0) is None and parse_expiry(None, now=T0) is None
    for typed, says in (
        ("2026-12-07", "must be in the future"),  # today, 00:00: already past
        ("2020-01-01", "must be in the future"),
        ("0d", "at least 1 day"),
        ("soon", "give a number of days (90d) or a date (2027-06-30)"),
        ("90", "give a number of days (90d) or a date (2027-06-30)"),
        ("2027-02-30", "give a number of days (90d) or a date (2027-06-30)"),
    ):
        with pytest.raises(InvalidInput, match=r".*") as refused:
            parse_expiry(typed, now=T0)
        assert says in refused.value.message and refused.value.code == "invalid_expiry", typed


def test_a_key_cannot_be_made_already_expired(clocked: Trustable) -> None:
    with clocked.uow() as uow, pytest.raises(InvalidInput) as refused:
        create_key(uow, clocked.policy, name="late", scopes=["collect"], now=T0, expires_at=T0)
    assert refused.value.code == "invalid_expiry"
    with clocked.reader() as uow:
        assert list_keys(uow) == []


def test_a_use_is_written_at_most_once_a_minute_and_races_write_it_once(
    clocked: Trustable,
) -> None:
    key_id, _ = made(clocked, "collect")
    assert USE_RECORDED_EVERY == timedelta(minutes=1)
    for at, writes in (
        (T0, True),
        (T0, False),  # a second process racing the first: it finds the use written
        (T0 + timedelta(seconds=59), False),
        (T0 + timedelta(seconds=60), True),
    ):
        with clocked.uow() as uow:
            assert record_use(uow, key_id, now=at) is writes, at
            uow.commit()
    with clocked.reader() as uow:
        assert get_key(uow, key_id).last_used_at == T0 + timedelta(seconds=60)


def test_processes_racing_to_record_the_same_use_write_it_once_and_none_fails(
    clocked: Trustable,
) -> None:
    key_id, _ = made(clocked, "collect")
    at = T0 + timedelta(minutes=5)
    start = threading.Barrier(4)
    wrote: list[bool] = []
    failed: list[Exception] = []

    def record() -> None:
        try:
            start.wait()
            with clocked.uow() as uow:
                wrote.append(record_use(uow, key_id, now=at))
                uow.commit()
        except Exception as exc:  # reported below, not swallowed
            failed.append(exc)

    threads = [threading.Thread(target=record) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert failed == [] and sorted(wrote) == [False, False, False, True]
    assert last_used(clocked, key_id) == at


def collect(server: LiveServer, key: str, n: int = 1) -> httpx.Response:
    return httpx.post(
        f"{server.url}/v1/batch",
        json={"batch": [msg("track", "ada", event="Signed In") for _ in range(n)]},
        auth=(key, ""),
    )


def last_used(app: Trustable, key_id: str) -> datetime | None:
    with app.reader() as uow:
        return get_key(uow, key_id).last_used_at


def test_collection_records_a_keys_use_once_a_minute_not_per_request(
    clocked: Trustable,
    live_server_for: Callable[[Trustable], LiveServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = live_server_for(clocked)
    clock = clock_of(clocked)
    key_id, key = made(clocked, "collect")
    writes: list[datetime] = []
    real = service.record_use

    def counted(uow: UnitOfWork, key_id: str, *, now: datetime) -> bool:
        writes.append(now)
        return real(uow, key_id, now=now)

    monkeypatch.setattr("trustable.api.deps.record_use", counted)
    assert last_used(clocked, key_id) is None
    for _ in range(5):
        assert collect(server, key).status_code == 200
    assert last_used(clocked, key_id) == T0 and writes == [T0]
    clock.now = T0 + timedelta(seconds=30)
    assert collect(server, key).status_code == 200
    assert last_used(clocked, key_id) == T0 and writes == [T0]
    clock.now = T0 + timedelta(minutes=1)
    assert collect(server, key).status_code == 200
    assert last_used(clocked, key_id) == clock() and len(writes) == 2
    # Other routes record it the same way.
    admin_id, admin = made(clocked, "admin")
    head = httpx.get(f"{server.url}/v1/keys", headers={"Authorization": f"Bearer {admin}"})
    assert head.status_code == 200 and last_used(clocked, admin_id) == clock()


def test_over_http_a_key_works_until_its_expiry_and_not_a_moment_longer(
    clocked: Trustable, live_server_for: Callable[[Trustable], LiveServer]
) -> None:
    server = live_server_for(clocked)
    clock = clock_of(clocked)
    _, key = made(clocked, "collect", expires_at=T0 + timedelta(days=90))
    clock.now = T0 + timedelta(days=90) - timedelta(microseconds=1)
    assert collect(server, key).status_code == 200
    clock.now = T0 + timedelta(days=90)
    refused = collect(server, key)
    assert refused.status_code == 401 and refused.json()["code"] == "invalid_key"


def test_a_use_that_cannot_be_written_never_fails_the_request(
    app: Trustable,
    live_server: LiveServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(uow: UnitOfWork, key_id: str, *, now: datetime) -> bool:
        raise OperationalError("UPDATE api_keys", {}, Exception("database is locked"))

    monkeypatch.setattr("trustable.api.deps.record_use", broken)
    key = make_key(app, "collect")
    with caplog.at_level(logging.WARNING, logger="trustable.api"):
        answer = collect(live_server, key)
    assert answer.status_code == 200, answer.text
    assert answer.json()["received"] == 1
    assert "could not record the use of key key_" in caplog.text
    assert key.split(".")[1] not in caplog.text  # the secret is never logged
    with app.reader() as uow:
        (only,) = list_keys(uow)
    assert only.last_used_at is None


def test_a_key_revoked_in_one_process_is_refused_by_another_at_once(
    settings: Settings, live_server_for: Callable[[Trustable], LiveServer]
) -> None:
    """Two Trustable processes over the same store (as `serve` and a second `serve`,
    or a CLI revocation beside a running server): nothing is cached per process."""
    first = bootstrap(settings)
    second = bootstrap(settings, run_migrations=False)
    try:
        one, two = live_server_for(first), live_server_for(second)
        admin = make_key(first, "admin", name="operator")
        write_key = make_key(first, "collect", name="web shop")
        assert collect(two, write_key).status_code == 200
        assert collect(one, write_key).status_code == 200
        key_id = write_key[3:].split(".")[0]
        revoked = httpx.post(
            f"{one.url}/v1/keys/{key_id}/revoke", headers={"Authorization": f"Bearer {admin}"}
        )
        assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
        refused = collect(two, write_key)
        wrong = collect(two, write_key[:-1] + ("A" if write_key[-1] != "A" else "B"))
        assert refused.status_code == wrong.status_code == 401
        assert (
            refused.json()
            == wrong.json()
            == {
                "code": "invalid_key",
                "message": "missing or invalid API key",
            }
        )
    finally:
        first.close()
        second.close()
