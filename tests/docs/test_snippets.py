"""Every code block of README.md and docs/ runs as written, so the docs cannot drift.

How blocks are checked, by the language their fence names:

- `python`: executed against a live Trustable (placeholders below are filled in);
- `sh` (or `bash`, `shell`; `console` with `$ ` before each command and the output
  left alone): `trustable …` lines (with or without `.venv/bin/`) run through the CLI
  on the same store; any other block runs in bash, in a scratch directory, where
  `curl` fails on an HTTP error;
- `json` and `yaml`: must parse;
- `text`, `nginx`, `caddy`, `html`: shown, not checked (a synopsis, an output, a
  format, a proxy's configuration, a shop's page; the banner's pages are tested in
  tests/browser/test_banner.py).

Every block names its language: a block with none, or with one not listed here, fails.

A block that cannot run here says why on the line before its fence, as
`<!-- not run: the reason -->`; keep those few. Placeholders a reader replaces:
`http://127.0.0.1:8000` (the service), `tk_key_…`, `$WRITE_KEY`, `$PORTAL_KEY` and
`read_key` (keys), `key_…` (a key id), `cus_…` (a customer id), `my-policy.yaml`.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from typer.testing import CliRunner

from tests import helpers
from tests.conftest import LiveServer, make_key, sqlite_settings
from tests.helpers import cli_env, msg, send
from trustable.bootstrap import Trustable, bootstrap
from trustable.cli.main import app as cli
from trustable.core.settings import example_policy_path
from trustable.destinations.service import signature
from trustable.identity.service import find_customer

ROOT = Path(__file__).parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^( *)```(\w*)\n(.*?)^\1```", re.DOTALL | re.MULTILINE)
NOT_RUN = re.compile(r"<!-- not run: (.+?) -->\s*$")
PERSONALIZE = "personalize.content.profiled"
SHELL = ("sh", "bash", "shell", "console")
CHECKED = ("python", *SHELL, "json", "yaml")
SHOWN = ("text", "nginx", "caddy", "html")


@dataclass(frozen=True)
class Snippet:
    page: str
    line: int
    language: str
    text: str
    not_run: str | None

    def __str__(self) -> str:
        return f"{self.page}:{self.line} ({self.language})"


def snippets() -> list[Snippet]:
    found = []
    for page in PAGES:
        text = page.read_text()
        for match in FENCE.finditer(text):
            before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
            skipped = NOT_RUN.search(before)
            body = "\n".join(line[len(match.group(1)) :] for line in match.group(3).split("\n"))
            found.append(
                Snippet(
                    page=str(page.relative_to(ROOT)),
                    line=text.count("\n", 0, match.start()) + 1,
                    language=match.group(2),
                    text=body,
                    not_run=skipped.group(1) if skipped else None,
                )
            )
    return found


SNIPPETS = snippets()


def of(*languages: str) -> list[Any]:
    return [
        pytest.param(s, id=str(s)) for s in SNIPPETS if s.language in languages and not s.not_run
    ]


@dataclass
class Shop:
    app: Trustable
    url: str
    env: dict[str, str]
    values: dict[str, str]
    workdir: Path

    def fill(self, text: str) -> str:
        for placeholder, value in self.values.items():
            text = text.replace(placeholder, value)
        return text


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    base = Path(tmp_path_factory.mktemp("snippets"))
    policy = base / "policy.yaml"  # the shipped one, with the destination docs/ name
    policy.write_text(
        example_policy_path().read_text()
        + "\ndestinations:\n  recommender:\n    url: http://127.0.0.1:9/hook\n"
        + f"    purposes: [{PERSONALIZE}]\n"
    )
    app = bootstrap(replace(sqlite_settings(base), policy_path=policy))
    with LiveServer(app) as server:
        send(app, msg("identify", "user-1", traits={"email": "ada@example.org"}))
        helpers.grant(app, "user-1", PERSONALIZE)
        with app.reader() as uow:
            customer = find_customer(uow, app.vault, "user_id", "user-1")
        assert customer is not None
        server_key = make_key(app, "collect:server", name="snippets-backend")
        revocable = make_key(app, "collect", name="to revoke")
        with app.reader() as uow:
            from trustable.access.service import authenticate

            key_id = authenticate(uow, revocable, now=app.clock()).key_id
        values = {
            "http://127.0.0.1:8000": server.url,
            "tk_key_…": server_key,
            "key_…": key_id,
            "cus_…": customer,
            "my-policy.yaml": str(example_policy_path()),
        }
        env = {
            **cli_env(app.settings),
            "WRITE_KEY": server_key,
            "PORTAL_KEY": make_key(app, "portal", name="snippets-portal"),
        }
        workdir = base / "work"
        workdir.mkdir()
        yield Shop(app, server.url, env, values, workdir)
    app.close()


def test_a_block_not_run_says_why() -> None:
    assert SNIPPETS, "no code blocks found"
    for snippet in SNIPPETS:
        assert snippet.not_run is None or len(snippet.not_run) > 10, snippet


def test_every_block_names_a_language_this_test_knows() -> None:
    unnamed = [str(s) for s in SNIPPETS if s.language not in (*CHECKED, *SHOWN)]
    assert not unnamed, f"name one of {CHECKED + SHOWN} after the fence of: {unnamed}"


@pytest.mark.parametrize("snippet", of("json"))
def test_json_parses(snippet: Snippet) -> None:
    json.loads(snippet.text)


@pytest.mark.parametrize("snippet", of("yaml"))
def test_yaml_parses(snippet: Snippet) -> None:
    assert yaml.safe_load(snippet.text) is not None


def commands(text: str, language: str) -> list[str]:
    """The block's commands: continuation lines joined, comments and blanks left out
    (in a `console` block, only the lines after a `$ ` prompt)."""
    if language == "console":
        text = "\n".join(line[2:] for line in text.splitlines() if line.startswith("$ "))
    joined = re.sub(r"\\\n\s*", " ", text)
    return [line for line in joined.splitlines() if line.strip() and not line.startswith("#")]


# An HTTP error answer makes curl exit 1, with the answer printed.
CURL_FAILS = 'curl() { command curl --fail-with-body "$@"; }'


def prepare_receipt(shop: Shop) -> None:
    """What docs/consent.md's checks read: a signed receipt and the ledger's key."""
    key = make_key(shop.app, "consent:write", name="snippets-consent")
    with httpx.Client(base_url=shop.url, headers={"authorization": f"Bearer {key}"}) as api:
        changed = api.post(
            "/v1/consents",
            json={"user_id": "user-1", "purpose": "analytics.reporting", "status": "granted"},
        )
        assert changed.status_code == 200, changed.text
        (shop.workdir / "receipt.json").write_text(json.dumps(changed.json()["receipt"]))
        public = api.get("/v1/ledger/public-key")
        (shop.workdir / "pk.json").write_text(public.text)


@pytest.mark.parametrize("snippet", of(*SHELL))
def test_shell_blocks_run(snippet: Snippet, shop: Shop) -> None:
    lines = commands(shop.fill(snippet.text), snippet.language)
    if all(re.match(r"(\.venv/bin/)?trustable ", line) for line in lines):
        runner = CliRunner()
        for line in lines:
            args = shlex.split(line, comments=True)[1:]
            result = runner.invoke(cli, args, env=shop.env)
            assert result.exit_code == 0, (line, result.output)
        return
    prepare_receipt(shop)
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", "\n".join([CURL_FAILS, *lines])],
        cwd=shop.workdir,
        env={**os.environ, **shop.env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, (snippet, done.stdout, done.stderr)
    if "curl" in snippet.text:  # an HTTP error would still exit 0: read the answer
        assert '"error"' not in done.stdout, done.stdout
    if "openssl pkeyutl -verify" in snippet.text:
        assert "Signature Verified Successfully" in done.stdout


@pytest.mark.parametrize("snippet", of("python"))
def test_python_blocks_run(snippet: Snippet, shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    prepare_receipt(shop)
    receipt = shop.workdir / "receipt.json"
    public_key = json.loads((shop.workdir / "pk.json").read_text())["public_key"]
    monkeypatch.setattr(sys, "argv", ["snippet", str(receipt), public_key])
    namespace: dict[str, Any] = {
        "__name__": "snippet",
        "read_key": make_key(shop.app, f"read:{PERSONALIZE}", name="snippets-read"),
    }
    import segment.analytics as sdk

    for setting in ("write_key", "host", "default_client"):  # put back afterwards
        monkeypatch.setattr(sdk, setting, getattr(sdk, setting))
    exec(compile(shop.fill(snippet.text), str(snippet), "exec"), namespace)  # noqa: S102
    if "genuine" in namespace:
        check_signature_snippet(shop, namespace["genuine"])
    if "analytics" in namespace:  # the SDK swallows errors: look at what was kept
        namespace["analytics"].shutdown()
        check_sdk_snippet(shop)
    if "profile" in namespace:
        assert namespace["profile"]["customer_id"], namespace["profile"]


def check_sdk_snippet(shop: Shop) -> None:
    key = make_key(shop.app, "read:essential.service", name="snippets-essential")
    found = httpx.post(
        f"{shop.url}/v1/profiles/lookup",
        headers={"authorization": f"Bearer {key}"},
        json={"purpose": "essential.service", "identifier": {"type": "user_id", "value": "user-1"}},
    )
    assert found.status_code == 200, found.text
    profile = found.json()
    assert "Order Completed" in json.dumps(profile["events"]), profile


def check_signature_snippet(shop: Shop, genuine: Any) -> None:
    """docs/destinations.md's receiver check accepts what Trustable signs, with the
    secret as `trustable destinations secret` prints it, and nothing else."""
    import time

    printed = CliRunner().invoke(cli, ["destinations", "secret", "recommender"], env=shop.env)
    assert printed.exit_code == 0, printed.output
    secret_hex = printed.output.strip()
    body = b'{"type":"track"}'
    headers = {
        "X-Trustable-Signature": signature(bytes.fromhex(secret_hex), int(time.time()), body)
    }
    assert genuine(headers, body, secret_hex)
    assert not genuine(headers, body + b" ", secret_hex)
