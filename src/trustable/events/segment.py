"""The Segment HTTP Tracking API's wire format: limits, parsing and validation.

What existing SDKs send (segment-analytics-python, RudderStack's SDKs) is accepted as
it is: unset fields as JSON `null`, the write key in the body or as HTTP Basic
username, gzip bodies. Anything else is refused whole with a message that names the
message index and the field, and never echoes a value.
"""

from __future__ import annotations

import base64
import binascii
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from trustable.consent.signals import Signals, read_signals
from trustable.core.errors import InvalidInput, PayloadTooLarge

MAX_MESSAGE_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
MAX_BATCH_MESSAGES = 2500
MAX_DEPTH = 24
MAX_MESSAGE_ID = 100
TYPES = ("identify", "track", "page", "screen", "group", "alias")

# Where personal data may sit in each type; everything under these roots is a field
# that minimization classifies through the tracking plan.
_DATA_ROOTS: dict[str, tuple[str, ...]] = {
    "identify": ("traits", "context"),
    "track": ("properties", "context"),
    "page": ("properties", "context"),
    "screen": ("properties", "context"),
    "group": ("traits", "context"),
    "alias": ("context",),
}
_SCALAR_FIELDS: dict[str, tuple[str, ...]] = {
    "track": ("event",),
    "page": ("name", "category"),
    "screen": ("name", "category"),
    "group": ("groupId",),
}
# Context entries that steer delivery and consent rather than describe the customer.
_CONTROL_CONTEXT = ("consent", "consentManagement")


@dataclass
class Message:
    index: int
    type: str
    message_id: str
    user_id: str | None
    anonymous_id: str | None
    previous_id: str | None
    occurred_at: datetime
    fields: dict[str, Any] = field(default_factory=dict)
    signals: Signals | None = None


@dataclass
class Batch:
    messages: list[Message]
    write_key: str | None


def decode_body(raw: bytes, content_encoding: str | None) -> bytes:
    """Undo `Content-Encoding: gzip` without letting a small bomb grow past the limit."""
    encoding = (content_encoding or "").strip().lower()
    if encoding in ("", "identity"):
        body = raw
    elif encoding == "gzip":
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            body = inflater.decompress(raw, MAX_BATCH_BYTES + 1)
        except zlib.error as exc:
            raise InvalidInput("the gzip body is corrupt", code="invalid_gzip") from exc
        if len(body) > MAX_BATCH_BYTES or inflater.unconsumed_tail:
            raise batch_too_large()
    else:
        raise InvalidInput(
            f"unsupported Content-Encoding '{encoding[:32]}': send gzip or nothing",
            code="unsupported_encoding",
        )
    if len(body) > MAX_BATCH_BYTES:
        raise batch_too_large()
    return body


def batch_too_large() -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the request is larger than {MAX_BATCH_BYTES} bytes (Segment's batch limit)",
        code="batch_too_large",
    )


def parse_document(body: bytes) -> dict[str, Any]:
    if not body.strip():
        raise InvalidInput("the body is empty; send a JSON object", code="invalid_json")
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        reason = "not valid UTF-8" if "utf-8" in str(exc).lower() else "not valid JSON"
        raise InvalidInput(f"the body is {reason}", code="invalid_json") from None
    if not isinstance(doc, dict):
        raise InvalidInput("the body must be a JSON object", code="invalid_json")
    if _depth(doc) > MAX_DEPTH:
        raise InvalidInput(f"the body is nested deeper than {MAX_DEPTH} levels", code="too_deep")
    return doc


