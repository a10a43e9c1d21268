"""The policy's texts in several languages: each translation must be whole.

A translation must cover every purpose and every word of the banner: a customer who
reads half a notice in their language and half in another has not been told plainly.
"""

from __future__ import annotations

import re

from trustable.policy.schemas import PolicySpec

# A BCP 47 tag as browsers send them: a language, then optional script or region.
_TAG = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


def banner_problems(spec: PolicySpec) -> list[str]:
    problems: list[str] = []
    banner = spec.banner
    if not _TAG.match(banner.language):
        problems.append(
            f"banner.language: '{banner.language}' is not a language tag such as en or de"
        )
    for tag, translation in banner.translations.items():
        place = f"banner.translations.{tag}"
        if not _TAG.match(tag):
            problems.append(f"{place}: '{tag}' is not a language tag such as de or fr-CA")
        if tag == banner.language:
            problems.append(f"{place}: the policy's own texts are already in '{tag}'")
        for key in spec.purposes:
            if key not in translation.purposes:
                problems.append(f"{place}.purposes: '{key}' has no text in this language")
        for key in translation.purposes:
            if key not in spec.purposes:
                problems.append(f"{place}.purposes.{key}: not a purpose of this policy")
    return problems
