"""Recording consent and deciding what may be used.

A purpose whose legal basis is consent is denied until the customer grants it. A
decision that cannot be made (unknown purpose, unknown category) is a no: Trustable
fails closed.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import bindparam, case, func, select

from trustable.consent.tables import consent_records, consent_state, restrictions
from trustable.core.errors import InvalidInput
from trustable.identity.batch import IdentityBatch
from trustable.identity.kinds import Identifier
from trustable.ledger import service as ledger
from trustable.policy.service import Policy
from trustable.storage.among import among
from trustable.storage.bulk import delete_customer_rows
from trustable.storage.moves import reassign
from trustable.storage.uow import UnitOfWork
from trustable.storage.upsert import upsert
from trustable.vault.service import Vault

_JURISDICTION = re.compile(r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$")


class ConsentStatus(StrEnum):
    granted = "granted"
    denied = "denied"
    withdrawn = "withdrawn"
    objected = "objected"  # Art. 21: stops a purpose, even one that needs no consent


class ConsentMethod(StrEnum):
    api = "api"
    portal = "portal"
    import_ = "import"
    gpc = "gpc"
    banner = "banner"  # a consent banner's choices carried in events (Segment, RudderStack)
    tcf = "tcf"  # an IAB TCF v2 consent string carried in events
    request = "request"  # a verified rights request (objection)


@dataclass(frozen=True)
class ConsentRecord:
    receipt_id: str
    customer_id: str
    purpose: str
    status: ConsentStatus
    method: ConsentMethod
    notice_version: str
    jurisdiction: str | None
    recorded_at: datetime


@dataclass(frozen=True)
class PurposeConsent:
    """Where one purpose stands for one customer."""

    purpose: str
    needs_consent: bool
    status: ConsentStatus | None  # None: never asked
    permitted: bool
    method: ConsentMethod | None
    recorded_at: datetime | None


def parse_status(value: str) -> ConsentStatus:
    try:
        return ConsentStatus(value)
    except ValueError:
        raise InvalidInput(
            f"status must be one of {', '.join(s.value for s in ConsentStatus)}",
            code="invalid_status",
        ) from None


def check_jurisdiction(value: str | None) -> str | None:
    if value is None:
        return None
    if not _JURISDICTION.match(value):
        raise InvalidInput(
            "jurisdiction must be an ISO 3166 code such as 'DE' or 'US-CA'",
            code="invalid_jurisdiction",
        )
    return value


def record_consent(
    uow: UnitOfWork,
    policy: Policy,
    *,
    vault: Vault,
    actor: str,
    customer_id: str,
    purpose: str,
    status: ConsentStatus,
    method: ConsentMethod,
    now: datetime,
    jurisdiction: str | None = None,
) -> ConsentRecord:
    """Append a consent record, make it the current state and log it in the ledger,
    all in the caller's unit of work."""
    (record,) = record_consents(
        uow,
        policy,
        vault=vault,
        actor=actor,
        customer_id=customer_id,
        decisions=[(purpose, status, method)],
        now=now,
        jurisdiction=jurisdiction,
    )
    return record


def record_consents(
    uow: UnitOfWork,
    policy: Policy,
    *,
    vault: Vault,
    actor: str,
    customer_id: str,
    decisions: Sequence[tuple[str, ConsentStatus, ConsentMethod]],
    now: datetime,
    jurisdiction: str | None = None,
    new_customer: bool = False,
) -> list[ConsentRecord]:
    """Several decisions of one customer at once (a banner's answer), each as
    `record_consent` records it, in as few statements as one of them takes.
    `new_customer`: made in this unit of work, so in no segment to leave yet."""
    for purpose, _, _ in decisions:
        if policy.purpose(purpose) is None:
            raise InvalidInput(f"unknown purpose '{purpose}'", code="unknown_purpose")
    if len({purpose for purpose, _, _ in decisions}) != len(decisions):
        raise InvalidInput("one decision per purpose at a time", code="duplicate_purpose")
    place = check_jurisdiction(jurisdiction)
    records = [
        ConsentRecord(
            receipt_id=str(uuid.uuid4()),
            customer_id=customer_id,
            purpose=purpose,
            status=status,
            method=method,
            notice_version=policy.notice_version,
            jurisdiction=place,
            recorded_at=now,
        )
        for purpose, status, method in decisions
    ]
    rows = [
        {
            "customer_id": customer_id,
            "purpose": r.purpose,
            "status": r.status.value,
            "method": r.method.value,
            "notice_version": r.notice_version,
            "jurisdiction": r.jurisdiction,
            "recorded_at": now,
        }
        for r in records
    ]
    uow.connection.execute(
        consent_records.insert(),
        [{**row, "receipt_id": r.receipt_id} for row, r in zip(rows, records, strict=True)],
    )
    upsert(uow, consent_state, rows, keys=("customer_id", "purpose"))
    stopped = [r.purpose for r in records if r.status is not ConsentStatus.granted]
    left: list[ledger.Record] = []
    if stopped and policy.spec.segments and not new_customer:
        # Here, not in segments: consent would import segments, which reads consent.
        from trustable.segments.service import leave_for_purposes

        left = leave_for_purposes(uow, policy, customer_id, stopped, actor=actor)
    ledger.submit(
        uow,
        vault,
        [
            *(
                ledger.Record(
                    kind="consent",
                    customer_id=customer_id,
                    actor=actor,
                    detail={
                        "purpose": r.purpose,
                        "status": r.status.value,
                        "method": r.method.value,
                        "notice_version": r.notice_version,
                        "jurisdiction": r.jurisdiction,
                        "receipt": r.receipt_id,
                    },
                )
                for r in records
            ),
            *left,
        ],
        now=now,
    )
    return records


