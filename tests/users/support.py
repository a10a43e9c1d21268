"""Console users made and signed in as the console will: one unit of work each."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx

from trustable.bootstrap import Trustable
from trustable.ledger.sequencer import flush
from trustable.ledger.service import entries_of_kind
from trustable.users.service import ConsoleUser, authenticate_user, create_user

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
PASSWORD = "correct horse battery staple"


def make_user(
    app: Trustable,
    username: str = "ada",
    role: str = "privacy_officer",
    password: str = PASSWORD,
    now: datetime = T0,
) -> ConsoleUser:
    with app.uow() as uow:
        user = create_user(
            uow, app.vault, username=username, password=password, role=role, now=now, actor="cli"
        )
        uow.commit()
    return user


ADDRESS = "192.0.2.10"  # where sign-ins come from unless a test says otherwise


def sign_in(
    app: Trustable,
    username: str,
    password: str,
    now: datetime = T0,
    address: str = ADDRESS,
) -> ConsoleUser:
    """As a sign-in page does it: the unit of work commits whatever the answer, so
    a refused attempt still counts."""
    with app.uow() as uow:
        try:
            return authenticate_user(uow, app.vault, username, password, address=address, now=now)
        finally:
            uow.commit()


def account_entries(app: Trustable) -> list[dict[str, Any]]:
    """The ledger's `console_user` entries, as written (and sequenced)."""
    flush(app)
    with app.reader() as uow:
        return [entry.content() for entry in entries_of_kind(uow, "console_user")]


Console = Callable[[str], httpx.Client]


@contextmanager
def console_browsers(app: Trustable, base_url: str) -> Iterator[Console]:
    """Sign a console user of the given role in (made on the spot), as a browser would;
    every browser opened is closed at the end."""
    opened: list[httpx.Client] = []

    def sign_in(role: str) -> httpx.Client:
        name = f"{role.replace('_', '-')}-{len(opened)}"
        make_user(app, name, role, now=app.clock())  # as of the app's own clock
        browser = httpx.Client(base_url=base_url)
        opened.append(browser)
        landed = browser.post("/admin/signin", data={"username": name, "password": PASSWORD})
        assert landed.status_code == 303, landed.text
        return browser

    try:
        yield sign_in
    finally:
        for browser in opened:
            browser.close()
