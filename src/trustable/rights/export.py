"""Access and export (Art. 15 and 20): everything held about a customer, streamed.

One document, as JSON (machine-readable; its schema is in docs/export.md) or as a
readable HTML page: identifiers, traits, consents with their history and signed
receipts, requests, destinations that received data, inferences, every event, and
every ledger entry about the customer with its inclusion proof against a signed
tree head. Events and ledger entries are read page by page and written as they are
read, so a long history is never held in memory whole.

The export's own ledger entry, and the signed head that covers it, commit before
the first byte leaves (`log_export`, by the entry point).
"""

from __future__ import annotations

import base64
import hashlib
import html
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from trustable.consent.receipts import issue_receipt, public_key_b64
from trustable.consent.service import consent_history, current_consents, restricted_among
from trustable.destinations.notices import receivers_of
from trustable.events.service import sealed_events_page, sealed_traits
from trustable.identity.service import linked_identifiers
from trustable.ledger import service as ledger
from trustable.ledger.service import SignedHead, stamp
from trustable.policy.service import Policy
from trustable.rights.service import RightsRequest, list_requests
from trustable.segments.reads import evidence, memberships
from trustable.storage.uow import UnitOfWork
from trustable.vault.service import Vault

EXPORT_FORMAT = "trustable-export/1"
PAGE = 500

Reader = Callable[[], AbstractContextManager[UnitOfWork]]


@dataclass(frozen=True)
class ExportLog:
    """What the entry point committed before streaming: the export's own ledger
    entry and the signed head every proof in the export is made against."""

    entry: int
    head: SignedHead


_CONFIRMED = {
    "source": "by the company's own systems",
    "proof": "by you",
    None: "no: sent by a website or app",
}


def log_export(
    uow: UnitOfWork,
    vault: Vault,
    request: RightsRequest,
    *,
    form: str,
    actor: str,
    now: datetime,
) -> ExportLog:
    assert request.customer_id is not None
    (index,) = ledger.append(
        uow,
        vault,
        [
            ledger.Record(
                kind="export",
                customer_id=request.customer_id,
                actor=actor,
                detail={"request": request.request_id, "format": form},
            )
        ],
        now=now,
    )
    return ExportLog(index, ledger.sign_head(uow, vault, now=now))


def _head(vault: Vault, head: SignedHead) -> dict[str, Any]:
    return {
        "size": head.size,
        "root": base64.b64encode(head.root).decode("ascii"),
        "signed_at": stamp(head.signed_at),
        "signature": base64.b64encode(head.signature).decode("ascii"),
        "public_key": public_key_b64(vault),
        "algorithm": "Ed25519",
    }


def _summary(
    uow: UnitOfWork,
    vault: Vault,
    policy: Policy,
    request: RightsRequest,
    log: ExportLog,
    now: datetime,
) -> dict[str, Any]:
    """Everything but the two long lists (events, ledger entries)."""
    customer_id = request.customer_id
    assert customer_id is not None
    history = consent_history(uow, customer_id)
    return {
        "format": EXPORT_FORMAT,
        "generated_at": stamp(now),
        "request": request.request_id,
        "customer_id": customer_id,
        "controller": policy.spec.organization.name,
        # `confirmed`: "source" when the company's backend vouched for it, "proof" when
        # the customer proved it, null when a web page or app only claimed it.
        "identifiers": [
            {"kind": i.kind, "value": i.value, "confirmed": i.verified_by}
            for i in linked_identifiers(uow, vault, customer_id)
        ],
        "traits": [
            {
                "name": t.name,
                "category": t.category,
                "value": t.open(vault, customer_id),
                "updated_at": stamp(t.updated_at),
            }
            for t in sealed_traits(uow, customer_id)
        ],
        "consents": [
            {
                "purpose": c.purpose,
                "needs_consent": c.needs_consent,
                "status": c.status.value if c.status else None,
                "permitted": c.permitted,
                "method": c.method.value if c.method else None,
                "recorded_at": stamp(c.recorded_at) if c.recorded_at else None,
            }
            for c in current_consents(uow, policy, customer_id)
        ],
        "restricted": bool(restricted_among(uow, [customer_id])),
        "consent_history": [
            {
                "receipt_id": r.receipt_id,
                "purpose": r.purpose,
                "status": r.status.value,
                "method": r.method.value,
                "jurisdiction": r.jurisdiction,
                "recorded_at": stamp(r.recorded_at),
            }
            for r in history
        ],
        "receipts": [issue_receipt(r, policy, vault) for r in history],
        "requests": [
            {
                "request_id": r.request_id,
                "kind": r.kind.value,
                "state": r.state.value,
                "received_at": stamp(r.received_at),
                "due_at": stamp(r.due_at),
                "completed_at": stamp(r.completed_at) if r.completed_at else None,
                "refusal": r.refusal,
            }
            for r in list_requests(uow, now=now, customer_id=customer_id)
        ],
        "shared_with": receivers_of(uow, customer_id),
        # Segments the customer is in, each with the events that put them there.
        "inferences": _inferences(uow, policy, customer_id),
        "ledger_head": _head(vault, log.head),
    }


