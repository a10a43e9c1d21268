"""The command line, run as a user runs it, against a store of its own."""

from __future__ import annotations

import secrets
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import MOVIELENS
from tests.helpers import cli_env
from trustable.bootstrap import bootstrap
from trustable.cli.main import app
from trustable.core.settings import Settings, example_policy_path
from trustable.vault.master import encode_key

runner = CliRunner()


@pytest.fixture
def env(settings: Settings) -> dict[str, str]:
    return cli_env(settings)


def test_every_command_has_help() -> None:
    for args in (
        [],
        ["serve"],
        ["demo"],
        ["policy", "check"],
        ["keys"],
        ["keys", "create"],
        ["keys", "list"],
        ["keys", "revoke"],
        ["collection", "drops"],
        ["db", "upgrade"],
        ["import", "movielens"],
        ["ledger", "verify"],
        ["ledger", "sign"],
        ["ledger", "key"],
        ["keys", "rotate-master"],
        ["retention", "run"],
        ["requests", "list"],
        ["requests", "file"],
        ["requests", "refuse"],
        ["requests", "resume"],
        ["portal", "link"],
        ["users"],
        ["users", "create"],
        ["users", "list"],
        ["users", "disable"],
        ["users", "enable"],
        ["doctor"],
        ["users", "set-password"],
        ["users", "set-role"],
    ):
        result = runner.invoke(app, [*args, "--help"])
        assert result.exit_code == 0, (args, result.output)
        assert "Usage" in result.output


def test_version_is_the_installed_package_s() -> None:
    from importlib import metadata

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"trustable {metadata.version('trustable')}"


def test_a_disabled_account_is_enabled_from_the_command_line(env: dict[str, str]) -> None:
    created = runner.invoke(
        app,
        ["users", "create", "--username", "grace", "--role", "support", "--password-stdin"],
        input="a long enough passphrase\n",
        env=env,
    )
    assert created.exit_code == 0, created.output
    for command, said in (("disable", "grace is disabled"), ("enable", "grace is enabled")):
        result = runner.invoke(app, ["users", command, "grace"], env=env)
        assert result.exit_code == 0 and said in result.output, result.output
    listed = runner.invoke(app, ["users", "list"], env=env)
    assert "grace" in listed.output and "disabled" not in listed.output


def test_policy_check_accepts_the_example_and_names_problems(tmp_path: Path) -> None:
    good = runner.invoke(app, ["policy", "check", str(example_policy_path())])
    assert good.exit_code == 0, good.output
    assert "valid" in good.output
    bad_file = tmp_path / "bad.yaml"
    bad_file.write_text(
        example_policy_path().read_text().replace("user.job_title\n", "user.job_titel\n", 1)
    )
    bad = runner.invoke(app, ["policy", "check", str(bad_file)])
    assert bad.exit_code == 2
    assert "user.job_titel" in bad.output and "did you mean 'user.job_title'" in bad.output


def test_keys_are_printed_once_and_scopes_checked(env: dict[str, str]) -> None:
    made = runner.invoke(app, ["keys", "create", "--name", "shop", "--scope", "collect"], env=env)
    assert made.exit_code == 0, made.output
    assert made.stdout.strip().startswith("tk_key_")
    wrong = runner.invoke(app, ["keys", "create", "--name", "x", "--scope", "read:nope"], env=env)
    assert wrong.exit_code == 1
    assert "unknown scope 'read:nope'" in wrong.output


def test_db_upgrade_and_collection_drops(env: dict[str, str]) -> None:
    assert runner.invoke(app, ["db", "upgrade"], env=env).exit_code == 0
    empty = runner.invoke(app, ["collection", "drops"], env=env)
    assert empty.exit_code == 0 and "Nothing has been dropped" in empty.output


def test_db_upgrade_partitions_postgresql_once_and_refuses_another_count(
    env: dict[str, str], settings: Settings
) -> None:
    first = runner.invoke(app, ["db", "upgrade", "--partitions", "3"], env=env)
    assert first.exit_code == 0, first.output
    again = runner.invoke(app, ["db", "upgrade", "--partitions", "5"], env=env)
    if settings.database_url.startswith("postgresql"):
        assert again.exit_code != 0
        assert "already partitioned in 3" in again.output and "Traceback" not in again.output
    else:
        assert again.exit_code == 0, again.output
        assert "this data store is not partitioned" in again.output
    nonsense = runner.invoke(app, ["db", "upgrade", "--partitions", "0"], env=env)
    assert nonsense.exit_code != 0 and "from 1 to 1024" in nonsense.output


def test_demo_seeds_once_and_shows_how_to_send_events(env: dict[str, str]) -> None:
    first = runner.invoke(app, ["demo", "--no-serve", "--customers", "0"], env=env)
    assert first.exit_code == 0, first.output
    assert "seeded: 8 customers" in first.output
    assert "analytics.host = 'http://127.0.0.1:8000'" in first.output
    # Recommendations with reasons for who allows it, honest popular ones for who declined.
    assert "Recommended for Ada" in first.output and "because you rated" in first.output
    assert "Recommended for Alan" in first.output and "popular with everyone" in first.output
    assert "Ada's privacy portal (one use, for an hour): http://127.0.0.1:8000/portal/enter?" in (
        first.output
    )
    assert "Console:      http://127.0.0.1:8000/admin  user admin, password " in first.output
    again = runner.invoke(app, ["demo", "--no-serve", "--customers", "0"], env=env)
    assert "already seeded: 8 customers" in again.output
    assert again.output.split("password ")[1][:16] != first.output.split("password ")[1][:16]
    link = runner.invoke(app, ["portal", "link", "--user-id", "u-1001"], env=env)
    assert link.exit_code == 0 and "/portal/enter?token=pl_" in link.output, link.output
    nobody = runner.invoke(app, ["portal", "link", "--user-id", "nobody"], env=env)
    assert nobody.exit_code == 1 and "no such customer" in nobody.output
    neither = runner.invoke(app, ["portal", "link"], env=env)
    assert neither.exit_code == 1 and "--customer or --user-id" in neither.output
    drops = runner.invoke(app, ["collection", "drops"], env=env)
    assert "traits.favouriteColour" in drops.output and "not_in_tracking_plan" in drops.output


