"""`trustable doctor` finds what in a deployment breaks a promise, and stops finding it
once it is fixed."""

from __future__ import annotations

import secrets
from dataclasses import replace
from pathlib import Path

import httpx
from typer.testing import CliRunner

from tests.conftest import POSTGRES_URL, LiveServer, sqlite_settings
from trustable.cli.main import app as cli
from trustable.core.settings import MailSettings, Settings
from trustable.doctor.service import Finding, Severity, examine
from trustable.policy.audit import Break
from trustable.vault.master import encode_key


def checks(found: list[Finding], severity: Severity | None = None) -> set[str]:
    return {f.check for f in found if severity is None or f.severity is severity}


def sound(tmp_path: Path) -> Settings:
    """A deployment as docs/deploy.md describes it."""
    data, keys = tmp_path / "data", tmp_path / "keys"
    for folder in (data, keys):
        folder.mkdir(mode=0o700, exist_ok=True)
    return Settings(
        home=data,
        database_url=f"sqlite:///{data / 'data.db'}",
        keystore_url=f"sqlite:///{keys / 'keys.db'}",
        policy_path=sqlite_settings(tmp_path).policy_path,
        master_key=encode_key(secrets.token_bytes(32)),
        public_url="https://privacy.shop.example",
        mail=MailSettings(smtp_host="smtp.shop.example", pickup_dir=None),
    )


def test_a_sound_deployment_has_no_findings(tmp_path: Path) -> None:
    assert examine(sound(tmp_path)) == []


def test_the_default_home_folder_holds_data_keys_and_master_key_together(
    tmp_path: Path,
) -> None:
    found = examine(Settings.from_env({"TRUSTABLE_HOME": str(tmp_path / "home")}))
    assert checks(found, Severity.serious) == {"master key"}
    assert checks(found, Severity.advice) == {"key store", "public address", "mail"}
    assert found[0].severity is Severity.serious  # serious ones first


def test_a_key_store_in_the_data_store_s_database_is_serious() -> None:
    same = Settings.from_env({"TRUSTABLE_DATABASE_URL": POSTGRES_URL, "TRUSTABLE_HOME": "/x"})
    (finding,) = [f for f in examine(same) if f.check == "key store"]
    assert finding.severity is Severity.serious and "wrapped keys" in finding.problem
    apart = replace(same, keystore_url="postgresql://keys.internal:5432/trustable_keys")
    assert "key store" not in checks(examine(apart))


def test_files_others_can_read_are_serious_until_closed(tmp_path: Path) -> None:
    settings = sound(tmp_path)
    store = Path(settings.database_url.removeprefix("sqlite:///"))
    store.write_bytes(b"")
    store.chmod(0o644)
    (finding,) = [f for f in examine(settings) if f.check == "file permissions"]
    assert finding.severity is Severity.serious and str(store) in finding.problem
    store.chmod(0o600)
    assert examine(settings) == []


def test_an_address_without_tls_and_retention_off_are_serious(tmp_path: Path) -> None:
    settings = replace(sound(tmp_path), public_url="http://privacy.shop.example")
    assert checks(examine(settings), Severity.serious) == {"TLS"}
    settings = replace(sound(tmp_path), retention_hours=0)
    assert checks(examine(settings), Severity.serious) == {"retention"}


def test_a_broken_policy_promise_is_a_finding(tmp_path: Path) -> None:
    broken = [Break("only declared data is stored", "data is stored under 'user.x'")]
    (finding,) = examine(sound(tmp_path), audit=lambda: broken)
    assert finding.check == "policy audit" and "user.x" in finding.problem


def test_the_public_address_must_reach_the_running_service(
    tmp_path: Path, live_server: LiveServer
) -> None:
    def probe(url: str) -> int:
        try:
            return httpx.get(url, timeout=5).status_code
        except httpx.HTTPError:
            return 0

    reached = replace(sound(tmp_path), public_url=live_server.url)  # loopback: no TLS asked
    assert examine(reached, probe=probe) == []
    gone = replace(reached, public_url="http://127.0.0.1:9")
    (finding,) = examine(gone, probe=probe)
    assert finding.check == "public address" and "unreachable" in finding.problem


def test_the_command_fails_on_a_serious_finding_and_passes_once_fixed(tmp_path: Path) -> None:
    runner = CliRunner()
    home = tmp_path / "home"
    default = runner.invoke(cli, ["doctor"], env={"TRUSTABLE_HOME": str(home)})
    assert default.exit_code == 1 and "master key" in default.output
    settings = sound(tmp_path)
    env = {
        "TRUSTABLE_HOME": str(settings.home),
        "TRUSTABLE_DATABASE_URL": settings.database_url,
        "TRUSTABLE_KEYSTORE_URL": settings.keystore_url,
        "TRUSTABLE_MASTER_KEY": settings.master_key or "",
        "TRUSTABLE_SMTP_HOST": "smtp.shop.example",
    }
    fixed = runner.invoke(cli, ["doctor", "--url", "https://127.0.0.1:9"], env=env)
    assert fixed.exit_code == 1 and "does not answer" in fixed.output  # nothing serves there
    for path in Path(tmp_path).rglob("*"):
        path.chmod(0o700 if path.is_dir() else 0o600)
    quiet = runner.invoke(cli, ["doctor"], env={**env, "TRUSTABLE_PUBLIC_URL": ""})
    assert "public address" in quiet.output and quiet.exit_code == 0, quiet.output
