"""Loading and checking the policy, and the questions the rest of Trustable asks of it.

The taxonomy is fideslang's default one, read from the `fideslang` package: a purpose
must be a fideslang data-use key and a category a fideslang data-category key.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from pydantic import ValidationError

from trustable.core.errors import PolicyError
from trustable.policy.languages import banner_problems
from trustable.policy.schemas import LegalBasis, PolicySpec, PurposeSpec
from trustable.segments.rules import SEGMENT_NAME, EventRule

# Where an event field may come from; anything else in the tracking plan is a typo.
FIELD_ROOTS = ("traits", "properties", "context", "event", "name", "category", "groupId")
_DESTINATION_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_FIELD_PATH = re.compile(r"^[A-Za-z_$][\w$-]*(\.[A-Za-z_$][\w$-]*)*$")


@cache
def fideslang_taxonomy() -> tuple[frozenset[str], frozenset[str]]:
    """(data-category keys, data-use keys) of fideslang's default taxonomy."""
    from fideslang.default_taxonomy import DEFAULT_TAXONOMY

    categories = frozenset(c.fides_key for c in DEFAULT_TAXONOMY.data_category)
    uses = frozenset(u.fides_key for u in DEFAULT_TAXONOMY.data_use)
    return categories, uses


def covers(general: str, specific: str) -> bool:
    """True when `general` is `specific` or one of its ancestors in the taxonomy."""
    return specific == general or specific.startswith(general + ".")


def overlap(a: str, b: str) -> bool:
    """True when data of category `a` may be data of category `b`: one covers the other."""
    return covers(a, b) or covers(b, a)


@dataclass(frozen=True)
class Purpose:
    key: str
    spec: PurposeSpec

    @property
    def needs_consent(self) -> bool:
        return self.spec.legal_basis is LegalBasis.consent

    def uses(self, category: str) -> bool:
        return any(covers(c, category) for c in self.spec.categories)


# The policy's memos are bounded: field paths come from whoever sends events, so a
# sender inventing names must not grow them without end. Past these sizes a lookup
# is computed (a few dictionary probes) instead of remembered.
MEMO_SIZE = 20_000  # field paths, or (permitted set, category) pairs, per memo
MEMO_SETS = 64  # distinct sets of permitted purposes with verdicts remembered


