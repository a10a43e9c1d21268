"""The ledger: every use leaves an entry, atomically; tampering of any kind is found."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from tests.helpers import msg
from trustable.bootstrap import Trustable, bootstrap
from trustable.consent.service import ConsentMethod, ConsentStatus, record_for_identifiers
from trustable.core.errors import VaultError
from trustable.core.settings import Settings
from trustable.events.segment import parse_batch
from trustable.events.service import ingest
from trustable.identity.service import find_customer
from trustable.ledger import merkle
from trustable.ledger import service as ledger
from trustable.ledger.sequencer import flush
from trustable.ledger.sequencing import pending_count
from trustable.ledger.tables import ledger_entries, ledger_heads
from trustable.ledger.verify import Verification
from trustable.ledger.verify import verify as verify_log
from trustable.vault.service import KeyMissing
from trustable.vault.tables import vault_secrets

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
PERSONALIZE = "personalize.content.profiled"


def collect(app: Trustable, *messages: dict[str, Any], commit: bool = True) -> None:
    batch = parse_batch({"batch": list(messages)}, single_type=None, received_at=NOW)
    with app.uow() as uow:
        ingest(uow, app.vault, app.policy, batch.messages, now=NOW, actor="key_test", trusted=True)
        if commit:
            uow.commit()


def customer(app: Trustable, user_id: str) -> str:
    with app.reader() as uow:
        found = find_customer(uow, app.vault, "user_id", user_id)
    assert found is not None
    return found


def entries_of(app: Trustable, customer_id: str) -> list[ledger.StoredEntry]:
    """The customer's entries once the sequencer has given every record its index."""
    flush(app)
    with app.reader() as uow:
        return ledger.customer_entries(uow, customer_id)


def sign(app: Trustable) -> ledger.SignedHead:
    flush(app)
    with app.uow() as uow:
        head = ledger.sign_head(uow, app.vault, now=NOW)
        uow.commit()
    return head


def verify(app: Trustable) -> Verification:
    with app.reader() as uow:
        return verify_log(uow, app.vault.public_key())


def test_collection_consent_and_merges_each_leave_an_entry(app: Trustable) -> None:
    collect(
        app,
        msg(
            "identify", "u1", traits={"email": "ada@example.org", "age": 36, "shoe": "Narrow-Nine"}
        ),
        msg("track", "u1", event="Order Completed", properties={"order_id": "o1"}),
    )
    cid = customer(app, "u1")
    with app.uow() as uow:
        record_for_identifiers(
            uow,
            app.vault,
            app.policy,
            idents=[("user_id", "u1")],
            purpose=PERSONALIZE,
            status=ConsentStatus.granted,
            method=ConsentMethod.portal,
            now=NOW,
            actor="portal",
        )
        uow.commit()
    collect(app, msg("track", None, anonymousId="a1", event="E"))
    collect(app, {**msg("alias", "u1"), "previousId": "a1"})

    entries = entries_of(app, cid)
    kinds = [e.kind for e in entries]
    assert kinds.count("collect") == 4 and kinds.count("consent") == 1
    assert kinds.count("merge") == 1
    first = entries[0].content()
    assert first["kind"] == "collect" and first["actor"] == "key_test"
    assert first["subject"] == app.vault.pseudonym(cid)
    assert first["detail"] == {
        "type": "identify",
        "kept": ["user.contact.email"],
        "dropped": {"not_permitted": ["user.demographic.age_range"], "not_in_tracking_plan": 1},
    }
    consent = next(e.content() for e in entries if e.kind == "consent")
    assert consent["detail"]["purpose"] == PERSONALIZE
    assert consent["detail"]["status"] == "granted" and consent["detail"]["method"] == "portal"
    # No personal value ever reaches the log.
    everything = b"".join(e.body for e in entries)
    for value in (b"ada@example.org", b'"u1"', b'"a1"', b"Narrow-Nine", b'"age"'):
        assert value not in everything