_STATES = select(consent_state.c.customer_id, consent_state.c.purpose, consent_state.c.status)
_RESTRICTED = select(restrictions.c.customer_id)
# One customer's, built once: every purpose-bound read decides for one customer.
_STATES_OF_ONE = _STATES.where(consent_state.c.customer_id == bindparam("customer_id"))
_RESTRICTED_ONE = _RESTRICTED.where(restrictions.c.customer_id == bindparam("customer_id"))


def load_states(uow: UnitOfWork, customer_ids: Iterable[str]) -> dict[str, dict[str, str]]:
    """Current status per purpose for each customer, in as few queries as it takes."""
    wanted = list(set(customer_ids))
    states: dict[str, dict[str, str]] = {c: {} for c in wanted}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        if len(chunk) == 1:
            rows = uow.connection.execute(_STATES_OF_ONE, {"customer_id": chunk[0]}).all()
        else:
            rows = uow.connection.execute(
                _STATES.where(among(uow.dialect, consent_state.c.customer_id, chunk))
            ).all()
        for customer_id, purpose, status in rows:
            states[customer_id][purpose] = status
    return states


class Decisions:
    """`may(customer, purpose, category)` over consent states loaded in advance.

    Loading is one query for many customers; each decision after that is two
    dictionary look-ups, so it can sit on every read and every collected field.
    """

    def __init__(
        self,
        policy: Policy,
        states: dict[str, dict[str, str]],
        restricted: frozenset[str] = frozenset(),
    ) -> None:
        self._policy = policy
        self._states = states
        self._restricted = restricted
        self._open = policy.purposes_without_consent()
        self._permitted: dict[str, frozenset[str]] = {}
        self._uses: dict[tuple[str, str], bool] = {}

    def permitted(self, customer_id: str) -> frozenset[str]:
        """The purposes this customer's data may serve now."""
        found = self._permitted.get(customer_id)
        if found is None:
            state = self._states.get(customer_id, {})
            granted = {p for p, s in state.items() if s == "granted" and p in self._policy.purposes}
            objected = {p for p, s in state.items() if s == "objected"}
            found = (self._open - objected) | granted
            if customer_id in self._restricted:  # Art. 18: kept, used for nothing
                found = frozenset()
            self._permitted[customer_id] = found
        return found

    def may(self, customer_id: str, purpose: str, category: str) -> bool:
        if purpose not in self.permitted(customer_id):
            return False
        key = (purpose, category)
        uses = self._uses.get(key)
        if uses is None:
            found = self._policy.purpose(purpose)
            uses = found is not None and found.uses(category)
            self._uses[key] = uses
        return uses

    def keeps(self, customer_id: str, category: str) -> bool:
        """May any permitted purpose use `category` for this customer?"""
        return self._policy.serves(self.permitted(customer_id), category)


def decisions_for(uow: UnitOfWork, policy: Policy, customer_ids: Iterable[str]) -> Decisions:
    wanted = list(set(customer_ids))
    return Decisions(policy, load_states(uow, wanted), restricted_among(uow, wanted))


def restricted_among(uow: UnitOfWork, customer_ids: Sequence[str]) -> frozenset[str]:
    """Which of these customers have restricted all use of their data (Art. 18)."""
    found: set[str] = set()
    for start in range(0, len(customer_ids), 500):
        chunk = customer_ids[start : start + 500]
        if len(chunk) == 1:
            rows = uow.connection.execute(_RESTRICTED_ONE, {"customer_id": chunk[0]})
        else:
            rows = uow.connection.execute(
                _RESTRICTED.where(among(uow.dialect, restrictions.c.customer_id, chunk))
            )
        found.update(rows.scalars())
    return frozenset(found)