@dataclass
class Policy:
    """A checked policy, with the lookups the hot paths need memoized (bounded:
    `MEMO_SIZE`, `MEMO_SETS`). It changes only when the process restarts with a new
    policy file, so no other process can make these stale."""

    spec: PolicySpec
    source: str = "<memory>"
    purposes: dict[str, Purpose] = field(init=False)
    _field_cache: dict[str, str | None] = field(init=False, default_factory=dict)
    _users_cache: dict[str, tuple[str, ...]] = field(init=False, default_factory=dict)
    _serves_cache: dict[tuple[frozenset[str], str], bool] = field(init=False, default_factory=dict)
    _verdicts: dict[frozenset[str], dict[str, str | None]] = field(init=False, default_factory=dict)
    _reach_cache: dict[str, frozenset[str]] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.purposes = {k: Purpose(k, v) for k, v in self.spec.purposes.items()}

    @property
    def notice_version(self) -> str:
        return self.spec.notice_version

    def purpose(self, key: str) -> Purpose | None:
        return self.purposes.get(key)

    def reachable(self, key: str) -> frozenset[str]:
        """The categories a purpose can reach: those it declares, and what the
        tracking plan files under a broad one it declares (a field outside the plan
        is never stored). Empty for an unknown purpose."""
        known = self._reach_cache.get(key)
        if known is None:
            found = self.purposes.get(key)
            known = (
                frozenset(found.spec.categories)
                | {c for c in self.spec.tracking_plan.values() if found.uses(c)}
                if found is not None
                else frozenset()
            )
            self._reach_cache[key] = known
        return known

    def category_label(self, category: str) -> str:
        """The words customers read for a data category: the policy's own label, or
        the key's last part in plain case (`user.contact.address.postal_code` ->
        "Postal code"), never a taxonomy's joined title ("User Contact Postal Code")."""
        label = self.spec.category_labels.get(category)
        if label:
            return label
        last = category.rsplit(".", 1)[-1].replace("_", " ").strip()
        return last[:1].upper() + last[1:] if last else category

    def category_of(self, path: str) -> str | None:
        """The category of an event field: the tracking plan's entry for the path or
        for its nearest declared parent (`context.page` covers `context.page.url`)."""
        try:
            return self._field_cache[path]
        except KeyError:
            pass
        plan = self.spec.tracking_plan
        probe = path
        found: str | None = None
        while True:
            if probe in plan:
                found = plan[probe]
                break
            if "." not in probe:
                break
            probe = probe.rsplit(".", 1)[0]
        if len(self._field_cache) < MEMO_SIZE:
            self._field_cache[path] = found
        return found

    def purposes_using(self, category: str) -> tuple[str, ...]:
        """Keys of the purposes that use `category` (or one of its ancestors)."""
        cached = self._users_cache.get(category)
        if cached is None:
            cached = tuple(k for k, p in self.purposes.items() if p.uses(category))
            self._users_cache[category] = cached
        return cached

    def field_category(self, path: str, value: object) -> str | None:
        """The category of a stored field: its path's, except a track event's name,
        which may have one of its own (`name_category`)."""
        if path == "event":
            return self.name_category(value)
        return self.category_of(path)

    def name_category(self, name: object) -> str | None:
        """The category of a track event's name: its own entry in `event_names`, else
        the tracking plan's `event` entry."""
        if isinstance(name, str) and name in self.spec.event_names:
            return self.spec.event_names[name]
        return self.category_of("event")

    def serves(self, permitted: frozenset[str], category: str) -> bool:
        """Does one of the `permitted` purposes use `category`? (memoized: customers
        share a handful of permitted sets, so this is one dictionary look-up.)"""
        key = (permitted, category)
        found = self._serves_cache.get(key)
        if found is None:
            found = any(p in permitted for p in self.purposes_using(category))
            if len(self._serves_cache) < MEMO_SIZE:
                self._serves_cache[key] = found
        return found

    def kept_category(self, permitted: frozenset[str], path: str) -> str | None:
        """The category under which an event field is kept, given the purposes
        permitted; None when it is not kept. One dictionary look-up once warm."""
        verdicts = self._verdicts.get(permitted)
        if verdicts is None:
            verdicts = {}  # past MEMO_SETS sets: used for this call only
            if len(self._verdicts) < MEMO_SETS:
                verdicts = self._verdicts.setdefault(permitted, verdicts)
        try:
            return verdicts[path]
        except KeyError:
            pass
        category = self.category_of(path)
        kept = category if category is not None and self.serves(permitted, category) else None
        if len(verdicts) < MEMO_SIZE:
            verdicts[path] = kept
        return kept

    def purposes_without_consent(self) -> frozenset[str]:
        return frozenset(k for k, p in self.purposes.items() if not p.needs_consent)