def _depth(value: Any) -> int:
    """Nesting depth, iteratively (a recursive walk is what deep input attacks)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > deepest:
            deepest = depth
            if deepest > MAX_DEPTH:
                return deepest
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values() if isinstance(v, dict | list))
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item if isinstance(v, dict | list))
    return deepest


def basic_auth_user(header: str | None) -> str | None:
    """The username of an HTTP Basic header (the write key), or None."""
    if not header or not header[:6].lower() == "basic ":
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidInput("the Basic authorization header is malformed", code="bad_auth") from None
    return decoded.split(":", 1)[0] or None


def parse_batch(
    doc: dict[str, Any],
    *,
    single_type: str | None,
    received_at: datetime,
    body_size: int | None = None,
) -> Batch:
    """Messages of a `/v1/batch` body, or the one message of `/v1/<type>`.

    `body_size`, when known, spares measuring each message: no message of a body
    within the message limit can be over it.
    """
    measure = body_size is None or body_size > MAX_MESSAGE_BYTES
    write_key = doc.get("writeKey")
    if write_key is not None and not isinstance(write_key, str):
        raise InvalidInput("writeKey must be a string", code="invalid_write_key")
    if single_type is not None:
        raw_messages: Any = [{**doc, "type": doc.get("type") or single_type}]
        shared_context: Any = None
        where = ""
    else:
        raw_messages = doc.get("batch")
        shared_context = doc.get("context")
        where = "batch"
        if not isinstance(raw_messages, list):
            raise InvalidInput("'batch' must be a list of messages", code="invalid_batch")
        if not raw_messages:
            raise InvalidInput("'batch' is empty", code="invalid_batch")
        if len(raw_messages) > MAX_BATCH_MESSAGES:
            raise PayloadTooLarge(
                f"'batch' holds {len(raw_messages)} messages; the limit is {MAX_BATCH_MESSAGES}",
                code="batch_too_large",
            )
    batch_sent_at = _time(doc.get("sentAt"), "sentAt")
    messages = [
        _message(
            i,
            raw,
            where=f"{where}[{i}]" if where else "message",
            shared_context=shared_context,
            batch_sent_at=batch_sent_at,
            received_at=received_at,
            single_type=single_type,
            measure=measure,
        )
        for i, raw in enumerate(raw_messages)
    ]
    return Batch(messages=messages, write_key=write_key)


def _message(
    index: int,
    raw: Any,
    *,
    where: str,
    shared_context: Any,
    batch_sent_at: datetime | None,
    received_at: datetime,
    single_type: str | None,
    measure: bool,
) -> Message:
    if not isinstance(raw, dict):
        raise InvalidInput(f"{where}: a message must be a JSON object", code="invalid_message")
    if measure:
        size = len(orjson.dumps(raw))
        if size > MAX_MESSAGE_BYTES:
            raise PayloadTooLarge(
                f"{where}: the message is {size} bytes; the limit is {MAX_MESSAGE_BYTES}",
                code="message_too_large",
            )
    kind = raw.get("type")
    if kind not in TYPES or (single_type is not None and kind != single_type):
        expected = single_type or "one of " + ", ".join(TYPES)
        raise InvalidInput(f"{where}.type: must be {expected}", code="invalid_type")
    user_id = _ident(raw.get("userId"), f"{where}.userId")
    anonymous_id = _ident(raw.get("anonymousId"), f"{where}.anonymousId")
    previous_id = _ident(raw.get("previousId"), f"{where}.previousId")
    if user_id is None and anonymous_id is None:
        raise InvalidInput(f"{where}: userId or anonymousId is required", code="no_user_anon_id")
    if kind == "alias" and (previous_id is None or user_id is None):
        raise InvalidInput(f"{where}: alias needs both previousId and userId", code="invalid_alias")
    if kind == "track" and not (isinstance(raw.get("event"), str) and raw["event"].strip()):
        raise InvalidInput(f"{where}.event: track needs an event name", code="missing_event")
    if kind == "group" and raw.get("groupId") is None:
        raise InvalidInput(f"{where}.groupId: group needs a groupId", code="missing_group_id")
    message_id = raw.get("messageId")
    if message_id is None:
        raise InvalidInput(f"{where}.messageId: required", code="missing_message_id")
    if not isinstance(message_id, str | int) or isinstance(message_id, bool):
        raise InvalidInput(f"{where}.messageId: must be a string", code="invalid_message_id")
    message_id = str(message_id)
    if not 0 < len(message_id) <= MAX_MESSAGE_ID:
        raise InvalidInput(
            f"{where}.messageId: must be 1 to {MAX_MESSAGE_ID} characters",
            code="invalid_message_id",
        )
    timestamp = _time(raw.get("timestamp"), f"{where}.timestamp")
    sent_at = _time(raw.get("sentAt"), f"{where}.sentAt") or batch_sent_at
    occurred = occurred_at(timestamp, sent_at, received_at)

    fields: dict[str, Any] = {}
    for name in _SCALAR_FIELDS.get(kind, ()):
        value = raw.get(name)
        if value is not None:
            fields[name] = value
    context = raw.get("context")
    if shared_context is not None and isinstance(shared_context, dict):
        context = {**shared_context, **(context if isinstance(context, dict) else {})}
    signals = read_signals(context, f"{where}.context")
    for root in _DATA_ROOTS[kind]:
        value = context if root == "context" else raw.get(root)
        if value is None:
            continue
        if not isinstance(value, dict):
            raise InvalidInput(f"{where}.{root}: must be an object", code="invalid_message")
        if root == "context":
            value = {k: v for k, v in value.items() if k not in _CONTROL_CONTEXT}
            if isinstance(value.get("traits"), dict):
                own = raw.get("traits") if "traits" in _DATA_ROOTS[kind] else None
                fields.update(_context_traits(value.pop("traits"), own))
        fields.update(flatten(value, root))
    return Message(
        index=index,
        type=kind,
        message_id=message_id,
        user_id=user_id,
        anonymous_id=anonymous_id,
        previous_id=previous_id,
        occurred_at=occurred,
        fields=fields,
        signals=signals,
    )


def _context_traits(lent: dict[str, Any], own: Any) -> dict[str, Any]:
    """`context.traits` as the `traits` fields the tracking plan knows.

    Segment's spec allows the user's traits in `context.traits` on every call, and
    RudderStack's SDKs send identify traits only there. They are read as `traits.X`,
    so one tracking plan entry covers both places. A trait the message also sends in
    its top-level `traits` is taken from there (the explicit one), whole: the context's
    value for that trait is ignored, never mixed in.
    """
    if isinstance(own, dict):
        lent = {k: v for k, v in lent.items() if own.get(k) is None}
    return flatten(lent, "traits")


def occurred_at(
    timestamp: datetime | None, sent_at: datetime | None, received_at: datetime
) -> datetime:
    """When a message happened, by the server's clock, never later than it arrived.

    Segment's clock fix-up trusts the device's intervals, not its clock: with `sentAt`,
    the message happened `sentAt - timestamp` before it was received. Without it, the
    device's `timestamp` is all there is. Either way a time after `received_at` is
    clamped to it: nothing happened in the future, and a far-future time (`9999-12-31`)
    would otherwise keep an event out of every retention sweep for good. A correction
    too large for a datetime (a device clock millennia off) falls back to the
    uncorrected timestamp, clamped the same way.
    """
    if timestamp is None:
        return received_at
    occurred = timestamp
    if sent_at is not None:
        try:
            occurred = timestamp + (received_at - sent_at)
        except OverflowError:
            occurred = timestamp
    return min(occurred, received_at)


def flatten(value: dict[str, Any], prefix: str) -> dict[str, Any]:
    """`{"a": {"b": 1}}` under `traits` → `{"traits.a.b": 1}`; lists stay whole; nulls go."""
    out: dict[str, Any] = {}
    for path, item in _walk(value, prefix):
        out[path] = item
    return out


def _walk(value: dict[str, Any], prefix: str) -> Iterator[tuple[str, Any]]:
    for key, item in value.items():
        path = f"{prefix}.{key}"
        if item is None:
            continue
        if isinstance(item, dict):
            if item:
                yield from _walk(item, path)
        else:
            yield path, item


def _ident(value: Any, where: str) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InvalidInput(f"{where}: must be a string", code="invalid_id")
    text = str(value)
    if len(text) > 256:
        raise InvalidInput(f"{where}: longer than 256 characters", code="invalid_id")
    return text


def _time(value: Any, where: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{where}: must be an ISO-8601 string", code="invalid_timestamp")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{where}: not an ISO-8601 time", code="invalid_timestamp") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # year 1 east of UTC, or 9999 west of it
        raise InvalidInput(
            f"{where}: outside the years 1 to 9999", code="invalid_timestamp"
        ) from None
