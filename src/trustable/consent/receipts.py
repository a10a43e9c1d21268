"""Consent receipts: a signed, portable record of one consent decision.

A receipt lets a customer prove, to anyone and without trusting Trustable, what they
decided, when, how, and what the company said the decision covered. Its shape is the
Kantara Consent Receipt v1.1 (the specification ISO/IEC TS 27560 grew from), with W3C
DPV terms (prefix `dpv:` = https://w3id.org/dpv#) where Kantara has no word: the
consent status above all, since Kantara only ever receipted a "yes".

Nothing new is stored. A receipt is built from the stored consent record and the
policy alone, so the same record always gives the same bytes and, Ed25519 being
deterministic, the same signature: the receipt handed out at the change and the one
fetched later are identical. It is signed with the ledger's key, the one key whose
public half customers already have (`GET /v1/ledger/public-key`).

A receipt carries no personal data: the customer is named by the opaque `cus_…` id,
never by an email or the company's user id. docs/consent.md describes every field.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import select

from trustable.consent.service import ConsentMethod, ConsentRecord, ConsentStatus
from trustable.consent.tables import consent_records
from trustable.core.errors import InvalidInput, NotFound
from trustable.ledger.service import encode, stamp
from trustable.policy.schemas import LegalBasis
from trustable.policy.service import Policy, Purpose
from trustable.storage.uow import UnitOfWork
from trustable.vault.service import Vault

RECEIPT_VERSION = "KI-CR-v1.1.0"
SIGNATURE_ALG = "Ed25519"
# The policy's customer-facing texts are English; a policy that speaks another
# language will need a field of its own before this can say otherwise.
LANGUAGE = "en"
# Every method Trustable records is an act of the customer's own (a call made for them,
# a portal switch, an imported decision, a browser signal they turned on).
CONSENT_TYPE = "EXPLICIT"

CONSENT_STATUS = {
    ConsentStatus.granted: "dpv:ConsentGiven",
    ConsentStatus.denied: "dpv:ConsentRefused",
    ConsentStatus.withdrawn: "dpv:ConsentWithdrawn",
    # An objection (Art. 21) ends use as a withdrawal does; DPV has no status of its own.
    ConsentStatus.objected: "dpv:ConsentWithdrawn",
}

LEGAL_BASIS = {
    LegalBasis.consent: "dpv:Consent",
    LegalBasis.contract: "dpv:Contract",
    LegalBasis.legal_obligation: "dpv:LegalObligation",
    LegalBasis.legitimate_interest: "dpv:LegitimateInterest",
}

_BASIS_WORDS = {
    LegalBasis.contract: "the contract with you",
    LegalBasis.legal_obligation: "a legal obligation",
    LegalBasis.legitimate_interest: "the company's legitimate interest",
}

# fideslang data use (and everything under it) -> the DPV purpose that fits it. The
# longest matching key wins, so a precise entry refines its family's.
DPV_PURPOSES = {
    "essential": "dpv:ServiceProvision",
    "essential.fraud_detection": "dpv:FraudPreventionAndDetection",
    "essential.legal_obligation": "dpv:LegalCompliance",
    "essential.service.authentication": "dpv:IdentityAuthentication",
    "essential.service.payment_processing": "dpv:PaymentManagement",
    "essential.service.security": "dpv:EnforceSecurity",
    "functional.service": "dpv:ServiceProvision",
    "functional.service.improve": "dpv:ServiceOptimisation",
    "marketing": "dpv:Marketing",
    "marketing.communications": "dpv:DirectMarketing",
    "marketing.advertising": "dpv:Advertising",
    "marketing.advertising.first_party.targeted": "dpv:PersonalisedAdvertising",
    "marketing.advertising.profiling": "dpv:PersonalisedAdvertising",
    "marketing.advertising.third_party.targeted": "dpv:PersonalisedAdvertising",
    "personalize": "dpv:ServicePersonalisation",
    "analytics": "dpv:ServiceUsageAnalytics",
    "third_party_sharing": "dpv:SellDataToThirdParties",
    "third_party_sharing.legal_obligation": "dpv:LegalCompliance",
}

# Data uses that by their very name hand data to someone else.
THIRD_PARTY_USES = ("third_party_sharing", "marketing.advertising.third_party")

# Sensitive data, as the strictest of the laws Trustable is used under define it:
# GDPR Art. 9 special categories and Art. 10 criminal records, and CPRA "sensitive
# personal information" (§1798.140(ae)), in fideslang's words. Children's data is
# added: COPPA and GDPR Art. 8 protect it specially.
SENSITIVE_CATEGORIES = (
    "user.authorization.biometric",
    "user.authorization.credentials",
    "user.authorization.password",
    "user.biometric",
    "user.childrens",
    "user.content.private",
    "user.criminal_history",
    "user.demographic.political_opinion",
    "user.demographic.race_ethnicity",
    "user.demographic.religious_belief",
    "user.demographic.sexual_orientation",
    "user.financial",
    "user.government_id",
    "user.health_and_medical",
    "user.location.precise",
)

_RECEIPT_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


def _within(key: str, root: str) -> bool:
    return key == root or key.startswith(root + ".")


def dpv_purpose(purpose: str) -> str | None:
    """The DPV purpose for a fideslang data use, from its nearest mapped ancestor;
    None when no DPV purpose fits (better silent than wrong)."""
    probe = purpose
    while True:
        if probe in DPV_PURPOSES:
            return DPV_PURPOSES[probe]
        if "." not in probe:
            return None
        probe = probe.rsplit(".", 1)[0]


def is_sensitive(category: str) -> bool:
    return any(_within(category, root) for root in SENSITIVE_CATEGORIES)


def sensitive_categories(policy: Policy, found: Purpose | None) -> list[str]:
    """The sensitive categories a purpose can reach.

    A purpose that declares a sensitive category reaches it; one that declares a
    broad parent (`user.demographic`) reaches only what the tracking plan actually
    files under it, since a field outside the plan is never stored.
    """
    if found is None:
        return []
    return sorted(c for c in policy.reachable(found.key) if is_sensitive(c))


def recipients(policy: Policy, purpose: str) -> list[str]:
    """The destinations that receive data for `purpose`, by name.

    Trustable cannot tell a processor from an independent third party, so every
    destination counts as a disclosure: the receipt errs toward telling.
    """
    return sorted(name for name, d in policy.spec.destinations.items() if purpose in d.purposes)


def public_key_b64(vault: Vault) -> str:
    """The ledger's Ed25519 public key, raw 32 bytes in standard base64: the same
    string `GET /v1/ledger/public-key` shows."""
    raw = vault.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def _controller(policy: Policy) -> dict[str, Any]:
    org = policy.spec.organization
    controller: dict[str, Any] = {
        "piiController": org.name,
        "onBehalf": False,
        "contact": org.contact,
    }
    if org.contact.startswith(("https://", "http://")):
        controller["piiControllerUrl"] = org.contact
    elif _EMAIL.match(org.contact):
        controller["email"] = org.contact
    return controller


def _termination(policy: Policy, found: Purpose | None, status: ConsentStatus) -> str:
    """How the decision ends, in words for the customer: a grant by withdrawal, a
    refusal by a later grant, a purpose on another legal basis by objection."""
    contact = policy.spec.organization.contact
    if found is None:
        return "This purpose is no longer in the policy: no data is used for it any more."
    keep = f"The policy keeps data for this purpose at most {found.spec.retention_days} days."
    if found.needs_consent and status is not ConsentStatus.granted:
        return (
            "No consent is in force: this purpose stays off for you until you grant it, "
            f"which you can do at any time by writing to {contact}."
        )
    if found.needs_consent:
        return (
            f"Until you withdraw it. You can withdraw at any time by writing to {contact}, "
            f"and the withdrawal applies to the very next event. {keep}"
        )
    return (
        f"This purpose rests on {_BASIS_WORDS[found.spec.legal_basis]}, not on consent, and "
        f"lasts while that does; to object or to ask for erasure, write to {contact}. {keep}"
    )


def _purpose(record: ConsentRecord, policy: Policy) -> dict[str, Any]:
    found = policy.purpose(record.purpose)
    sent_to = recipients(policy, record.purpose)
    third_party = bool(sent_to) or any(_within(record.purpose, u) for u in THIRD_PARTY_USES)
    gone = f"{record.purpose} (no longer in the policy)"
    entry: dict[str, Any] = {
        "purpose": found.spec.description if found else gone,
        "purposeCategory": [record.purpose],
        "consentType": CONSENT_TYPE,
        "piiCategory": list(found.spec.categories) if found else [],
        "primaryPurpose": _within(record.purpose, "essential"),
        "termination": _termination(policy, found, record.status),
        "thirdPartyDisclosure": third_party,
        "dpv:hasPurpose": [term] if (term := dpv_purpose(record.purpose)) else [],
        "dpv:hasLegalBasis": LEGAL_BASIS[found.spec.legal_basis] if found else None,
        "dpv:hasConsentStatus": CONSENT_STATUS[record.status],
    }
    if third_party:
        entry["thirdPartyName"] = ", ".join(sent_to) if sent_to else "not named in the policy"
    return entry


def build_receipt(record: ConsentRecord, policy: Policy, public_key_b64: str) -> dict[str, Any]:
    """The receipt of one consent record, as a JSON-ready dict.

    Deterministic: it reads only the record and the policy (never the clock), so it
    can be rebuilt at any time instead of being stored. Values that neither says are
    null, never invented (a change that named no jurisdiction; a policy without a
    notice URL).
    """
    found = policy.purpose(record.purpose)
    spi = sensitive_categories(policy, found)
    return {
        "version": RECEIPT_VERSION,
        "jurisdiction": record.jurisdiction,
        "consentTimestamp": int(record.recorded_at.timestamp()),
        "collectionMethod": ConsentMethod(record.method).value,
        "consentReceiptID": record.receipt_id,
        "publicKey": public_key_b64,
        "language": LANGUAGE,
        "piiPrincipalId": record.customer_id,
        "piiControllers": [_controller(policy)],
        "policyUrl": None,
        "noticeVersion": record.notice_version,
        "recordedAt": stamp(record.recorded_at),
        "services": [
            {
                "service": policy.spec.organization.name,
                "purposes": [_purpose(record, policy)],
            }
        ],
        "sensitive": bool(spi),
        "spiCat": spi,
    }


def sign_receipt(receipt: dict[str, Any], vault: Vault) -> dict[str, Any]:
    return sign_document("receipt", receipt, vault)


def sign_document(name: str, document: dict[str, Any], vault: Vault) -> dict[str, Any]:
    """`{name: document, "signature": …}`: the document's canonical bytes
    (`ledger.service.encode`: JSON, keys sorted, no whitespace, UTF-8) signed with the
    ledger's Ed25519 key. Receipts and erasure certificates are signed this way."""
    key = vault.signing_key()
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return {
        name: document,
        "signature": {
            "alg": SIGNATURE_ALG,
            "value": base64.b64encode(key.sign(encode(document))).decode("ascii"),
            "publicKey": base64.b64encode(raw).decode("ascii"),
        },
    }