def load_policy(path: Path) -> Policy:
    """Read, parse and check a policy file; raise `PolicyError` naming each problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise PolicyError(f"{path}: no such policy file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"{path}: cannot be read ({exc.__class__.__name__})") from exc
    return parse_policy(text, source=str(path))


def parse_policy(text: str, *, source: str = "<policy>") -> Policy:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise PolicyError(f"{source}: {where}: {problem}") from exc
    if not isinstance(raw, dict):
        raise PolicyError(f"{source}: the policy must be a mapping at the top level")
    try:
        spec = PolicySpec.model_validate(raw)
    except ValidationError as exc:
        problems = [f"{_dotted(err['loc'])}: {err['msg']}" for err in exc.errors(include_url=False)]
        raise PolicyError(_report(source, problems)) from exc
    problems = check_meaning(spec)
    if problems:
        raise PolicyError(_report(source, problems))
    return Policy(spec, source=source)


def check_meaning(spec: PolicySpec) -> list[str]:
    """Problems of meaning: unknown fideslang keys, bad field paths, unused categories."""
    categories, uses = fideslang_taxonomy()
    problems: list[str] = []
    for key, purpose in spec.purposes.items():
        if key not in uses:
            problems.append(
                f"purposes.{key}: '{key}' is not a fideslang data use{_hint(key, uses)}"
            )
        for i, category in enumerate(purpose.categories):
            if category not in categories:
                problems.append(
                    f"purposes.{key}.categories[{i}]: '{category}' is not a fideslang "
                    f"data category{_hint(category, categories)}"
                )
    for path, category in spec.tracking_plan.items():
        if not _FIELD_PATH.match(path) or path.split(".", 1)[0] not in FIELD_ROOTS:
            problems.append(
                f"tracking_plan.{path}: not an event field path; it must start with one of "
                + ", ".join(FIELD_ROOTS)
            )
        if category not in categories:
            problems.append(
                f"tracking_plan.{path}: '{category}' is not a fideslang data category"
                f"{_hint(category, categories)}"
            )
    signals = spec.consent_signals
    mappings: list[tuple[str, dict[str, list[str]]]] = [
        ("segment", signals.segment),
        ("rudderstack", signals.rudderstack),
        ("tcf", {str(k): v for k, v in signals.tcf.items()}),
    ]
    for number in signals.tcf:
        if not 1 <= number <= 24:
            problems.append(f"consent_signals.tcf.{number}: TCF purposes are numbered 1 to 24")
    for source, mapping in mappings:
        for key, purposes in mapping.items():
            for i, mapped in enumerate(purposes):
                if mapped not in spec.purposes:
                    problems.append(
                        f"consent_signals.{source}.{key}[{i}]: '{mapped}' is not a purpose of "
                        "this policy"
                    )
    for name, category in spec.event_names.items():
        if category not in categories:
            problems.append(f"event_names.{name}: '{category}' is not a fideslang data category")
    for category, label in spec.category_labels.items():
        if category not in categories:
            problems.append(
                f"category_labels.{category}: not a fideslang data category"
                f"{_hint(category, categories)}"
            )
        elif not label.strip():
            problems.append(f"category_labels.{category}: the label is empty")
    chosen = spec.personalization
    if chosen is not None:
        if chosen.purpose not in spec.purposes:
            problems.append(
                f"personalization.purpose: '{chosen.purpose}' is not a purpose of this policy"
            )
        for field_name in ("item", "title", "rating"):
            path = getattr(chosen, field_name)
            if path not in spec.tracking_plan:
                problems.append(
                    f"personalization.{field_name}: '{path}' is not in the tracking plan"
                )
    guard = spec.guard
    if guard is not None:
        protector = spec.purposes.get(guard.purpose)
        if protector is None:
            problems.append(f"guard.purpose: '{guard.purpose}' is not a purpose of this policy")
        elif protector.legal_basis == LegalBasis.consent:
            problems.append(
                f"guard.purpose: '{guard.purpose}' rests on consent; the guard serves the "
                "customer, so its purpose must need none (a contract, say)"
            )
        for i, rule in enumerate(guard.rules):
            root = rule.item.split("[]", 1)[0]
            if root not in spec.tracking_plan:
                problems.append(f"guard.rules[{i}].item: '{root}' is not in the tracking plan")
    for name, destination in spec.destinations.items():
        if not _DESTINATION_NAME.match(name):
            problems.append(
                f"destinations.{name}: a name is 1 to 64 lower-case letters, digits, - or _"
            )
        url = urlsplit(destination.url)
        if url.scheme not in ("http", "https") or not url.hostname:
            problems.append(f"destinations.{name}.url: must be an http:// or https:// URL")
        for i, served in enumerate(destination.purposes):
            if served not in spec.purposes:
                problems.append(
                    f"destinations.{name}.purposes[{i}]: '{served}' is not a purpose of this policy"
                )
        for path in destination.mapping:
            if not _FIELD_PATH.match(path):
                problems.append(f"destinations.{name}.mapping.{path}: not an event field path")
    problems.extend(risk_problems(spec))
    problems.extend(segment_problems(spec))
    problems.extend(analytics_problems(spec))
    problems.extend(banner_problems(spec))
    return problems


# The most generalisation nodes a risk search may visit (product of the levels).
MAX_RISK_LATTICE = 20_000


def risk_problems(spec: PolicySpec) -> list[str]:
    """Problems of the `risk` section: fields that are not stored traits, hierarchies
    that cannot be coarsened step by step, categories the export's purpose may not use."""
    risk = spec.risk
    if risk is None:
        return []
    problems: list[str] = []
    purpose = spec.purposes.get(risk.purpose)
    if purpose is None:
        problems.append(f"risk.purpose: '{risk.purpose}' is not a purpose of this policy")

    def check_field(place: str, path: str) -> None:
        category = spec.tracking_plan.get(path)
        if not path.startswith("traits.") or category is None:
            traits = [p for p in spec.tracking_plan if p.startswith("traits.")]
            problems.append(
                f"{place}: '{path}' is not a trait of the tracking plan{_hint(path, traits)}; "
                "risk is measured over stored traits"
            )
        elif purpose is not None and not Purpose(risk.purpose, purpose).uses(category):
            problems.append(
                f"{place}: its category '{category}' is not one '{risk.purpose}' uses, so a "
                "de-identified export for that purpose may not hold it"
            )

    seen: set[str] = set()
    size = 1
    for i, qi in enumerate(risk.quasi_identifiers):
        place = f"risk.quasi_identifiers[{i}]"
        check_field(place + ".field", qi.field)
        if qi.field in seen:
            problems.append(f"{place}.field: '{qi.field}' is listed twice")
        seen.add(qi.field)
        if qi.prefix is not None and qi.bands is not None:
            problems.append(f"{place}: give `prefix` or `bands`, not both")
            continue
        if qi.bands is not None:
            widths = qi.bands
            if any(w < 2 for w in widths):
                problems.append(f"{place}.bands: every band is at least 2 wide")
            elif any(b <= a or b % a for a, b in zip(widths, widths[1:], strict=False)):
                problems.append(
                    f"{place}.bands: each band width must be a larger multiple of the one "
                    "before (5, 10, 20), so every step only merges whole bands"
                )
            size *= len(widths) + 2
        elif qi.prefix is not None:
            size *= qi.prefix + 1
        else:
            size *= 2
    for i, path in enumerate(risk.attributes):
        check_field(f"risk.attributes[{i}]", path)
        if path in seen:
            problems.append(
                f"risk.attributes[{i}]: '{path}' is a quasi-identifier; it cannot also be "
                "exported as it is"
            )
        seen.add(path)
    if size > MAX_RISK_LATTICE:
        problems.append(
            f"risk.quasi_identifiers: {size} combinations of levels to search; at most "
            f"{MAX_RISK_LATTICE} (fewer quasi-identifiers or shorter hierarchies)"
        )
    return problems


