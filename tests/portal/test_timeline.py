"""The portal's timeline tells a request's steps as sentences, and a sign-in by mailed
code as the sign-in it is rather than as a request to see one's data."""

from __future__ import annotations

import pytest

from trustable.core.settings import example_policy_path
from trustable.ledger.service import StoredEntry, encode
from trustable.policy.service import load_policy
from trustable.portal.service import describe, what_became_of


@pytest.mark.parametrize(
    ("kind", "state", "said"),
    [
        ("access", "received", "Your request to see your data was received"),
        ("erase", "done", "Your request to erase your data was carried out"),
        ("rectify", "verified", "Your request to correct your data was confirmed"),
        ("object", "refused", "Your request to stop a use of your data was refused"),
        ("export", "processing", "Your request for a copy of your data is being carried out"),
        ("restrict", "paused", "Your request to limit the use of your data is now paused"),
    ],
)
def test_a_request_step_is_a_sentence(kind: str, state: str, said: str) -> None:
    assert what_became_of(kind, state, "email") == said


@pytest.mark.parametrize(
    ("state", "said"),
    [
        ("received", "You asked for a code by email to sign in here"),
        ("verified", "You entered the code we mailed you"),
        ("done", "You signed in here with a code we mailed you"),
    ],
)
def test_a_sign_in_is_told_as_a_sign_in(state: str, said: str) -> None:
    assert what_became_of("access", state, "sign_in") == said


def test_an_entry_from_before_sign_ins_had_a_channel_reads_as_a_request() -> None:
    assert what_became_of("access", "done") == "Your request to see your data was carried out"


def entry(kind: str, detail: dict[str, object], actor: str = "portal") -> StoredEntry:
    body = encode({"kind": kind, "actor": actor, "at": "2026-12-01T10:00:00Z", "detail": detail})
    return StoredEntry(index=0, kind=kind, body=body, leaf_hash=b"")


@pytest.mark.parametrize(
    ("method", "said"),
    [
        ("portal", "was recorded as withdrawn, on this page"),
        ("gpc", "was recorded as withdrawn, from your browser's privacy signal"),
        ("banner", "was recorded as withdrawn, in the shop's cookie banner"),
        ("carrier_pigeon", "was recorded as withdrawn (carrier_pigeon)"),
    ],
)
def test_a_consent_choice_says_how_it_reached_us(method: str, said: str) -> None:
    policy = load_policy(example_policy_path())
    detail = {"purpose": "personalize.content.profiled", "status": "withdrawn", "method": method}
    sentence = describe(entry("consent", detail), policy, {}).sentence
    assert sentence.startswith("Your choice for “Recommendations made for you” " + said)


def test_a_sign_in_entry_of_the_ledger_reads_as_a_sign_in() -> None:
    policy = load_policy(example_policy_path())
    detail = {"request": "req_1", "type": "access", "state": "done", "channel": "sign_in"}
    told = describe(entry("request", detail, actor="email"), policy, {}).sentence
    assert told == "You signed in here with a code we mailed you"
