"""Rectification (Art. 16): correct a trait or a contact identifier, keep no old value.

The new value waits in the request sealed under the customer's key (never in clear,
never in the ledger) until the request is verified; applying it overwrites the trait
row and every stored identify call that carried the trait, then the sealed copy is
dropped from the request. Destinations that were sent this customer's data are told
which field changed (by name), so they can drop what they hold.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from trustable.core.errors import InvalidInput
from trustable.destinations.notices import enqueue_notices, receivers_of
from trustable.events.service import correct_trait
from trustable.identity.kinds import looks_like_email, normalise
from trustable.identity.service import replace_identifier
from trustable.ledger import service as ledger
from trustable.policy.service import Policy
from trustable.rights.service import RequestRefused, RightsRequest
from trustable.storage.uow import UnitOfWork
from trustable.vault.service import Vault

CORRECTABLE_IDENTIFIERS = ("email", "phone")  # the customer's own; ids are the company's
MAX_VALUE_BYTES = 1000
_FIELD = "rectify"


def check_correction(policy: Policy, target: str, name: str, value: Any) -> Any:
    """The value to write, or a clear error saying what is wrong (no value echoed)."""
    if target == "trait":
        if policy.category_of("traits." + name) is None:
            raise InvalidInput(
                f"'{name}' is not a trait this company collects", code="invalid_correction"
            )
        if (
            not isinstance(value, str | int | float | bool)
            or isinstance(value, float)
            and (value != value or value in (float("inf"), float("-inf")))
        ):
            raise InvalidInput(
                "a corrected trait is a string, a number or true/false", code="invalid_correction"
            )
        if len(orjson.dumps(value)) > MAX_VALUE_BYTES:
            raise InvalidInput(
                f"a corrected value is at most {MAX_VALUE_BYTES} bytes", code="invalid_correction"
            )
        return value
    if target == "identifier":
        if name not in CORRECTABLE_IDENTIFIERS:
            raise InvalidInput(
                f"identifiers that can be corrected: {', '.join(CORRECTABLE_IDENTIFIERS)}",
                code="invalid_correction",
            )
        if not isinstance(value, str) or not value.strip() or len(value) > 254:
            raise InvalidInput(
                "a corrected identifier is a non-empty string", code="invalid_correction"
            )
        text = normalise(name, value)
        if name == "email" and not looks_like_email(text):
            raise InvalidInput("email must be an email address", code="invalid_correction")
        if name == "phone" and not text.lstrip("+").isdigit():
            raise InvalidInput(
                "phone must be digits, with an optional +", code="invalid_correction"
            )
        return text
    raise InvalidInput("target must be 'trait' or 'identifier'", code="invalid_correction")


def correction_detail(
    vault: Vault, policy: Policy, customer_id: str | None, correction: tuple[str, str, Any]
) -> tuple[dict[str, Any], bytes | None]:
    """A rectify request's detail (what to correct, by name) and its sealed value
    (None for a request that names no known customer: there is no key to seal with)."""
    target, name, value = correction
    checked = check_correction(policy, target, name, value)
    sealed = None
    if customer_id is not None:
        sealed = vault.encrypt(customer_id, _FIELD, orjson.dumps(checked))
    return {"target": target, "name": name}, sealed


def apply_correction(
    uow: UnitOfWork,
    vault: Vault,
    request: RightsRequest,
    *,
    actor: str,
    now: datetime,
) -> None:
    """Write the correction, notify the destinations, log it; refuses with a reason
    the customer reads when there is nothing to correct or the value is taken."""
    customer_id = request.customer_id
    assert customer_id is not None
    if request.sealed is None:
        raise RequestRefused("this correction carries no value any more")
    value = orjson.loads(vault.decrypt(customer_id, _FIELD, request.sealed))
    target, name = request.detail["target"], request.detail["name"]
    if target == "identifier":
        outcome = replace_identifier(uow, vault, customer_id, name, value, now=now)
        if outcome == "taken":
            raise RequestRefused(f"this {name} cannot be used for your account")
        if outcome == "missing":
            raise RequestRefused(f"we hold no {name} for you to correct")
        correct_trait(uow, vault, customer_id, name, value, now=now)
    elif correct_trait(uow, vault, customer_id, name, value, now=now) == 0:
        raise RequestRefused(f"we hold no '{name}' for you to correct")
    destinations = receivers_of(uow, customer_id)
    enqueue_notices(
        uow,
        request_id=request.request_id,
        customer_id=customer_id,
        destinations=destinations,
        kind="rectify",
        fields=[f"traits.{name}" if target == "trait" else name],
        now=now,
    )
    ledger.submit(
        uow,
        vault,
        [
            ledger.Record(
                kind="rectify",
                customer_id=customer_id,
                actor=actor,
                detail={
                    "request": request.request_id,
                    "target": target,
                    "name": name,
                    "destinations": destinations,
                },
            )
        ],
        now=now,
    )