def segment_problems(spec: PolicySpec) -> list[str]:
    """Problems of the `segments` section: names unfit for URLs, purposes the policy
    lacks, fields the tracking plan lacks, and categories a rule reads that one of the
    segment's purposes may not use (a segment must not serve a purpose through data
    that purpose could not have read itself)."""
    problems: list[str] = []
    for name, segment in spec.segments.items():
        place = f"segments.{name}"
        if not SEGMENT_NAME.match(name):
            problems.append(f"{place}: a name is 1 to 64 lower-case letters, digits, - or _")
        declared: list[Purpose] = []
        for i, key in enumerate(segment.purposes):
            found = spec.purposes.get(key)
            if found is None:
                problems.append(
                    f"{place}.purposes[{i}]: '{key}' is not a purpose of this policy"
                    f"{_hint(key, spec.purposes)}"
                )
            elif key in segment.purposes[:i]:
                problems.append(f"{place}.purposes[{i}]: '{key}' is listed twice")
            else:
                declared.append(Purpose(key, found))
        rule = segment.rule
        read: list[tuple[str, str, str | None]] = []  # (place in the rule, path, category)
        if isinstance(rule, EventRule):
            named = spec.event_names.get(rule.event, spec.tracking_plan.get("event"))
            read.append((f"{place}.rule.event", "event", named))
            for path in rule.where:
                if path.startswith("traits."):
                    problems.append(
                        f"{place}.rule.where.{path}: a track event carries no traits; "
                        "use a trait rule"
                    )
                read.append((f"{place}.rule.where.{path}", path, _planned(spec, path)))
        else:
            if not rule.trait.startswith("traits."):
                problems.append(f"{place}.rule.trait: '{rule.trait}' is not a `traits.*` field")
            read.append((f"{place}.rule.trait", rule.trait, _planned(spec, rule.trait)))
        for where, path, category in read:
            if category is None:
                problems.append(
                    f"{where}: '{path}' is not in the tracking plan"
                    f"{_hint(path, spec.tracking_plan)}, so it is never stored"
                )
                continue
            kept_for = [
                p.retention_days for k, p in spec.purposes.items() if Purpose(k, p).uses(category)
            ]
            if isinstance(rule, EventRule) and kept_for and rule.within_days > max(kept_for):
                problems.append(
                    f"{where}: its category '{category}' is kept {max(kept_for)} days at most, "
                    f"less than the rule's within_days ({rule.within_days})"
                )
            for purpose in declared:
                if not purpose.uses(category):
                    problems.append(
                        f"{where}: its category '{category}' is not one '{purpose.key}' "
                        "uses, so the segment may not serve that purpose"
                    )
    return problems


