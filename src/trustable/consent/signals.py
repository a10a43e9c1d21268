"""Consent choices that arrive inside events, from the tools companies already use.

- Segment: `context.consent.categoryPreferences = {"<category>": true|false}`. An
  object, even empty, is the customer's full answer: a mapped category it leaves out
  counts as false. No object means no signal.
- RudderStack: `context.consentManagement` with `allowedConsentIds` and
  `deniedConsentIds`; ids it does not list change nothing.
- IAB TCF v2: the TC string in `context.consent.tcString`, decoded with `iab-tcf`;
  each mapped TCF purpose is granted or denied as the string says.
The policy's `consent_signals` maps each of these to its own purposes. A signal is
recorded (method `banner` or `tcf`) only where it changes the customer's state, and
before the event's own fields are filtered, so the event obeys the choice it carries.
Where one message says both yes and no for a purpose, no wins. In a request that
carries `Sec-GPC: 1`, these signals say nothing on the purposes GPC covers: the
browser's opt-out is recorded (method `gpc`) and a banner's "yes" cannot undo it
(docs/consent.md, "GPC and a banner").
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from trustable.consent.service import ConsentMethod, state_choices
from trustable.core.errors import InvalidInput
from trustable.policy.service import Policy
from trustable.storage.uow import UnitOfWork
from trustable.vault.service import Vault


@dataclass(frozen=True)
class Signals:
    segment: dict[str, bool] | None = None
    allowed: tuple[str, ...] = ()
    denied: tuple[str, ...] = ()
    tcf: dict[int, bool] | None = None


def decode_tcf(value: str, where: str) -> dict[int, bool]:
    """TCF v2 purpose consents of a TC string; a clear error for anything else."""
    from iab_tcf import decode_v2

    try:
        decoded = decode_v2(value)
        consents = {int(k): bool(v) for k, v in decoded.purposes_consent.items()}
        version = int(decoded.version)
    except Exception:  # the decoder raises many kinds on bad input
        raise InvalidInput(
            f"{where}: not a valid IAB TCF v2 consent string", code="invalid_tc_string"
        ) from None
    if version != 2:
        raise InvalidInput(
            f"{where}: not a valid IAB TCF v2 consent string (it says version {version})",
            code="invalid_tc_string",
        )
    return consents


def _ids(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInput(f"{where}: must be a list of strings", code="invalid_consent_signal")
    return tuple(value)


def read_signals(context: Any, where: str) -> Signals | None:
    """The consent signals of an event's context, validated; None when there are none."""
    if not isinstance(context, dict):
        return None
    consent = context.get("consent")
    managed = context.get("consentManagement")
    if consent is None and managed is None:
        return None
    segment: dict[str, bool] | None = None
    tcf: dict[int, bool] | None = None
    if consent is not None:
        if not isinstance(consent, dict):
            raise InvalidInput(f"{where}.consent: must be an object", code="invalid_consent_signal")
        prefs = consent.get("categoryPreferences")
        if prefs is not None:
            if not isinstance(prefs, dict) or not all(isinstance(v, bool) for v in prefs.values()):
                raise InvalidInput(
                    f"{where}.consent.categoryPreferences: must map names to true or false",
                    code="invalid_consent_signal",
                )
            segment = dict(prefs)
        tc = consent.get("tcString")
        if tc is not None:
            if not isinstance(tc, str) or not tc:
                raise InvalidInput(
                    f"{where}.consent.tcString: must be a TC string", code="invalid_tc_string"
                )
            tcf = decode_tcf(tc, f"{where}.consent.tcString")
    allowed: tuple[str, ...] = ()
    denied: tuple[str, ...] = ()
    if managed is not None:
        if not isinstance(managed, dict):
            raise InvalidInput(
                f"{where}.consentManagement: must be an object", code="invalid_consent_signal"
            )
        allowed = _ids(
            managed.get("allowedConsentIds"), f"{where}.consentManagement.allowedConsentIds"
        )
        denied = _ids(
            managed.get("deniedConsentIds"), f"{where}.consentManagement.deniedConsentIds"
        )
    return Signals(segment=segment, allowed=allowed, denied=denied, tcf=tcf)


def choices(policy: Policy, signals: Signals) -> dict[str, tuple[bool, ConsentMethod]]:
    """Purpose -> (permitted?, method) that these signals state, no winning over yes."""
    mapping = policy.spec.consent_signals
    out: dict[str, tuple[bool, ConsentMethod]] = {}

    def say(purposes: Iterable[str], yes: bool, method: ConsentMethod) -> None:
        for purpose in purposes:
            before = out.get(purpose)
            if before is None or (before[0] and not yes):
                out[purpose] = (yes, method)

    if signals.segment is not None:
        for name, purposes in mapping.segment.items():
            say(purposes, signals.segment.get(name, False), ConsentMethod.banner)
    for consent_id in signals.allowed:
        say(mapping.rudderstack.get(consent_id, ()), True, ConsentMethod.banner)
    for consent_id in signals.denied:
        say(mapping.rudderstack.get(consent_id, ()), False, ConsentMethod.banner)
    if signals.tcf is not None:
        for number, purposes in mapping.tcf.items():
            say(purposes, signals.tcf.get(number, False), ConsentMethod.tcf)
    return out


def apply_signals(
    uow: UnitOfWork,
    vault: Vault,
    policy: Policy,
    items: Iterable[tuple[str, Signals]],
    *,
    now: datetime,
    actor: str,
    overruled: Iterable[str] = (),
    narrow_only: Collection[str] = (),
) -> int:
    """Record what the signals change, in message order; the number of records.

    `overruled`: purposes a stronger signal of the same request has settled (Global
    Privacy Control's), on which these signals say nothing. `narrow_only`: customers
    whose grants these signals may not make (known customers, on a public key's
    word): their refusals are recorded, their "yes" is not.
    """
    settled = frozenset(overruled)
    stated = [
        (customer_id, purpose, permitted, method)
        for customer_id, signals in items
        for purpose, (permitted, method) in choices(policy, signals).items()
        if purpose not in settled and not (permitted and customer_id in narrow_only)
    ]
    return state_choices(uow, vault, policy, stated, now=now, actor=actor)