def _inferences(uow: UnitOfWork, policy: Policy, customer_id: str) -> list[dict[str, Any]]:
    """Membership counts as data: each segment, why, for what, and its inputs."""
    inputs = evidence(uow, customer_id)
    return [
        {
            "kind": "segment",
            "name": m.segment,
            "description": m.description,
            "purposes": list(m.purposes),
            "since": stamp(m.since),
            "inputs": [
                {"message_id": message_id, "occurred_at": stamp(at)}
                for message_id, at in inputs.get(m.segment, [])
            ],
        }
        for m in memberships(uow, policy, customer_id, retired=True)
    ]


def _events(uow: UnitOfWork, vault: Vault, customer_id: str) -> Iterator[dict[str, Any]]:
    opener = vault.opener(customer_id)
    after = None
    while True:
        page = sealed_events_page(uow, customer_id, after=after, limit=PAGE)
        for _, event in page:
            yield {
                "message_id": event.message_id,
                "type": event.type,
                "occurred_at": stamp(event.occurred_at),
                "categories": list(event.categories),
                "fields": event.open_with(opener),
            }
        if len(page) < PAGE:
            return
        after = page[-1][0]


def _entries(uow: UnitOfWork, customer_id: str, size: int) -> Iterator[dict[str, Any]]:
    after = -1
    while True:
        page = ledger.customer_entries_page(uow, customer_id, after=after, limit=PAGE)
        covered = [e for e in page if e.index < size]
        proofs = ledger.inclusion_proofs(uow, [e.index for e in covered], size) if covered else {}
        for found in covered:
            yield {
                "index": found.index,
                "kind": found.kind,
                "entry": found.content(),
                "leaf_hash": found.leaf_hash.hex(),
                "inclusion_proof": [h.hex() for h in proofs[found.index]],
            }
        if len(page) < PAGE:
            return
        after = page[-1].index


def _being_logged(uow: UnitOfWork, customer_id: str) -> list[dict[str, Any]]:
    """Records about the customer still waiting for their index: no proof yet."""
    return [
        {"status": "being logged", "kind": p.kind, "entry": p.content()}
        for p in ledger.customer_pending(uow, customer_id)
    ]


def export_json(
    reader: Reader,
    vault: Vault,
    policy: Policy,
    request: RightsRequest,
    log: ExportLog,
    now: datetime,
) -> Iterator[bytes]:
    """The export as JSON, in pieces: the summary, then events, then ledger entries."""
    customer_id = request.customer_id
    assert customer_id is not None
    with reader() as uow:
        summary = orjson.dumps(_summary(uow, vault, policy, request, log, now))
        yield summary[:-1] + b',"events":['
        yield from _chunked(_commas(orjson.dumps(e) for e in _events(uow, vault, customer_id)))
        yield b'],"ledger_entries":['
        entries = _entries(uow, customer_id, log.head.size)
        yield from _chunked(_commas(orjson.dumps(e) for e in entries))
        yield b'],"being_logged":' + orjson.dumps(_being_logged(uow, customer_id)) + b"}"


def _commas(pieces: Iterable[bytes]) -> Iterator[bytes]:
    for n, piece in enumerate(pieces):
        if n:
            yield b","
        yield piece


def _chunked(pieces: Iterable[bytes]) -> Iterator[bytes]:
    """About 64 KiB at a time rather than one write per item."""
    buffer: list[bytes] = []
    size = 0
    for piece in pieces:
        buffer.append(piece)
        size += len(piece)
        if size >= 65536:
            yield b"".join(buffer)
            buffer, size = [], 0
    if buffer:
        yield b"".join(buffer)


# -- the readable page ------------------------------------------------------------

_STYLE = (
    "body{font:16px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;"
    "color:#1a1a1a}table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}"
    "th,td{border:1px solid #bbb;padding:.3rem .5rem;text-align:left;vertical-align:top}"
    "th{background:#eee}code{font-size:.85em;word-break:break-all}"
)

