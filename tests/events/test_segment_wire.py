"""The wire format: Segment's limits, gzip, nulls, clock fix-up and clear refusals."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from tests.helpers import msg
from trustable.core.errors import InvalidInput, PayloadTooLarge
from trustable.events.segment import (
    MAX_BATCH_BYTES,
    basic_auth_user,
    decode_body,
    parse_batch,
    parse_document,
)

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def parse(doc: dict[str, object]) -> list[object]:
    return list(parse_batch(doc, single_type=None, received_at=NOW).messages)


def test_nulls_are_unset_fields_not_values() -> None:
    (m,) = parse({"batch": [msg("identify", "u1", traits={"email": None, "name": "Ada"})]})
    assert m.anonymous_id is None  # type: ignore[attr-defined]
    assert m.fields == {"traits.name": "Ada"}  # type: ignore[attr-defined]


def test_nested_fields_are_flattened_and_context_is_merged_from_the_batch() -> None:
    doc = {
        "batch": [msg("track", "u1", event="Viewed", properties={"a": {"b": 1}, "tags": [1, 2]})],
        "context": {"ip": "192.0.2.1", "consent": {"categoryPreferences": {}}},
    }
    (m,) = parse(doc)
    assert m.fields == {  # type: ignore[attr-defined]
        "event": "Viewed",
        "properties.a.b": 1,
        "properties.tags": [1, 2],
        "context.ip": "192.0.2.1",
    }


def test_the_device_clock_is_corrected_with_sent_at() -> None:
    # The device's clock runs an hour fast: its timestamp and sentAt are both an hour ahead.
    device = NOW + timedelta(hours=1)
    m = msg("track", "u1", event="E", timestamp=(device - timedelta(seconds=30)).isoformat())
    (parsed,) = parse({"batch": [m], "sentAt": device.isoformat()})
    assert parsed.occurred_at == NOW - timedelta(seconds=30)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("message", "code", "where"),
    [
        (msg("track", None, event="E"), "no_user_anon_id", "batch[0]"),
        (msg("track", "u1"), "missing_event", "batch[0].event"),
        (msg("alias", "u1"), "invalid_alias", "batch[0]"),
        (msg("shout", "u1"), "invalid_type", "batch[0].type"),
        ({**msg("track", "u1", event="E"), "messageId": None}, "missing_message_id", "messageId"),
        ({**msg("track", "u1", event="E"), "messageId": "x" * 101}, "invalid_message_id", ""),
        ({**msg("track", "u1", event="E"), "userId": {"a": 1}}, "invalid_id", "userId"),
        ({**msg("track", "u1", event="E"), "timestamp": "yesterday"}, "invalid_timestamp", ""),
        ({**msg("identify", "u1"), "traits": "ada"}, "invalid_message", "traits"),
    ],
)
def test_a_bad_message_is_refused_naming_where(message: object, code: str, where: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse({"batch": [message]})
    assert caught.value.code == code
    assert where in caught.value.message


def test_refusals_never_echo_values() -> None:
    bad = {**msg("track", "ada@example.org", event="E"), "timestamp": "ada@example.org"}
    with pytest.raises(InvalidInput) as caught:
        parse({"batch": [bad]})
    assert "ada@example.org" not in caught.value.message


def test_a_message_over_32kb_is_refused() -> None:
    big = msg("track", "u1", event="E", properties={"blob": "x" * 33_000})
    with pytest.raises(PayloadTooLarge, match=r"batch\[0\]: the message is \d+ bytes"):
        parse({"batch": [big]})


def test_more_than_2500_messages_are_refused() -> None:
    with pytest.raises(PayloadTooLarge, match="2501 messages; the limit is 2500"):
        parse({"batch": [msg("track", "u1", event="E")] * 2501})


def test_a_batch_over_500kb_is_refused_even_when_gzipped_small() -> None:
    body = b'{"batch": [], "pad": "' + b"x" * MAX_BATCH_BYTES + b'"}'
    with pytest.raises(PayloadTooLarge):
        decode_body(body, None)
    bomb = gzip.compress(body)
    assert len(bomb) < 5_000
    with pytest.raises(PayloadTooLarge):
        decode_body(bomb, "gzip")


def test_gzip_bodies_are_accepted_and_corrupt_ones_refused() -> None:
    doc = {"batch": [msg("track", "u1", event="E")]}
    assert parse_document(decode_body(gzip.compress(orjson.dumps(doc)), "gzip")) == doc
    with pytest.raises(InvalidInput, match="gzip body is corrupt"):
        decode_body(b"not gzip at all", "gzip")
    with pytest.raises(InvalidInput, match="unsupported Content-Encoding"):
        decode_body(b"{}", "br")


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"batch": ["\xff\xfe"]}', "not valid UTF-8"),
        (b"", "empty"),
        (b"[1, 2]", "must be a JSON object"),
        (b'{"a":' * 30 + b"1" + b"}" * 30, "nested deeper"),
    ],
)
def test_bad_bodies_are_refused_clearly(body: bytes, fragment: str) -> None:
    with pytest.raises(InvalidInput, match=fragment):
        parse_document(body)


def test_the_write_key_is_the_basic_username() -> None:
    import base64

    header = "Basic " + base64.b64encode(b"tk_key:").decode()
    assert basic_auth_user(header) == "tk_key"
    assert basic_auth_user("Bearer abc") is None
    with pytest.raises(InvalidInput, match="malformed"):
        basic_auth_user("Basic %%%")
