"""Customer ids are random and opaque: nothing in them comes from the person."""

from __future__ import annotations

import re

from trustable.core.ids import new_customer_id, new_id


def test_customer_ids_are_prefixed_base36_of_fixed_length() -> None:
    for _ in range(200):
        assert re.fullmatch(r"cus_[0-9a-z]{20}", new_customer_id())


def test_ids_do_not_repeat_and_use_the_whole_alphabet() -> None:
    ids = [new_id("x") for _ in range(5_000)]
    assert len(set(ids)) == len(ids)
    seen = set("".join(i[2:] for i in ids))
    assert seen == set("0123456789abcdefghijklmnopqrstuvwxyz")