def test_a_wrong_master_key_is_a_clear_cli_error(env: dict[str, str]) -> None:
    assert runner.invoke(app, ["db", "upgrade"], env=env).exit_code == 0
    assert runner.invoke(app, ["collection", "drops"], env=env).exit_code == 0
    wrong = {**env, "TRUSTABLE_MASTER_KEY": encode_key(secrets.token_bytes(32))}
    result = runner.invoke(app, ["collection", "drops"], env=wrong)
    assert result.exit_code == 2
    assert "master key does not open this key store" in result.output


@pytest.mark.skipif(not MOVIELENS.exists(), reason="MovieLens 100K is not beside the project")
def test_import_movielens_loads_people_and_ratings(env: dict[str, str]) -> None:
    result = runner.invoke(
        app,
        ["import", "movielens", str(MOVIELENS), "--limit", "2000", "--deny-share", "0.3"],
        env=env,
    )
    assert result.exit_code == 0, result.output
    assert "imported 943 customers and 2000 ratings" in result.output


def test_import_movielens_from_a_wrong_folder_is_a_clear_error(
    env: dict[str, str], tmp_path: Path
) -> None:
    result = runner.invoke(app, ["import", "movielens", str(tmp_path)], env=env)
    assert result.exit_code == 1
    assert "not found (expected MovieLens 100K files)" in result.output


def test_ledger_verify_passes_on_an_intact_log_and_names_a_tampered_entry(
    env: dict[str, str], settings: Settings
) -> None:
    from sqlalchemy import update

    from trustable.ledger.tables import ledger_entries
    from trustable.storage.engine import make_engine

    assert runner.invoke(app, ["demo", "--no-serve", "--customers", "0"], env=env).exit_code == 0
    signed = runner.invoke(app, ["ledger", "sign"], env=env)
    assert signed.exit_code == 0 and "signed head" in signed.output
    intact = runner.invoke(app, ["ledger", "verify"], env=env)
    assert intact.exit_code == 0, intact.output
    assert "ledger intact" in intact.output and "1 signed heads checked" in intact.output

    engine = make_engine(settings.database_url)
    with engine.begin() as conn:
        conn.execute(update(ledger_entries).where(ledger_entries.c.idx == 3).values(body=b"{}"))
    engine.dispose()
    damaged = runner.invoke(app, ["ledger", "verify"], env=env)
    assert damaged.exit_code == 1
    assert "entry 3 was altered" in damaged.output


def test_ledger_key_prints_the_verifier_key_public_checkpoints_open_with(
    env: dict[str, str], settings: Settings
) -> None:
    from trustable.ledger.note import Note, open_note, parse_vkey, sign

    named = {**env, "TRUSTABLE_LEDGER_ORIGIN": "privacy.shop.example/ledger"}
    printed = runner.invoke(app, ["ledger", "key"], env=named)
    assert printed.exit_code == 0, printed.output
    vkey = parse_vkey(printed.output.strip())
    assert vkey.name == "privacy.shop.example/ledger"
    trustable = bootstrap(replace(settings, ledger_origin="privacy.shop.example/ledger"))
    try:
        text = "privacy.shop.example/ledger\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"
        signed = sign(text, vkey.name, trustable.vault.signing_key())
    finally:
        trustable.close()
    assert open_note(Note(text, (signed,)), [vkey]) == [vkey]
    refused = runner.invoke(app, ["ledger", "key"], env={**env, "TRUSTABLE_LEDGER_ORIGIN": "a b"})
    assert refused.exit_code != 0 and "no spaces" in refused.output


def test_ledger_verify_fails_while_a_record_waits_past_the_maximum_merge_delay(
    settings: Settings, env: dict[str, str]
) -> None:
    """A store written by a process that died before its sequencer's round: verify
    says the log broke its promise, and only `ledger sign` (which sequences) mends it."""
    from datetime import timedelta

    from trustable.bootstrap import bootstrap
    from trustable.ledger import service as ledger

    store = bootstrap(settings)
    try:
        with store.uow() as uow:
            ledger.submit(
                uow,
                store.vault,
                [ledger.Record("collect", None, "key_test", {"n": 1})],
                now=store.clock() - timedelta(seconds=90),
            )
            uow.commit()
    finally:
        store.close()
    late = runner.invoke(app, ["ledger", "verify"], env=env)
    assert late.exit_code == 1
    assert "1 record(s) are still pending" in late.output
    assert "maximum merge delay of 30 s" in late.output
    # Verifying only reads: the record is still pending, and verify still fails.
    assert runner.invoke(app, ["ledger", "verify"], env=env).exit_code == 1
    patient = runner.invoke(
        app, ["ledger", "verify"], env={**env, "TRUSTABLE_LEDGER_MAX_DELAY": "120"}
    )
    assert patient.exit_code == 0, patient.output
    signed = runner.invoke(app, ["ledger", "sign"], env=env)
    assert signed.exit_code == 0 and "signed head: 1 entries" in signed.output
    intact = runner.invoke(app, ["ledger", "verify"], env=env)
    assert intact.exit_code == 0 and "1 entries, 1 signed heads checked" in intact.output
