"""Console forms that keep what was typed: a refused form comes back on its own page,
with each message beside the field it is about and a summary at the top.

A shell helper: a route catches the service's refusal, names the field it concerns
(by the error's class, else the form's first field) and renders its page again with
`FormState`; the templates' `console/forms.html` macros draw the messages and the
ARIA that ties each one to its field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from trustable.core.errors import InvalidInput, TrustableError


@dataclass(frozen=True)
class FormState:
    """The values a form shows, and a message per field id that needs fixing."""

    values: Mapping[str, Any] = field(default_factory=dict)
    errors: Mapping[str, str] = field(default_factory=dict)

    def value(self, name: str) -> Any:
        found = self.values.get(name)
        return "" if found is None else found

    def chose(self, name: str, option: str) -> bool:
        """Whether `option` was picked in the select, radio or checkboxes `name`."""
        found = self.values.get(name)
        if isinstance(found, list | tuple | set | frozenset):
            return option in found
        return found == option


EMPTY = FormState()


class FieldRefused(InvalidInput):
    """A value a form sent that the shell itself cannot read, and its field's id."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def refused(
    exc: TrustableError,
    values: Mapping[str, Any],
    fields: Mapping[type[TrustableError] | str, str],
    default: str,
) -> FormState:
    """The form again, as typed, with `exc`'s message beside the field it is about:
    the one `fields` names for its code, else for its class (the nearest), else
    `default`."""
    if isinstance(exc, FieldRefused):
        return FormState(values, {exc.field: exc.message})
    where = fields.get(exc.code) or next(
        (fields[c] for c in type(exc).__mro__ if c in fields), default
    )
    return FormState(values, {where: exc.message})
