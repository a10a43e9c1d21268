"""Hand-made tables and customers for risk tests."""

from __future__ import annotations

from collections.abc import Sequence

from tests.helpers import grant, msg, send
from trustable.bootstrap import Trustable
from trustable.policy.schemas import QuasiIdentifierSpec
from trustable.risk.generalize import Hierarchy, Record
from trustable.risk.schemas import SourceInfo
from trustable.risk.service import Dataset

ANALYTICS = "analytics.reporting"
PERSONALIZE = "personalize.content.profiled"
ZIP = Hierarchy.of(QuasiIdentifierSpec(field="traits.zip", prefix=2))
AGE = Hierarchy.of(QuasiIdentifierSpec(field="traits.age", bands=[10]))
GENDER = Hierarchy.of(QuasiIdentifierSpec(field="traits.gender"))


def table(hierarchies: Sequence[Hierarchy], *records: Record) -> Dataset:
    """A dataset from literal rows of quasi-identifier values (no attributes)."""
    return Dataset(
        tuple(hierarchies),
        (),
        list(records),
        [() for _ in records],
        SourceInfo(name="test", records=len(records)),
    )


def person(app: Trustable, user: str, *purposes: str, **traits: object) -> None:
    """A customer who allowed `purposes` and stated `traits`, through collection."""
    grant(app, user, *purposes)
    send(app, msg("identify", user, traits={"email": f"{user}@example.org", **traits}))