def restrict(uow: UnitOfWork, customer_id: str, *, request_id: str, now: datetime) -> bool:
    """Restrict all use of a customer's data; False when it already was."""
    if restricted_among(uow, [customer_id]):
        return False
    uow.connection.execute(
        restrictions.insert(),
        [{"customer_id": customer_id, "request_id": request_id, "since": now}],
    )
    return True


def lift_restriction(
    uow: UnitOfWork, vault: Vault, customer_id: str, *, actor: str, now: datetime
) -> bool:
    """End a restriction, with its ledger entry; False when there was none."""
    result = uow.connection.execute(
        restrictions.delete().where(restrictions.c.customer_id == customer_id)
    )
    if not result.rowcount:
        return False
    record = ledger.Record(kind="restriction_lifted", customer_id=customer_id, actor=actor)
    ledger.submit(uow, vault, [record], now=now)
    return True


def erase_consents(uow: UnitOfWork, customer_id: str) -> dict[str, int]:
    """Delete a customer's consent history, states and restriction (erasure)."""
    return delete_customer_rows(
        uow,
        customer_id,
        {
            "consent_records": consent_records,
            "consent_states": consent_state,
            "restrictions": restrictions,
        },
    )


def current_consents(uow: UnitOfWork, policy: Policy, customer_id: str) -> list[PurposeConsent]:
    """Every purpose of the policy and where it stands for this customer."""
    rows = {
        r.purpose: r
        for r in uow.connection.execute(
            select(consent_state).where(consent_state.c.customer_id == customer_id)
        )
    }
    decisions = Decisions(
        policy,
        {customer_id: {k: r.status for k, r in rows.items()}},
        restricted_among(uow, [customer_id]),
    )
    permitted = decisions.permitted(customer_id)
    out = []
    for key, purpose in policy.purposes.items():
        row = rows.get(key)
        out.append(
            PurposeConsent(
                purpose=key,
                needs_consent=purpose.needs_consent,
                status=ConsentStatus(row.status) if row else None,
                permitted=key in permitted,
                method=ConsentMethod(row.method) if row else None,
                recorded_at=row.recorded_at if row else None,
            )
        )
    return out


def consent_history(uow: UnitOfWork, customer_id: str) -> list[ConsentRecord]:
    rows = uow.connection.execute(
        select(consent_records)
        .where(consent_records.c.customer_id == customer_id)
        .order_by(consent_records.c.id)
    ).all()
    return [
        ConsentRecord(
            receipt_id=r.receipt_id,
            customer_id=r.customer_id,
            purpose=r.purpose,
            status=ConsentStatus(r.status),
            method=ConsentMethod(r.method),
            notice_version=r.notice_version,
            jurisdiction=r.jurisdiction,
            recorded_at=r.recorded_at,
        )
        for r in rows
    ]


_RANK = {"granted": 0, "withdrawn": 1, "denied": 2, "objected": 3}


def merge_consents(uow: UnitOfWork, winner: str, loser: str, *, widen: bool) -> None:
    """Join `loser`'s consent history into `winner`'s.

    Where both have a current state for a purpose, the later choice stands: a visitor
    who accepted the banner before signing in has chosen again since the account's
    last choice (a tie goes to the more protective one). `widen` False (the join was
    made on a public key's word): a grant of `loser`'s never replaces a refusal of
    `winner`'s or a purpose `winner` was never asked, since anyone with the write key
    could otherwise make an anonymous history that allows everything and join it to
    a known customer. Its later refusals still carry over.
    """
    conn = uow.connection
    mine_rows = conn.execute(
        select(consent_state).where(consent_state.c.customer_id == winner)
    ).all()
    mine = {row.purpose: row for row in mine_rows}
    theirs = conn.execute(select(consent_state).where(consent_state.c.customer_id == loser)).all()
    for row in theirs:
        kept = mine.get(row.purpose)
        if not widen and row.status == ConsentStatus.granted.value:
            if kept is None or kept.status != ConsentStatus.granted.value:
                continue
        if kept is not None and (kept.recorded_at, _RANK[kept.status]) >= (
            row.recorded_at,
            _RANK[row.status],
        ):
            continue
        values = {k: v for k, v in row._mapping.items() if k != "customer_id"}
        upsert(uow, consent_state, [{**values, "customer_id": winner}], ("customer_id", "purpose"))
    conn.execute(consent_state.delete().where(consent_state.c.customer_id == loser))
    # A restriction of either history restricts the joined one.
    if restricted_among(uow, [loser]) and not restricted_among(uow, [winner]):
        reassign(uow, restrictions, restrictions.c.customer_id == loser, {"customer_id": winner})
    conn.execute(restrictions.delete().where(restrictions.c.customer_id == loser))
    reassign(
        uow,
        consent_records,
        consent_records.c.customer_id == loser,
        {
            "customer_id": winner,
            "history": func.coalesce(consent_records.c.history, consent_records.c.customer_id),
        },
    )