def _planned(spec: PolicySpec, path: str) -> str | None:
    """The tracking plan's category for a path or its nearest declared parent."""
    probe = path
    while probe not in spec.tracking_plan:
        if "." not in probe:
            return None
        probe = probe.rsplit(".", 1)[0]
    return spec.tracking_plan[probe]


def unused_categories(policy: Policy) -> list[str]:
    """Tracking-plan fields whose category no purpose uses: always dropped at the door."""
    return sorted(
        path
        for path, category in policy.spec.tracking_plan.items()
        if not policy.purposes_using(category)
    )


def _hint(value: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(value, list(choices), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _report(source: str, problems: list[str]) -> str:
    lines = "\n".join(f"  - {p}" for p in problems)
    noun = "problem" if len(problems) == 1 else "problems"
    return f"{source}: {len(problems)} {noun}:\n{lines}"


# The most groups one aggregate may hold (a private histogram releases every one).
MAX_ANALYTICS_GROUPS = 1000


def analytics_problems(spec: PolicySpec) -> list[str]:
    """Problems of the `analytics` section: fields that are not in the tracking plan or
    whose category its purpose may not use, groups that are not declared, bad ranges."""
    section = spec.analytics
    if section is None:
        return []
    problems: list[str] = []
    purpose = spec.purposes.get(section.purpose)
    if purpose is None:
        problems.append(f"analytics.purpose: '{section.purpose}' is not a purpose of this policy")
    if section.max_epsilon > section.epsilon_per_day:
        problems.append("analytics.max_epsilon: larger than analytics.epsilon_per_day")

    def check_field(place: str, path: str) -> None:
        category = spec.tracking_plan.get(path)
        if not path.startswith(("traits.", "properties.")) or category is None:
            problems.append(
                f"{place}: '{path}' is not a `traits.*` or `properties.*` field of the "
                f"tracking plan{_hint(path, spec.tracking_plan)}"
            )
        elif purpose is not None and not Purpose(section.purpose, purpose).uses(category):
            problems.append(
                f"{place}: its category '{category}' is not one '{section.purpose}' uses, "
                "so no aggregate may read it"
            )

    for name, dim in section.dimensions.items():
        place = f"analytics.dimensions.{name}"
        check_field(f"{place}.field", dim.field)
        if (dim.values is None) == (dim.bands is None):
            problems.append(f"{place}: declare its groups with either `values` or `bands`")
        if dim.bands is not None and dim.up_to is None:
            problems.append(f"{place}.up_to: needed with `bands` (where the open band starts)")
        if dim.bands is not None and dim.up_to is not None and dim.up_to // dim.bands > 200:
            problems.append(f"{place}: more than 200 bands")
        if dim.prefix is not None and dim.values is None:
            problems.append(f"{place}.prefix: compares against `values`; declare them")
        if dim.values is not None and len(set(dim.values)) != len(dim.values):
            problems.append(f"{place}.values: listed twice")
    for name, measure in section.measures.items():
        place = f"analytics.measures.{name}"
        check_field(f"{place}.field", measure.field)
        if not measure.low < measure.high:
            problems.append(f"{place}: low must be below high")
    return problems