def test_the_stored_tree_matches_the_definition_and_every_proof_verifies(app: Trustable) -> None:
    for n in range(5):
        collect(app, *[msg("track", f"user-{n}-{i}", event="E") for i in range(7)])
    head = sign(app)
    with app.reader() as uow:
        leaves = [
            r.leaf_hash
            for r in uow.connection.execute(select(ledger_entries).order_by(ledger_entries.c.idx))
        ]
        assert head.size == len(leaves) == 35
        assert head.root == merkle.root_of(leaves)
        for index in range(head.size):
            path = ledger.inclusion_proof(uow, index, head.size)
            assert merkle.verify_inclusion(leaves[index], index, head.size, path, head.root)
        some = [0, 3, 16, 17, 34]  # many at once: the same paths as one by one
        assert ledger.inclusion_proofs(uow, some, head.size) == {
            i: ledger.inclusion_proof(uow, i, head.size) for i in some
        }
        for first in range(1, head.size + 1):
            proof = ledger.consistency_proof(uow, first, head.size)
            old_root = merkle.root_of(leaves[:first])
            assert merkle.verify_consistency(first, head.size, old_root, head.root, proof)
    assert ledger.verify_head(head, app.vault.public_key())


def test_no_entry_without_its_work(app: Trustable) -> None:
    collect(app, msg("track", "u1", event="E"), commit=False)
    flush(app)
    with app.reader() as uow:
        assert ledger.tree_size(uow) == 0
        assert uow.connection.execute(select(ledger_entries)).first() is None
        assert pending_count(uow) == 0


