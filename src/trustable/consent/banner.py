"""The consent banner: what it asks, in the policy's words, and the choices it sends.

`/consent.js` carries `banner_content` inside itself, so the banner shows without a
second request. What a visitor chooses arrives through `record_banner_choices`,
which a public write key may call, for anonymous ids only: a public key's word may
shape an anonymous visitor's consent, never a known customer's (docs/consent.md, "The
banner").
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from trustable.consent.gpc import gpc_purposes
from trustable.consent.service import (
    ConsentMethod,
    ConsentRecord,
    ConsentStatus,
    load_states,
    record_consents,
)
from trustable.core.errors import Forbidden, InvalidInput
from trustable.identity.batch import IdentityBatch
from trustable.identity.kinds import normalise
from trustable.identity.service import hold_customers, known_customers
from trustable.policy.schemas import BannerTexts, LegalBasis, PurposeWords
from trustable.policy.service import Policy
from trustable.storage.uow import UnitOfWork
from trustable.vault.service import Vault


def _texts(texts: BannerTexts, organization: str) -> dict[str, str]:
    words = texts.model_dump()
    words["intro"] = texts.intro.replace("{organization}", organization)
    return words


def banner_content(policy: Policy) -> dict[str, Any]:
    """Everything the banner shows and maps, in every language the policy has.

    Only the policy's public words: the same a visitor reads in the banner itself.
    """
    spec = policy.spec
    organization = spec.organization.name
    own = {
        key: PurposeWords(name=p.name, description=p.description, benefit=p.benefit)
        for key, p in spec.purposes.items()
    }
    languages = {
        spec.banner.language: (spec.banner.texts, own),
        **{tag: (t.texts, t.purposes) for tag, t in spec.banner.translations.items()},
    }
    asked = sorted(k for k, p in spec.purposes.items() if p.legal_basis == LegalBasis.consent)
    return {
        "notice_version": policy.notice_version,
        "language": spec.banner.language,
        "languages": {
            tag: {
                "texts": _texts(texts, organization),
                "purposes": {key: words[key].model_dump() for key in spec.purposes},
            }
            for tag, (texts, words) in languages.items()
        },
        "ask": asked,
        "always_on": [
            {"purpose": key, "basis": p.legal_basis.value}
            for key, p in sorted(spec.purposes.items())
            if p.legal_basis != LegalBasis.consent
        ],
        "gpc": [key for key in gpc_purposes(policy) if key in asked],
        # What the adapters tell the SDKs: each category or consent id is allowed
        # when every purpose it stands for is.
        "segment": spec.consent_signals.segment,
        "rudderstack": spec.consent_signals.rudderstack,
    }


def _checked(policy: Policy, choices: Mapping[str, bool], gpc: bool) -> list[str]:
    """The purposes to record, in the policy's order: those answered, and those GPC
    covers, which its signal answers when the visitor did not."""
    covered = set(gpc_purposes(policy)) if gpc else set()
    for purpose in choices:
        found = policy.purpose(purpose)
        if found is None:
            raise InvalidInput(f"unknown purpose '{purpose}'", code="unknown_purpose")
        if not found.needs_consent:
            raise InvalidInput(
                f"'{purpose}' needs no consent (its legal basis is "
                f"{found.spec.legal_basis.value}): the banner does not ask for it",
                code="consent_not_asked",
            )
    return [
        key
        for key, p in policy.spec.purposes.items()
        if p.legal_basis == LegalBasis.consent and (key in choices or key in covered)
    ]


def record_banner_choices(
    uow: UnitOfWork,
    vault: Vault,
    policy: Policy,
    *,
    anonymous_id: str,
    choices: Mapping[str, bool],
    gpc: bool,
    now: datetime,
    actor: str,
    jurisdiction: str | None = None,
) -> list[ConsentRecord]:
    """Record a visitor's answer to the banner, one record per purpose answered.

    Every answer is recorded, the same as before included: it is the visitor's own
    act under this notice version, and each gets its receipt. A "no" to a purpose
    Global Privacy Control covers, from a browser sending the signal, is recorded as
    `gpc`, and so is such a purpose left unanswered; everything else as `banner`. The
    anonymous id must not belong to a known customer (a user id or a contact):
    `Forbidden` then, and nothing is written.
    """
    asked = _checked(policy, choices, gpc)
    ident = ("anonymous_id", normalise("anonymous_id", anonymous_id))
    batch = IdentityBatch(uow, vault, now)
    batch.preload([ident])
    holder = batch.find(ident)
    if holder is not None:
        # Held first: a join that would make this history a known one waits for us.
        hold_customers(uow, [holder], exclusive=False)
        if known_customers(uow, [holder]):
            raise Forbidden(
                "this anonymous id belongs to a signed-in customer: their consent changes "
                "through the portal or the shop's backend, not a public key",
                code="known_customer",
            )
    customer_id = batch.resolve([ident])
    batch.flush()
    current = load_states(uow, [customer_id])[customer_id] if holder is not None else {}
    covered = set(gpc_purposes(policy)) if gpc else set()
    decisions = []
    for purpose in asked:
        yes = choices.get(purpose, False)
        if yes:
            status = ConsentStatus.granted
        elif current.get(purpose) == ConsentStatus.granted.value:
            status = ConsentStatus.withdrawn
        else:
            status = ConsentStatus.denied
        method = ConsentMethod.gpc if purpose in covered and not yes else ConsentMethod.banner
        decisions.append((purpose, status, method))
    return record_consents(
        uow,
        policy,
        vault=vault,
        actor=actor,
        customer_id=customer_id,
        decisions=decisions,
        now=now,
        jurisdiction=jurisdiction,
        new_customer=holder is None,
    )
