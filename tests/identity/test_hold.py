"""Before a batch writes, the customers it decided on must still be live: a history
joined into another or erased since it was read starts the batch over."""

from __future__ import annotations

import pytest

from tests.helpers import msg, send
from trustable.bootstrap import Trustable
from trustable.identity.service import ConcurrentErasure, find_customer, hold_customers
from trustable.storage.failures import ConcurrentChange


def owner(app: Trustable, user: str) -> str:
    with app.reader() as uow:
        found = find_customer(uow, app.vault, "user_id", user)
    assert found is not None
    return found


def test_a_history_joined_or_erased_since_it_was_read_is_refused(app: Trustable) -> None:
    send(app, msg("identify", "ada", anonymousId="a-1"), msg("identify", "bo", anonymousId="b-1"))
    ada, bo = owner(app, "ada"), owner(app, "bo")
    send(app, msg("alias", "ada", previousId="bo"))  # bo's history is now ada's
    with app.uow() as uow:
        hold_customers(uow, [ada], exclusive=True)  # live: held
        if uow.dialect != "postgresql":
            # One writer at a time: nothing can change under a batch, nothing to check.
            hold_customers(uow, [bo, "cus_gone"], exclusive=False)
            return
        with pytest.raises(ConcurrentChange):
            hold_customers(uow, [ada, bo], exclusive=False)
    with app.uow() as uow, pytest.raises(ConcurrentErasure):
        hold_customers(uow, [ada, "cus_gone"], exclusive=False)
