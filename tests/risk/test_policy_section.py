"""The policy's `risk` section is checked when the policy loads, with clear errors."""

from __future__ import annotations

import pytest

from trustable.core.errors import PolicyError
from trustable.core.settings import example_policy_path
from trustable.policy.service import parse_policy

SECTION = """
risk:
  purpose: analytics.reporting
  k: 5
  quasi_identifiers:
    - field: traits.zip
      prefix: 5
    - field: traits.age
      bands: [5, 10, 20]
    - field: traits.gender
  attributes: []
"""


def with_section(section: str) -> str:
    """The example policy with its `risk` section (up to the next blank line) replaced."""
    text = example_policy_path().read_text()
    start = text.index("\nrisk:\n")
    end = text.index("\n\n", start)
    return text[:start] + section.rstrip("\n") + text[end:]


def problems(section: str) -> str:
    with pytest.raises(PolicyError) as caught:
        parse_policy(with_section(section))
    return caught.value.message


def test_the_example_policy_declares_zip_age_and_gender() -> None:
    risk = parse_policy(with_section(SECTION)).spec.risk
    assert risk is not None and risk.k == 5
    assert [q.field for q in risk.quasi_identifiers] == [
        "traits.zip",
        "traits.age",
        "traits.gender",
    ]


def test_an_unknown_field_is_named_with_a_suggestion() -> None:
    found = problems(SECTION.replace("field: traits.zip", "field: traits.zipp"))
    assert "risk.quasi_identifiers[0].field: 'traits.zipp' is not a trait" in found
    assert "did you mean 'traits.zip'" in found
    assert "'properties.rating' is not a trait" in problems(
        SECTION.replace("attributes: []", "attributes: [properties.rating]")
    )


def test_hierarchies_that_do_not_fit_are_refused() -> None:
    assert "each band width must be a larger multiple" in problems(
        SECTION.replace("[5, 10, 20]", "[5, 15, 20]")
    )
    assert "at least 2 wide" in problems(SECTION.replace("[5, 10, 20]", "[1, 10]"))
    assert "give `prefix` or `bands`, not both" in problems(
        SECTION.replace("      prefix: 5", "      prefix: 5\n      bands: [10]")
    )
    assert "risk.quasi_identifiers[0].prefix: Input should be greater" in problems(
        SECTION.replace("prefix: 5", "prefix: 0")
    )
    assert "listed twice" in problems(SECTION.replace("field: traits.gender", "field: traits.zip"))
    assert "cannot also be exported" in problems(
        SECTION.replace("attributes: []", "attributes: [traits.gender]")
    )


def test_a_field_the_export_purpose_may_not_use_is_refused() -> None:
    # Occupation is a job title; analytics.reporting does not use that category.
    found = problems(SECTION.replace("attributes: []", "attributes: [traits.occupation]"))
    assert "'user.job_title' is not one 'analytics.reporting' uses" in found
    assert "is not a purpose of this policy" in problems(
        SECTION.replace("purpose: analytics.reporting", "purpose: analytics.nope")
    )
    assert "risk.k" in problems(SECTION.replace("k: 5", "k: 1"))
