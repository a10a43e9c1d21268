"""The policy: the shipped example is valid; a bad one is refused with the place and problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from trustable.core.errors import PolicyError
from trustable.core.settings import example_policy_path
from trustable.policy.service import load_policy, parse_policy

EXAMPLE = example_policy_path().read_text(encoding="utf-8")


def test_the_shipped_example_is_valid_against_fideslang() -> None:
    policy = load_policy(example_policy_path())
    assert "personalize.content.profiled" in policy.purposes
    assert policy.purposes["personalize.content.profiled"].needs_consent
    assert not policy.purposes["essential.service"].needs_consent
    assert policy.notice_version == "2026-11-01"


def test_an_unknown_category_is_refused_with_its_place_and_a_suggestion() -> None:
    bad = EXAMPLE.replace("      - user.contact.email\n", "      - user.contact.emial\n", 1)
    with pytest.raises(PolicyError) as caught:
        parse_policy(bad, source="p.yaml")
    message = caught.value.message
    assert "purposes.essential.service.categories[2]" in message
    assert "'user.contact.emial' is not a fideslang data category" in message
    assert "did you mean 'user.contact.email'" in message


def test_an_unknown_purpose_is_refused() -> None:
    bad = EXAMPLE.replace("  analytics.reporting:\n", "  analytics.reportin:\n")
    with pytest.raises(
        PolicyError, match=r"purposes\.analytics\.reportin: .* not a fideslang data use"
    ):
        parse_policy(bad)


def test_a_wrong_legal_basis_names_the_purpose() -> None:
    bad = EXAMPLE.replace("legal_basis: legitimate_interest", "legal_basis: because", 1)
    with pytest.raises(PolicyError, match=r"purposes\.essential\.service\.security\.legal_basis"):
        parse_policy(bad)


def test_a_tracking_plan_field_outside_the_event_is_refused() -> None:
    bad = EXAMPLE.replace("  traits.email: user.contact.email", "  password: user.contact.email")
    with pytest.raises(PolicyError, match=r"tracking_plan\.password: not an event field path"):
        parse_policy(bad)


def test_a_tracking_plan_category_must_exist() -> None:
    bad = EXAMPLE.replace(
        "  traits.zip: user.contact.address.postal_code", "  traits.zip: user.zip"
    )
    with pytest.raises(PolicyError, match=r"tracking_plan\.traits\.zip: 'user\.zip'"):
        parse_policy(bad)


def test_broken_yaml_names_the_line() -> None:
    with pytest.raises(PolicyError, match=r"line 2, column 12: mapping values"):
        parse_policy("version: 1\npurposes: a: b\n")


def test_missing_keys_are_named() -> None:
    with pytest.raises(PolicyError, match=r"notice_version: Field required"):
        parse_policy("version: 1\norganization: {name: x, contact: y}\npurposes: {}\n")


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="no such policy file"):
        load_policy(tmp_path / "nope.yaml")


def test_a_listed_parent_classifies_its_children() -> None:
    policy = load_policy(example_policy_path())
    assert policy.category_of("context.page.url") == "user.behavior.browsing_history"
    assert policy.category_of("traits.email") == "user.contact.email"
    assert policy.category_of("traits.shoe_size") is None


def test_a_purpose_using_a_parent_category_uses_its_children() -> None:
    policy = load_policy(example_policy_path())
    users = policy.purposes_using("user.behavior.media_consumption")
    assert "personalize.content.profiled" in users
    assert "essential.service" not in users
    assert "essential.service" in policy.purposes_using("user.contact.address.postal_code")


def test_the_shipped_banner_speaks_english_and_german_in_full() -> None:
    banner = load_policy(example_policy_path()).spec.banner
    assert banner.language == "en" and set(banner.translations) == {"de"}
    german = banner.translations["de"]
    assert german.texts.reject_all == "Alle ablehnen"
    assert set(german.purposes) == set(load_policy(example_policy_path()).purposes)


def test_a_translation_that_leaves_a_purpose_out_names_it() -> None:
    first = "        marketing.advertising.third_party.targeted:\n          name: Werbung"
    last = "benefit: Weniger Werbung, die Sie nicht interessiert.\n"
    start = EXAMPLE.index(first)
    end = EXAMPLE.index(last) + len(last)
    bad = EXAMPLE[:start] + EXAMPLE[end:]
    with pytest.raises(PolicyError) as caught:
        parse_policy(bad)
    assert (
        "banner.translations.de.purposes: 'marketing.advertising.third_party.targeted' has no "
        "text in this language" in caught.value.message
    )


def test_a_translation_missing_a_word_of_the_banner_names_it() -> None:
    bad = EXAMPLE.replace("        reject_all: Alle ablehnen\n", "")
    with pytest.raises(PolicyError, match=r"banner\.translations\.de\.texts\.reject_all"):
        parse_policy(bad)


def test_a_language_tag_must_be_one() -> None:
    bad = EXAMPLE.replace("  translations:\n    de:\n", "  translations:\n    German!:\n")
    with pytest.raises(PolicyError, match=r"'German!' is not a language tag"):
        parse_policy(bad)