# What the HTML export may do in a browser: show itself with its one inline style
# (allowed by its hash) and nothing else. No script, no request to anywhere, no form,
# no frame around it, and `sandbox` puts it in an origin of its own: a value that
# slipped past escaping, in a page full of one customer's data, can do nothing.
_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()
HTML_HEADERS = {
    "Content-Security-Policy": (
        f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'; sandbox"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
# The JSON export is a download: never sniffed into something runnable, never cached.
JSON_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; sandbox",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


def _cell(value: Any) -> str:
    if isinstance(value, dict | list):
        return f"<code>{html.escape(orjson.dumps(value).decode())}</code>"
    return html.escape("" if value is None else str(value))


def _table(headers: list[str], rows: Iterator[list[Any]] | list[list[Any]]) -> Iterator[str]:
    yield "<table><thead><tr>" + "".join(f"<th scope=col>{html.escape(h)}</th>" for h in headers)
    yield "</tr></thead><tbody>"
    for row in rows:
        yield "<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>"
    yield "</tbody></table>"


def export_html(
    reader: Reader,
    vault: Vault,
    policy: Policy,
    request: RightsRequest,
    log: ExportLog,
    now: datetime,
) -> Iterator[bytes]:
    """The same content as a page a person can read; every value is escaped."""
    customer_id = request.customer_id
    assert customer_id is not None
    with reader() as uow:
        s = _summary(uow, vault, policy, request, log, now)
        org = html.escape(s["controller"])
        parts: list[str] = [
            "<!doctype html><html lang=en><head><meta charset=utf-8>",
            f"<title>Your data at {org}</title><style>{_STYLE}</style></head><body>",
            f"<h1>Everything {org} holds about you</h1>",
            f"<p>Made {html.escape(s['generated_at'])} for request "
            f"<code>{html.escape(request.request_id)}</code>. The same content, "
            "machine-readable, is in the JSON export.</p>",
            "<h2>How we recognise you</h2>",
            *_table(
                ["kind", "value", "confirmed"],
                [[i["kind"], i["value"], _CONFIRMED[i["confirmed"]]] for i in s["identifiers"]],
            ),
            "<h2>What we know about you</h2>",
            *_table(
                ["trait", "value", "category", "updated"],
                [[t["name"], t["value"], t["category"], t["updated_at"]] for t in s["traits"]],
            ),
            "<h2>Your choices</h2>",
            f"<p>{'All use of your data is restricted.' if s['restricted'] else ''}</p>",
            *_table(
                ["purpose", "allowed now", "your choice", "how", "when"],
                [
                    [
                        c["purpose"],
                        "yes" if c["permitted"] else "no",
                        c["status"] or "not asked",
                        c["method"],
                        c["recorded_at"],
                    ]
                    for c in s["consents"]
                ],
            ),
            "<h2>History of your choices</h2>",
            *_table(
                ["when", "purpose", "choice", "how", "receipt"],
                [
                    [r["recorded_at"], r["purpose"], r["status"], r["method"], r["receipt_id"]]
                    for r in s["consent_history"]
                ],
            ),
            "<h2>Your requests</h2>",
            *_table(
                ["request", "kind", "state", "received", "due", "completed"],
                [
                    [
                        r["request_id"],
                        r["kind"],
                        r["state"],
                        r["received_at"],
                        r["due_at"],
                        r["completed_at"],
                    ]
                    for r in s["requests"]
                ],
            ),
            "<h2>Groups you are in</h2>",
            *_table(
                ["group", "used only for", "since", "events that count"],
                [
                    [
                        i["description"],
                        ", ".join(i["purposes"]),
                        i["since"],
                        len(i["inputs"]),
                    ]
                    for i in s["inferences"]
                ],
            ),
            "<h2>Who received your data</h2>",
            f"<p>{html.escape(', '.join(s['shared_with']) or 'Nobody.')}</p>",
            "<h2>What you did (events)</h2>",
        ]
        yield "".join(parts).encode()
        events = (
            [e["occurred_at"], e["type"], ", ".join(e["categories"]), e["fields"]]
            for e in _events(uow, vault, customer_id)
        )
        yield from _chunked(
            p.encode() for p in _table(["when", "what", "categories", "details"], events)
        )
        yield b"<h2>Every use of your data (ledger)</h2>"
        head = s["ledger_head"]
        yield (
            f"<p>Each entry below is proven to be in the signed log of size {head['size']} "
            f"(root <code>{html.escape(head['root'])}</code>, signed "
            f"{html.escape(head['signed_at'])}); the JSON export carries the proofs.</p>"
        ).encode()
        entries = (
            [e["index"], e["entry"]["at"], e["kind"], e["entry"]["actor"], e["entry"]["detail"]]
            for e in _entries(uow, customer_id, log.head.size)
        )
        yield from _chunked(
            p.encode() for p in _table(["#", "when", "what", "by", "detail"], entries)
        )
        pending = [
            ["being logged", p["entry"]["at"], p["kind"], p["entry"]["actor"], p["entry"]["detail"]]
            for p in _being_logged(uow, customer_id)
        ]
        if pending:
            yield (
                b"<p>Being logged: these get their place in the log, and their proof, "
                b"within seconds.</p>"
            )
            yield from _chunked(
                p.encode() for p in _table(["#", "when", "what", "by", "detail"], pending)
            )
        yield b"</body></html>"