def issue_receipt(record: ConsentRecord, policy: Policy, vault: Vault) -> dict[str, Any]:
    """Build and sign the receipt of `record`."""
    return sign_receipt(build_receipt(record, policy, public_key_b64(vault)), vault)


def _public_key(key: Ed25519PublicKey | bytes | str) -> Ed25519PublicKey:
    if isinstance(key, Ed25519PublicKey):
        return key
    raw = base64.b64decode(key, validate=True) if isinstance(key, str) else key
    return Ed25519PublicKey.from_public_bytes(raw)


def verify_receipt(signed: dict[str, Any], public_key: Ed25519PublicKey | bytes | str) -> bool:
    return verify_document("receipt", signed, public_key)


def verify_document(
    name: str, signed: dict[str, Any], public_key: Ed25519PublicKey | bytes | str
) -> bool:
    """True only when `signed` carries an Ed25519 signature by `public_key` over its
    document's canonical bytes.

    The key must come from the caller (the ledger API, a pinned copy), never from the
    document itself: anyone can sign with a key of their own and name it there.
    Anything malformed is simply not verified.
    """
    try:
        key = _public_key(public_key)
        document = signed[name]
        signature = signed["signature"]
        if not isinstance(document, dict) or signature["alg"] != SIGNATURE_ALG:
            return False
        key.verify(base64.b64decode(signature["value"], validate=True), encode(document))
    except (InvalidSignature, KeyError, TypeError, ValueError, binascii.Error):
        return False
    return True


