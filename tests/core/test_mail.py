"""The mailer tells a sender that must know whether each message was handed over."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import free_port
from trustable.core.mail import Mailer, MailSettings, single_address


def test_each_message_reports_whether_it_was_handed_over(tmp_path: Path) -> None:
    outcomes: list[tuple[str, bool]] = []
    pickup = Mailer(MailSettings(pickup_dir=tmp_path / "mail"))
    refused = Mailer(MailSettings(smtp_host="127.0.0.1", smtp_port=free_port()))
    try:
        pickup.send("a@example.org", "s", "b", on_result=lambda ok: outcomes.append(("a", ok)))
        refused.send("b@example.org", "s", "b", on_result=lambda ok: outcomes.append(("b", ok)))
        pickup.send("c@example.org", "s", "b")  # no one asked: nothing to report
        pickup.flush()
        refused.flush()
    finally:
        pickup.close()
        refused.close()
    assert sorted(outcomes) == [("a", True), ("b", False)]
    assert (pickup.sent, refused.failed) == (2, 1)
    assert len(list((tmp_path / "mail").glob("*.eml"))) == 2


def test_a_failing_outcome_handler_does_not_stop_the_mail(tmp_path: Path) -> None:
    mailer = Mailer(MailSettings(pickup_dir=tmp_path / "mail"))

    def broken(delivered: bool) -> None:
        raise RuntimeError("the sender's own bug")

    try:
        mailer.send("a@example.org", "s", "b", on_result=broken)
        mailer.send("b@example.org", "s", "b")
        mailer.flush()
    finally:
        mailer.close()
    assert mailer.sent == 2


def test_only_a_single_plain_address_is_ever_mailed(tmp_path: Path) -> None:
    outcomes: list[tuple[str, bool]] = []
    mailer = Mailer(MailSettings(pickup_dir=tmp_path / "mail"))
    refused = [
        "ada@example.org\r\nBcc: eve@evil.example",
        "ada@example.org\n",
        "ada@example.org, eve@evil.example",
        "Ada <ada@example.org>",
        "ada",
        "ada@",
        "a da@example.org",
    ]
    try:
        for n, to in enumerate(refused):
            mailer.send(to, "s", "b", on_result=lambda ok, n=n: outcomes.append((str(n), ok)))
        mailer.send("ada@example.org", "s", "b", on_result=lambda ok: outcomes.append(("ok", ok)))
        mailer.flush()
    finally:
        mailer.close()
    assert sorted(outcomes) == sorted(
        [(str(n), False) for n in range(len(refused))] + [("ok", True)]
    )
    assert (mailer.sent, mailer.failed) == (1, len(refused))
    (written,) = (tmp_path / "mail").glob("*.eml")
    assert b"To: ada@example.org\n" in written.read_bytes()
    assert all(single_address(to) is None for to in refused)
