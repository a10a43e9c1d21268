"""The rule language: small, strictly checked at policy load, with errors that say where."""

from __future__ import annotations

import pytest

from tests.segments.support import SEGMENTS, with_segments
from trustable.core.errors import PolicyError
from trustable.core.settings import example_policy_path
from trustable.policy.service import load_policy, parse_policy
from trustable.segments.rules import Condition, EventRule, TraitRule


def problems(section: str) -> str:
    with pytest.raises(PolicyError) as caught:
        parse_policy(with_segments(section))
    return caught.value.message


def test_the_example_policy_declares_the_sci_fi_segment() -> None:
    segment = load_policy(example_policy_path()).spec.segments["sci-fi-fans"]
    assert segment.purposes == ["personalize.content.profiled"]
    rule = segment.rule
    assert isinstance(rule, EventRule)
    assert (rule.event, rule.at_least, rule.within_days) == ("Movie Rated", 5, 90)
    assert rule.matches({"properties.rating": 4.0, "properties.genres": ["Drama", "Sci-Fi"]})
    assert not rule.matches({"properties.rating": 3.5, "properties.genres": ["Sci-Fi"]})
    assert not rule.matches({"properties.rating": 5.0})  # no genres kept: does not count
    grown = parse_policy(with_segments(SEGMENTS)).spec.segments["grown-ups"].rule
    assert isinstance(grown, TraitRule) and grown.holds(18) and not grown.holds(17)


def test_a_purpose_the_policy_lacks_is_named_with_a_suggestion() -> None:
    found = problems(SEGMENTS.replace("[analytics.reporting]", "[analytics.reportin]"))
    assert "segments.grown-ups.purposes[0]: 'analytics.reportin' is not a purpose" in found
    assert "did you mean 'analytics.reporting'" in found


def test_a_rule_may_read_only_what_every_purpose_of_its_segment_uses() -> None:
    found = problems(
        SEGMENTS.replace(
            "purposes: [personalize.content.profiled]",
            "purposes: [personalize.content.profiled, marketing.communications.email]",
        )
    )
    assert (
        "segments.sci-fi-fans.rule.where.properties.rating: its category "
        "'user.behavior.media_consumption' is not one 'marketing.communications.email' uses"
    ) in found
    assert "segments.sci-fi-fans.rule.event: its category 'user.behavior'" in found
    # Statistics may not read job titles, so no statistics segment of occupations.
    assert "'user.job_title' is not one 'analytics.reporting' uses" in problems(
        SEGMENTS.replace("{trait: traits.age, gte: 18}", "{trait: traits.occupation, equals: x}")
    )


def test_fields_outside_the_tracking_plan_are_refused() -> None:
    found = problems(SEGMENTS.replace("properties.genres:", "properties.genre:"))
    assert "segments.sci-fi-fans.rule.where.properties.genre: 'properties.genre' is not in " in (
        found
    )
    assert "did you mean 'properties.genres'" in found
    assert "'traits.shoe_size' is not in the tracking plan" in problems(
        SEGMENTS.replace("traits.age", "traits.shoe_size")
    )
    assert "a track event carries no traits; use a trait rule" in problems(
        SEGMENTS.replace("properties.genres:", "traits.age:")
    )
    assert "'properties.rating' is not a `traits.*` field" in problems(
        SEGMENTS.replace("trait: traits.age", "trait: properties.rating")
    )


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("sci-fi-fans:", "Sci Fi!:"), "segments.Sci Fi!: a name is 1 to 64 lower-case"),
        (("at_least: 5", "at_least: 0"), "rule.event.at_least: Input should be greater than"),
        (("      within_days: 90\n", ""), "rule.event.within_days: Field required"),
        (("{gte: 4}", "{gte: 4, about: 5}"), "properties.rating.about: Extra inputs"),
        (("{gte: 4}", "{}"), "a condition needs at least one of equals, one_of"),
        (("{gte: 4}", "{gte: four}"), "properties.rating.gte: Input should be a valid number"),
        (("{trait: traits.age, gte: 18}", "{age: 18}"), "a rule names either an `event`"),
        (("{trait: traits.age, gte: 18}", "{trait: traits.age}"), "a condition needs at least"),
        (("    purposes: [analytics.reporting]\n", ""), "segments.grown-ups.purposes: Field"),
        (("within_days: 90", "within_days: 500"), "is kept 400 days at most, less than the"),
        (("purposes: [analytics.reporting]", "purposes: []"), "List should have at least 1"),
    ],
)
def test_malformed_rules_are_refused_saying_where(change: tuple[str, str], expected: str) -> None:
    assert expected in problems(SEGMENTS.replace(*change))


def test_a_value_of_another_kind_never_matches_and_never_fails() -> None:
    at_least_four = Condition(gte=4)
    assert at_least_four.holds(4) and at_least_four.holds(4.5)
    assert not any(at_least_four.holds(v) for v in ("5", None, True, [5], {"a": 5}))
    sci_fi = Condition(contains="Sci-Fi")
    assert sci_fi.holds(["Sci-Fi"]) and sci_fi.holds("Sci-Fi|Action")
    assert not any(sci_fi.holds(v) for v in (["Drama"], 5, None, {"Sci-Fi": 1}))
    exactly = Condition(equals=1)
    assert exactly.holds(1) and exactly.holds(1.0) and not exactly.holds(True)
    assert not exactly.holds("1")
    assert Condition(one_of=["F", "M"]).holds("F") and not Condition(one_of=["F"]).holds("f")
    band = Condition(gt=17, lt=30)
    assert band.holds(18) and not band.holds(30) and not band.holds(17)