def split_consents(uow: UnitOfWork, *, holder: str, to: str, histories: Sequence[str]) -> None:
    """Undoing a merge: the records made in `histories` go back to `to`, and both
    customers' current states are read again from their own records. A restriction
    of the joined history stays on both (undoing a join never widens use)."""
    conn = uow.connection
    reassign(
        uow,
        consent_records,
        (consent_records.c.customer_id == holder) & consent_records.c.history.in_(list(histories)),
        {
            "customer_id": to,
            "history": case(
                (consent_records.c.history == to, None), else_=consent_records.c.history
            ),
        },
    )
    for customer_id in (holder, to):
        conn.execute(consent_state.delete().where(consent_state.c.customer_id == customer_id))
        latest: dict[str, Any] = {}
        for row in conn.execute(
            select(consent_records)
            .where(consent_records.c.customer_id == customer_id)
            .order_by(consent_records.c.recorded_at, consent_records.c.id)
        ):
            latest[row.purpose] = {
                "customer_id": customer_id,
                "purpose": row.purpose,
                "status": row.status,
                "method": row.method,
                "notice_version": row.notice_version,
                "jurisdiction": row.jurisdiction,
                "recorded_at": row.recorded_at,
            }
        if latest:
            conn.execute(consent_state.insert(), list(latest.values()))
    held = conn.execute(select(restrictions).where(restrictions.c.customer_id == holder)).first()
    if held is not None and not restricted_among(uow, [to]):
        conn.execute(
            restrictions.insert().values(
                customer_id=to, request_id=held.request_id, since=held.since
            )
        )


def record_for_identifiers(
    uow: UnitOfWork,
    vault: Vault,
    policy: Policy,
    *,
    idents: list[Identifier],
    purpose: str,
    status: ConsentStatus,
    method: ConsentMethod,
    now: datetime,
    actor: str,
    jurisdiction: str | None = None,
) -> ConsentRecord:
    """Record consent for the customer these identifiers name, creating them if new.

    Consent often comes before the first event (a banner, a sign-up form): the
    customer then exists from that moment, with nothing but the decision.
    """
    if not idents:
        raise InvalidInput("name the customer by user_id or anonymous_id", code="no_user_anon_id")
    if policy.purpose(purpose) is None:
        raise InvalidInput(f"unknown purpose '{purpose}'", code="unknown_purpose")
    batch = IdentityBatch(uow, vault, now)
    batch.preload(idents)
    customer_id = batch.resolve(idents)
    batch.flush()
    return record_consent(
        uow,
        policy,
        vault=vault,
        actor=actor,
        customer_id=customer_id,
        purpose=purpose,
        status=status,
        method=method,
        now=now,
        jurisdiction=jurisdiction,
    )


def transition(current: str | None, permitted: bool) -> ConsentStatus | None:
    """The status a stated choice leads to from `current`; None when nothing changes.

    Yes grants (once). No withdraws a grant, denies what was never asked, and leaves
    a refusal as it is.
    """
    if permitted:
        return None if current == ConsentStatus.granted.value else ConsentStatus.granted
    if current in (
        ConsentStatus.denied.value,
        ConsentStatus.withdrawn.value,
        ConsentStatus.objected.value,
    ):
        return None
    return ConsentStatus.withdrawn if current else ConsentStatus.denied


def state_choices(
    uow: UnitOfWork,
    vault: Vault,
    policy: Policy,
    choices: Iterable[tuple[str, str, bool, ConsentMethod]],
    *,
    now: datetime,
    actor: str,
) -> int:
    """Record (customer, purpose, permitted?, method) choices where they change the
    state, in order; the number of records written."""
    pending = list(choices)
    if not pending:
        return 0
    states = load_states(uow, [customer for customer, *_ in pending])
    written = 0
    for customer_id, purpose, permitted, method in pending:
        status = transition(states[customer_id].get(purpose), permitted)
        if status is None:
            continue
        record_consent(
            uow,
            policy,
            vault=vault,
            actor=actor,
            customer_id=customer_id,
            purpose=purpose,
            status=status,
            method=method,
            now=now,
        )
        states[customer_id][purpose] = status.value
        written += 1
    return written