def parse_receipt_id(value: str) -> str:
    """A receipt id in its stored form (lower-case UUID), or a clear refusal."""
    if not _RECEIPT_ID.match(value):
        raise InvalidInput(
            "a receipt id is a UUID such as 3f1c5a2e-8b4d-4c6f-9a7e-1d2b3c4d5e6f",
            code="invalid_receipt_id",
        )
    return value.lower()


def _record(row: Any) -> ConsentRecord:
    return ConsentRecord(
        receipt_id=row.receipt_id,
        customer_id=row.customer_id,
        purpose=row.purpose,
        status=ConsentStatus(row.status),
        method=ConsentMethod(row.method),
        notice_version=row.notice_version,
        jurisdiction=row.jurisdiction,
        recorded_at=row.recorded_at,
    )


def find_record(
    uow: UnitOfWork, receipt_id: str, customer_id: str | None = None
) -> ConsentRecord | None:
    """The consent record a receipt id names (among `customer_id`'s, when given: a
    store partitioned by customer then reads their partition only); None when there
    is none (never made, erased with its customer, or someone else's)."""
    stmt = select(consent_records).where(consent_records.c.receipt_id == receipt_id)
    if customer_id is not None:
        stmt = stmt.where(consent_records.c.customer_id == customer_id)
    row = uow.connection.execute(stmt).first()
    return _record(row) if row is not None else None


def receipt_for(uow: UnitOfWork, policy: Policy, vault: Vault, receipt_id: str) -> dict[str, Any]:
    """The signed receipt of the record `receipt_id` names (rebuilt, as it was issued).

    Raises `InvalidInput` for a malformed id and `NotFound` for an unknown one.
    """
    record = find_record(uow, parse_receipt_id(receipt_id))
    if record is None:
        raise NotFound("no consent record has this receipt id", code="unknown_receipt")
    return issue_receipt(record, policy, vault)
