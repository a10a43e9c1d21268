"""At rest, every personal value is ciphertext: a copy of the stores shows none in clear."""

from __future__ import annotations

import re

from tests.helpers import raw_dump
from trustable.bootstrap import Trustable
from trustable.demo.shop import SHOP_CUSTOMERS, seed_demo


def personal_values() -> list[str]:
    """The demo's ids, emails, zip codes and names (names of 4+ letters: shorter ones
    turn up by chance inside random ids and ciphertext)."""
    values = []
    for user_id, name, email, zip_code, _ in SHOP_CUSTOMERS:
        values += [user_id, email, zip_code]
        values += [part for part in name.split(" ") if len(part) >= 4]
    return values


def found_in(value: str, dump: bytes) -> bool:
    """Is `value` in the bytes? A number counts only as a word of its own: five digits
    turn up by chance inside the digits of a timestamp and inside hex ids and uuids
    (`...c78712edaa-...`), while a zip code kept in clear stands between quotes,
    separators or record bytes. Any other text counts anywhere."""
    if not value.isdigit():
        return value.encode() in dump
    pattern = rb"(?<![0-9A-Za-z])" + re.escape(value.encode()) + rb"(?![0-9A-Za-z])"
    return re.search(pattern, dump) is not None


def test_the_raw_stores_hold_no_demo_email_name_or_zip_in_clear(app: Trustable) -> None:
    seeded = seed_demo(app, customers=0)
    assert seeded.customers == len(SHOP_CUSTOMERS)
    dump = raw_dump(app.engine) + raw_dump(app.key_engine)
    assert len(dump) > 10_000  # the stores really hold the demo
    assert found_in("demo web write key", dump)  # the search itself works (a key name)
    leaked = [value for value in personal_values() if found_in(value, dump)]
    assert leaked == []


def test_sqlite_files_hold_no_personal_value_in_clear(app: Trustable) -> None:
    if app.engine.dialect.name != "sqlite":
        return  # the PostgreSQL copy is read through `raw_dump` above
    seed_demo(app, customers=0)
    app.engine.dispose()
    app.key_engine.dispose()
    blob = b"".join(p.read_bytes() for p in app.settings.home.iterdir() if p.is_file())
    assert found_in("demo web write key", blob)
    assert [value for value in personal_values() if found_in(value, blob)] == []


def test_a_zip_code_counts_in_clear_but_not_inside_a_random_id() -> None:
    assert found_in("78712", b'{"zip": "78712"}')
    assert found_in("78712", b"\x17\x0578712\x01")  # a SQLite record's text column
    assert not found_in("78712", b"cus_78e5c8vpr1etqpgdp2c78712edaa-cea6-5747")
    assert not found_in("78712", b"2026-12-05T13:58:01.787120Z")
