"""A witness run as its own process, as another organisation would run it, cosigning
a live Trustable's log over HTTP and checking it from the log's public tiles; the
log publishes the cosignatures with its checkpoint, and a fork is caught."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from tests.conftest import LiveServer, free_port
from tests.witness.test_witness import ORIGIN, grow, published, store
from trustable.bootstrap import Trustable, bootstrap
from trustable.ledger.note import open_note, parse_note, parse_vkey
from trustable.ledger.public import log_key
from trustable.ledger.witnesses import Asker, ask

WITNESS = "witness.example.org/w1"


def trustable(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "trustable", *args], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip()


class WitnessProcess:
    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "trustable", "witness", "serve", str(folder)]
            + ["--port", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(self.url, timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("the witness did not start")
            time.sleep(0.1)

    def stop(self) -> str:
        self.process.terminate()
        _, err = self.process.communicate(timeout=20)
        return err.decode(errors="replace")


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[tuple[Trustable, LiveServer]]:
    app = bootstrap(store(tmp_path / "shop"))
    with LiveServer(app) as server:
        yield app, server
    app.close()


def test_a_witness_process_cosigns_the_log_and_catches_a_fork(
    shop: tuple[Trustable, LiveServer], tmp_path: Path
) -> None:
    app, server = shop
    folder = tmp_path / "witness"
    witness_vkey = trustable("witness", "init", str(folder), "--name", WITNESS)
    assert trustable("witness", "key", str(folder)) == witness_vkey
    log_vkey = log_key(app.vault, ORIGIN).vkey()
    trustable("witness", "follow", str(folder), log_vkey, "--url", server.url)
    witness = WitnessProcess(folder)
    try:
        app.settings = replace(app.settings, witnesses=f"{witness_vkey} {witness.url}")
        keys = [parse_vkey(log_vkey), parse_vkey(witness_vkey)]
        with httpx.Client(timeout=10) as client:
            for count in (7, 300, 45):  # the witness reads the log's tiles each time
                grow(app, count, "grow")
                [asked] = ask(app, client)
                assert asked.outcome == "cosigned", asked
                note = parse_note(httpx.get(f"{server.url}/ledger/checkpoint").text)
                assert open_note(note, keys) == keys  # the log's and the witness's
                assert [s.name for s in note.signatures] == [ORIGIN, WITNESS]
            assert ask(app, client)[0].outcome == "already"

            # A copy of the store, gone on differently under the same key, shows a
            # checkpoint of the same size to the same witness: refused, for good.
            fork_home = tmp_path / "fork"
            shutil.copytree(tmp_path / "shop", fork_home)
            forked = bootstrap(
                replace(
                    app.settings,
                    home=fork_home / "home",
                    database_url=app.settings.database_url.replace("/shop/", "/fork/"),
                    keystore_url=app.settings.keystore_url.replace("/shop/", "/fork/"),
                )
            )
            try:
                grow(app, 10, "shown to Ada")
                grow(forked, 10, "shown to Bob")
                assert published(app)[0] == published(forked)[0]
                assert ask(app, client)[0].outcome == "cosigned"
                [refused] = Asker(forked).round(client)
                assert refused.outcome == "refused (409)"
                grow(app, 3, "later")
                assert ask(app, client)[0].outcome == "refused (409)"
            finally:
                forked.close()
        about = httpx.get(witness.url).json()
        assert about["vkey"] == witness_vkey and about["logs"][0]["forked"] is True
    finally:
        errors = witness.stop()
    assert "refused a checkpoint of privacy.shop.example" in errors
    listing = trustable("witness", "logs", str(folder))
    assert "FORKED: two roots for size 362" in listing
