"""What an analyst may ask: declared dimensions and measures only, coherent queries,
and a clear answer saying what is wrong otherwise."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from tests.analytics.support import ask, crowd, populate
from trustable.analytics.schemas import AggregateQuery
from trustable.bootstrap import Trustable
from trustable.core.errors import InvalidInput
from trustable.ledger.service import StoredEntry
from trustable.policy.service import parse_policy
from trustable.portal.service import describe


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ({"measure": "count", "person": "cus_1"}, "Extra inputs are not permitted"),
        ({"measure": "median"}, "Input should be 'count', 'sum' or 'distribution'"),
        ({"measure": "count", "value": "rating"}, "a count takes no `value`"),
        ({"measure": "sum"}, "a sum needs `value`"),
        ({"measure": "count", "private": True}, "a private answer needs `epsilon`"),
        ({"measure": "count", "epsilon": 1.0}, "`epsilon` is only for a private answer"),
        ({"measure": "count", "private": True, "epsilon": 0}, "greater than or equal to 0.01"),
        ({"measure": "count", "since": "2026-11-21", "until": "2026-11-20"}, "after `until`"),
        ({"measure": "count", "since": "yesterday"}, "valid date"),
        ({"measure": "distribution", "value": "age", "group_by": "age"}, "the same dimension"),
    ],
)
def test_malformed_queries_are_refused_saying_why(query: dict[str, Any], says: str) -> None:
    with pytest.raises(ValidationError, match=says):
        AggregateQuery.model_validate(query)


@pytest.mark.parametrize(
    ("query", "code", "says"),
    [
        ({"measure": "count", "group_by": "occupation"}, "unknown_dimension",
         "'occupation' is not a dimension the policy declares"),
        ({"measure": "count", "group_by": "email"}, "unknown_dimension", "choose one of age"),
        ({"measure": "sum", "value": "total"}, "unknown_measure",
         "'total' is not a measure the policy declares"),
        ({"measure": "distribution", "value": "rating_sum"}, "unknown_dimension", "value:"),
        ({"measure": "count", "event": "Subscription Started"}, "event_not_allowed",
         "user.account"),
        ({"measure": "count", "private": True, "epsilon": 2.0}, "epsilon_too_large",
         "at most 1 per query"),
    ],
)  # fmt: skip
def test_undeclared_or_unallowed_fields_are_refused(
    app: Trustable, query: dict[str, Any], code: str, says: str
) -> None:
    populate(app, crowd("p", 12, gender="F"))
    with pytest.raises(InvalidInput, match=says) as refused:
        ask(app, **query)
    assert refused.value.code == code


def test_the_policy_may_declare_only_fields_analytics_may_use() -> None:
    from trustable.core.settings import example_policy_path

    text = example_policy_path().read_text(encoding="utf-8")
    bad = text.replace(
        "    gender: {field: traits.gender, values: [F, M]}",
        "    gender: {field: traits.gender, values: [F, M]}\n"
        "    job: {field: traits.occupation, values: [a]}\n"
        "    mail: {field: traits.email, bands: 5}\n"
        "    nowhere: {field: traits.shoe, values: [a]}",
    )
    from trustable.core.errors import PolicyError

    with pytest.raises(PolicyError) as refused:
        parse_policy(bad)
    message = refused.value.message
    assert "analytics.dimensions.job.field: its category 'user.job_title' is not one" in message
    assert "analytics.dimensions.mail.up_to: needed with `bands`" in message
    assert "analytics.dimensions.nowhere.field: 'traits.shoe' is not" in message


def test_the_portal_explains_an_aggregate_entry() -> None:
    from trustable.core.settings import example_policy_path
    from trustable.policy.service import load_policy

    entry = StoredEntry(
        3, "aggregate", b'{"actor":"key_x","at":"t","detail":{"k":10},"kind":"aggregate"}', b""
    )
    use = describe(entry, load_policy(example_policy_path()), {})
    assert use.sentence == (
        "An analyst counted customers in groups of at least 10: only totals, never you"
    )
