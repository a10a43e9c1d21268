"""The shape of `trustable.yaml`, as pydantic models.

These models check types and required keys; `policy.service` then checks meaning
(fideslang keys, cross references) and names the place of every problem.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from trustable.segments.rules import SegmentSpec


class LegalBasis(StrEnum):
    consent = "consent"
    contract = "contract"
    legal_obligation = "legal_obligation"
    legitimate_interest = "legitimate_interest"


class PurposeSpec(BaseModel):
    """One purpose: a fideslang data use, explained to the customer."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120)
    description: str = Field(min_length=1, description="plain-language text for customers")
    benefit: str = Field(min_length=1, description="what the customer gets in return")
    legal_basis: LegalBasis
    categories: list[str] = Field(min_length=1)
    retention_days: int = Field(gt=0, le=36500)


class OrganizationSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    contact: str = Field(min_length=1, description="where customers reach the privacy team")


class DestinationSpec(BaseModel):
    """A downstream system that receives events, bound to the purposes it serves."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, description="http(s) webhook that receives each event")
    purposes: list[str] = Field(min_length=1)
    mapping: dict[str, str] = Field(
        default_factory=dict, description="event field path -> name the receiver expects"
    )
    timeout_seconds: float = Field(5.0, gt=0, le=60)
    max_attempts: int = Field(8, ge=1, le=50)


class ConsentSignalsSpec(BaseModel):
    """How choices made in existing consent tools map to this policy's purposes."""

    model_config = ConfigDict(extra="forbid")

    segment: dict[str, list[str]] = Field(
        default_factory=dict,
        description="context.consent.categoryPreferences key -> purposes",
    )
    rudderstack: dict[str, list[str]] = Field(
        default_factory=dict, description="context.consentManagement consent id -> purposes"
    )
    tcf: dict[int, list[str]] = Field(
        default_factory=dict, description="IAB TCF v2 purpose number (1-24) -> purposes"
    )


class PersonalizationSpec(BaseModel):
    """What recommendations learn from: which events are ratings of which items."""

    model_config = ConfigDict(extra="forbid")

    purpose: str = Field(min_length=1, description="the purpose recommendations serve")
    event: str = Field(min_length=1, description="the track event that rates an item")
    item: str = Field(min_length=1, description="field path of the item's id")
    title: str = Field(min_length=1, description="field path of the item's name")
    rating: str = Field(min_length=1, description="field path of the rating")
    positive: float = Field(4.0, description="a rating at least this is a like")
    reason: str = Field(
        "because you rated {title} {rating} stars",
        description="why an item is recommended; {title} and {rating} are filled in",
    )
    not_personal: str = Field(
        min_length=1,
        description="shown with non-personal results: what personalization would use and give",
    )


class GuardRuleSpec(BaseModel):
    """One warning the guard may give before an action, from the customer's history."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    action: str = Field(min_length=1, description="the action it guards, e.g. purchase")
    event: str = Field(min_length=1, description="the track event that did it before")
    item: str = Field(
        min_length=1, description="field path of the item; `list[].key` looks inside lists"
    )
    within_days: int | None = Field(None, gt=0, description="only if done this recently")
    cancelled_by: str | None = Field(None, description="a later event that undoes it")
    say: str = Field(min_length=1, description="the warning; {date} and {days} filled in")


class GuardSpec(BaseModel):
    """The trust guard: warnings that serve the customer, never the seller."""

    model_config = ConfigDict(extra="forbid")

    purpose: str = Field(min_length=1, description="a purpose that needs no consent")
    rules: list[GuardRuleSpec] = Field(min_length=1)


class QuasiIdentifierSpec(BaseModel):
    """A trait an attacker may already know about a person, and how it may be coarsened.

    `prefix: n` keeps the first n, n-1, … 0 characters (postcodes); `bands: [5, 10]`
    turns a number into bands of each width, every width a multiple of the one before
    (ages); neither: the value is kept or hidden (`*`).
    """

    model_config = ConfigDict(extra="forbid")

    field: str = Field(min_length=1, description="a `traits.*` field of the tracking plan")
    prefix: int | None = Field(None, ge=1, le=10, description="characters kept at most")
    bands: list[int] | None = Field(None, min_length=1, max_length=6)


class RiskSpec(BaseModel):
    """Re-identification risk: the quasi-identifiers, the k to reach, what an export holds."""

    model_config = ConfigDict(extra="forbid")

    purpose: str = Field(
        "analytics.reporting",
        description="de-identified exports hold only customers who permit this purpose",
    )
    k: int = Field(5, ge=2, le=1000, description="default smallest group size to reach")
    quasi_identifiers: list[QuasiIdentifierSpec] = Field(min_length=1, max_length=8)
    attributes: list[str] = Field(
        default_factory=list,
        description="`traits.*` fields exported as they are: assumed unknown to an attacker",
    )


class DimensionSpec(BaseModel):
    """A field aggregates may group by, with its groups declared in advance.

    Declared groups are what a differentially private histogram releases, every one of
    them (absent ones too, as noise), so whether a group exists does not leak: `values`
    lists them (`prefix: n` compares their first n characters); `bands: 10` turns a
    number into bands 10 wide up to `up_to`, then one open band. A value outside them
    falls in `other`, a missing one in `unknown`.
    """

    model_config = ConfigDict(extra="forbid")

    field: str = Field(min_length=1, description="a `traits.*` or `properties.*` field")
    values: list[str] | None = Field(None, min_length=1, max_length=100)
    prefix: int | None = Field(None, ge=1, le=10, description="characters kept (postcodes)")
    bands: int | None = Field(None, ge=1, le=1000, description="width of numeric bands")
    up_to: int | None = Field(None, ge=1, le=100_000, description="where the open band starts")


class MeasureSpec(BaseModel):
    """A numeric field aggregates may sum, clamped to [low, high] (what bounds a sum's
    sensitivity under differential privacy, and keeps one outlier from showing)."""

    model_config = ConfigDict(extra="forbid")

    field: str = Field(min_length=1, description="a `traits.*` or `properties.*` field")
    low: float
    high: float


class AnalyticsSpec(BaseModel):
    """Aggregates for analysts: groups of at least k, optionally differentially private
    under a budget of epsilon per analyst and day."""

    model_config = ConfigDict(extra="forbid")

    purpose: str = Field("analytics.reporting", description="only customers permitting it")
    k: int = Field(10, ge=2, le=10_000, description="smallest group an answer shows")
    epsilon_per_day: float = Field(3.0, gt=0, le=100, description="each analyst's budget")
    max_epsilon: float = Field(1.0, gt=0, le=10, description="the most one query may spend")
    max_events_per_customer: int = Field(
        25, ge=1, le=10_000, description="events one customer adds to a private answer at most"
    )
    exact: bool = Field(True, description="false: every answer is differentially private")
    dimensions: dict[str, DimensionSpec] = Field(default_factory=dict)
    measures: dict[str, MeasureSpec] = Field(default_factory=dict)


class BannerTexts(BaseModel):
    """The consent banner's own words, in one language. `{organization}` in `intro` is
    the organization's name."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1)
    intro: str = Field(min_length=1)
    accept_all: str = Field(min_length=1)
    reject_all: str = Field(min_length=1)
    choose: str = Field(min_length=1)
    save: str = Field(min_length=1)
    ask_heading: str = Field(min_length=1, description="over the purposes that need consent")
    always_on_heading: str = Field(min_length=1, description="over the purposes that need none")
    always_on: str = Field(min_length=1, description="the state of a purpose that needs none")
    you_get: str = Field(min_length=1, description="before a purpose's benefit")
    why_contract: str = Field(min_length=1)
    why_legal_obligation: str = Field(min_length=1)
    why_legitimate_interest: str = Field(min_length=1)
    gpc_note: str = Field(min_length=1, description="beside a purpose GPC turned off")
    receipts_heading: str = Field(min_length=1)
    receipts_none: str = Field(min_length=1)
    receipt_download: str = Field(min_length=1)
    allowed: str = Field(min_length=1)
    refused: str = Field(min_length=1)
    saved: str = Field(min_length=1)
    failed: str = Field(min_length=1, description="when the choice could not be recorded")


