"""`trustable policy audit`: the running system held against the policy's promises.

Each check reads what is really stored and shared, not what the code intends:
- nothing is stored under a category the tracking plan does not declare;
- no destination ever received a category outside what its purposes use;
- every purpose tells customers what it does and what they get in return;
- every category the tracking plan collects has a retention (a purpose that uses it).
"""

from __future__ import annotations

from dataclasses import dataclass

from trustable.events.service import stored_categories
from trustable.ledger import service as ledger
from trustable.policy.service import Policy, unused_categories
from trustable.storage.uow import UnitOfWork

# Characters: a sentence a customer can act on, not a label.
MIN_TEXT = {"description": 40, "benefit": 20}


@dataclass(frozen=True)
class Break:
    promise: str
    detail: str


def audit(uow: UnitOfWork, policy: Policy) -> list[Break]:
    breaks: list[Break] = []
    declared = set(policy.spec.tracking_plan.values())
    for category in sorted(stored_categories(uow) - declared):
        breaks.append(
            Break(
                "only declared data is stored",
                f"data is stored under '{category}', which the tracking plan does not declare",
            )
        )

    for entry in ledger.entries_of_kind(uow, "share"):
        detail = entry.content().get("detail", {})
        name = detail.get("destination")
        spec = policy.spec.destinations.get(name) if isinstance(name, str) else None
        if spec is None:
            breaks.append(
                Break(
                    "shares go only to declared destinations",
                    f"ledger entry {entry.index} records a share with an undeclared destination",
                )
            )
            continue
        purposes = [p for p in (policy.purpose(k) for k in spec.purposes) if p is not None]
        for category in detail.get("categories", []):
            if not any(p.uses(category) for p in purposes):
                breaks.append(
                    Break(
                        "destinations receive only what their purposes use",
                        f"ledger entry {entry.index}: {name} received '{category}'",
                    )
                )

    for key, purpose in policy.purposes.items():
        for label, text in (
            ("description", purpose.spec.description),
            ("benefit", purpose.spec.benefit),
        ):
            if len(text.strip()) < MIN_TEXT[label]:
                breaks.append(
                    Break(
                        "every purpose explains itself to customers",
                        f"purposes.{key}.{label} is too short to tell a customer anything",
                    )
                )

    for path in unused_categories(policy):
        breaks.append(
            Break(
                "every collected category has a retention",
                f"tracking_plan.{path}: no purpose uses its category, so no retention "
                "applies to it",
            )
        )
    return breaks