def test_no_work_without_its_entry(app: Trustable, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> list[int]:
        raise RuntimeError("the log is unavailable")

    monkeypatch.setattr(ledger, "submit", broken)
    with pytest.raises(RuntimeError):
        collect(app, msg("identify", "u1", traits={"email": "x@example.org"}))
    monkeypatch.undo()
    with app.reader() as uow:
        assert find_customer(uow, app.vault, "user_id", "u1") is None


def test_a_destroyed_key_unties_the_entries_from_the_customer(app: Trustable) -> None:
    collect(app, msg("track", "u1", event="E"))
    cid = customer(app, "u1")
    pseudonym = app.vault.pseudonym(cid)
    assert entries_of(app, cid)[0].content()["subject"] == pseudonym
    app.vault.destroy_key(cid)
    with pytest.raises(KeyMissing):
        app.vault.pseudonym(cid)
    with app.uow() as uow:
        ledger.forget_customer(uow, cid)
        uow.commit()
    assert entries_of(app, cid) == []
    assert verify(app).ok  # the log itself is untouched


# -- tampering ----------------------------------------------------------------------


@pytest.fixture
def logged(app: Trustable) -> Trustable:
    """A log of 20 entries with a signed head at 12 and one at 20."""
    collect(app, *[msg("track", f"u{i}", event="E") for i in range(12)])
    sign(app)
    collect(app, *[msg("track", f"v{i}", event="E") for i in range(8)])
    sign(app)
    assert verify(app).ok
    return app


def body_of(app: Trustable, index: int) -> tuple[bytes, bytes]:
    with app.reader() as uow:
        row = uow.connection.execute(
            select(ledger_entries.c.body, ledger_entries.c.leaf_hash).where(
                ledger_entries.c.idx == index
            )
        ).one()
    return row.body, row.leaf_hash


def tamper(app: Trustable, statement: Any) -> None:
    with app.engine.begin() as conn:
        conn.execute(statement)


def test_a_changed_byte_is_found_at_its_entry(logged: Trustable) -> None:
    body, _ = body_of(logged, 7)
    forged = body.replace(b'"kind":"collect"', b'"kind":"collecT"')
    assert forged != body
    tamper(logged, update(ledger_entries).where(ledger_entries.c.idx == 7).values(body=forged))
    result = verify(logged)
    assert not result.ok and result.first_bad_index == 7
    assert "entry 7 was altered" in (result.problem or "")


def test_a_deleted_entry_is_found(logged: Trustable) -> None:
    tamper(logged, delete(ledger_entries).where(ledger_entries.c.idx == 5))
    result = verify(logged)
    assert result.first_bad_index == 5 and "entry 5 is missing" in (result.problem or "")


def test_swapped_entries_are_found(logged: Trustable) -> None:
    three, nine = body_of(logged, 3), body_of(logged, 9)
    tamper(
        logged,
        update(ledger_entries)
        .where(ledger_entries.c.idx == 3)
        .values(body=nine[0], leaf_hash=nine[1]),
    )
    tamper(
        logged,
        update(ledger_entries)
        .where(ledger_entries.c.idx == 9)
        .values(body=three[0], leaf_hash=three[1]),
    )
    result = verify(logged)
    assert result.first_bad_index == 3 and "reordered" in (result.problem or "")


def test_a_truncated_log_is_found(logged: Trustable) -> None:
    tamper(logged, delete(ledger_entries).where(ledger_entries.c.idx >= 15))
    result = verify(logged)
    assert result.first_bad_index == 15
    assert "entries from 15 on are missing" in (result.problem or "")


def test_a_rewrite_that_forges_the_hash_too_is_caught_by_the_signed_head(
    logged: Trustable,
) -> None:
    body, _ = body_of(logged, 4)
    forged = body.replace(b'"actor":"key_test"', b'"actor":"key_else"')
    tamper(
        logged,
        update(ledger_entries)
        .where(ledger_entries.c.idx == 4)
        .values(body=forged, leaf_hash=merkle.leaf_hash(forged)),
    )
    result = verify(logged)
    assert not result.ok
    assert "first 12 entries do not match the head" in (result.problem or "")


def test_a_forged_head_signature_is_found(logged: Trustable) -> None:
    tamper(
        logged, update(ledger_heads).where(ledger_heads.c.size == 20).values(signature=bytes(64))
    )
    result = verify(logged)
    assert "signature of the head at size 20 is invalid" in (result.problem or "")


# -- the signing key ----------------------------------------------------------------


def test_a_missing_signing_key_stops_signing_loudly(app: Trustable, settings: Settings) -> None:
    collect(app, msg("track", "u1", event="E"))
    with app.key_engine.begin() as conn:
        conn.execute(delete(vault_secrets).where(vault_secrets.c.name == "ledger_signing"))
    fresh = bootstrap(settings)
    try:
        with fresh.uow() as uow, pytest.raises(VaultError, match="signing key is missing"):
            ledger.sign_head(uow, fresh.vault, now=NOW)
        with fresh.reader() as uow:
            assert ledger.latest_head(uow) is None
    finally:
        fresh.close()


def test_a_damaged_signing_key_stops_signing(app: Trustable, settings: Settings) -> None:
    with app.key_engine.begin() as conn:
        conn.execute(
            update(vault_secrets)
            .where(vault_secrets.c.name == "ledger_signing")
            .values(wrapped=bytes(60))
        )
    fresh = bootstrap(settings)
    try:
        with fresh.uow() as uow, pytest.raises(VaultError, match="damaged"):
            ledger.sign_head(uow, fresh.vault, now=NOW)
    finally:
        fresh.close()


def test_a_damaged_stored_subtree_is_found(logged: Trustable) -> None:
    from trustable.ledger.tables import ledger_nodes

    tamper(
        logged,
        update(ledger_nodes)
        .where(ledger_nodes.c.level == 4, ledger_nodes.c.idx == 0)
        .values(hash=bytes(32)),
    )
    result = verify(logged)
    assert "stored subtree over entries 0–15 does not match them" in (result.problem or "")


def test_a_damaged_right_edge_is_found_before_it_spoils_new_entries(logged: Trustable) -> None:
    from trustable.ledger.tables import ledger_state

    tamper(logged, update(ledger_state).values(frontier=bytes(33)))
    result = verify(logged)
    assert "stored right edge of the tree does not match" in (result.problem or "")