ENGLISH_BANNER = BannerTexts(
    title="Your data, your choice",
    intro="{organization} asks before using your data for anything more than running "
    "the shop. Nothing below is on until you say so, and you can change your mind at "
    "any time.",
    accept_all="Accept all",
    reject_all="Reject all",
    choose="Choose",
    save="Save my choices",
    ask_heading="What we ask your permission for",
    always_on_heading="What needs no permission",
    always_on="Always on",
    you_get="What you get:",
    why_contract="Needed to provide what you signed up for.",
    why_legal_obligation="The law requires it.",
    why_legitimate_interest="Needed to protect you and the shop; you may object at any time.",
    gpc_note="Off, because your browser asks sites not to sell or share your data "
    "(Global Privacy Control). Turn it on only if you want this.",
    receipts_heading="Your receipts",
    receipts_none="No choice recorded yet.",
    receipt_download="Download your signed receipts",
    allowed="allowed",
    refused="refused",
    saved="Your choices are saved.",
    failed="Your choices could not be saved. Please try again.",
)


class PurposeWords(BaseModel):
    """A purpose's texts in another language."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120)
    description: str = Field(min_length=1)
    benefit: str = Field(min_length=1)


class TranslationSpec(BaseModel):
    """Everything customers read in the banner, in one more language."""

    model_config = ConfigDict(extra="forbid")

    texts: BannerTexts
    purposes: dict[str, PurposeWords] = Field(description="every purpose of the policy")


class BannerSpec(BaseModel):
    """The consent banner (`/consent.js`): its words in the policy's language, and
    translations, each complete."""

    model_config = ConfigDict(extra="forbid")

    language: str = Field("en", description="the language of the policy's own texts")
    texts: BannerTexts = Field(default_factory=lambda: ENGLISH_BANNER.model_copy())
    translations: dict[str, TranslationSpec] = Field(
        default_factory=dict, description="language tag (de, fr-CA) -> its texts"
    )


class PolicySpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = Field(1, ge=1, le=1, description="format version of this file")
    notice_version: str = Field(min_length=1, max_length=64)
    organization: OrganizationSpec
    purposes: dict[str, PurposeSpec] = Field(min_length=1)
    tracking_plan: dict[str, str] = Field(default_factory=dict)
    event_names: dict[str, str] = Field(
        default_factory=dict,
        description="track event name -> the category of the name itself, where it says "
        "more than the tracking plan's `event` entry (an order is purchase history)",
    )
    category_labels: dict[str, str] = Field(
        default_factory=dict,
        description="data category -> the words customers read for it ('Postal code'); "
        "a category without one is named after its last part",
    )
    destinations: dict[str, DestinationSpec] = Field(default_factory=dict)
    consent_signals: ConsentSignalsSpec = Field(default_factory=ConsentSignalsSpec)
    personalization: PersonalizationSpec | None = None
    guard: GuardSpec | None = None
    risk: RiskSpec | None = None
    segments: dict[str, SegmentSpec] = Field(
        default_factory=dict, description="segment name -> its description, purposes, rule"
    )
    analytics: AnalyticsSpec | None = None
    banner: BannerSpec = Field(default_factory=BannerSpec)
