"""The portal's browser remembers the log: it checks the public checkpoint and its
witnesses' cosignatures with WebCrypto, keeps it, and on the next visit proves the log
only grew; a rewritten log, or another one shown, is a plain warning."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from playwright.sync_api import Page, Route, expect

from tests.browser.support import assert_accessible, screenshot
from tests.conftest import LiveServer
from tests.helpers import msg, send
from tests.portal.support import link
from tests.rights.support import customer
from trustable.bootstrap import Trustable
from trustable.ledger.note import Note, parse_note
from trustable.ledger.public import checkpoint, log_key
from trustable.ledger.sequencer import flush
from trustable.ledger.witnesses import keep
from trustable.witness.service import Witness, cosignatures_in, init, request_body


def cosigned_by(app: Trustable, folder: Path, name: str) -> str:
    """A witness of its own cosigns the log's latest checkpoint; the log keeps it."""
    init(folder, name)
    witness = Witness.open(folder)
    try:
        origin = app.settings.checkpoint_origin
        witness.follow(log_key(app.vault, origin).vkey())
        with app.reader() as uow:
            published = checkpoint(uow, app.vault, origin)
        answer = witness.add_checkpoint(request_body(0, [], published.note.serialize()))
        assert answer.status == 200, answer.body
        with app.uow() as uow:
            keep(
                uow,
                witness.vkey,
                published.checkpoint.size,
                cosignatures_in(answer.body),
                app.clock(),
            )
            uow.commit()
        return witness.vkey.vkey()
    finally:
        witness.close()


def state_of(page: Page) -> str:
    return page.locator("#log-check .log-state").get_attribute("data-state") or ""


def test_the_browser_checks_the_log_remembers_it_and_warns_when_it_was_rewritten(
    page: Page, app: Trustable, live_server: LiveServer, tmp_path: Path
) -> None:
    ada = customer(app)
    flush(app)
    vkeys = [cosigned_by(app, tmp_path / f"w{n}", f"witness{n}.example.org") for n in (1, 2)]
    app.settings = replace(
        app.settings, witnesses=", ".join(f"{v} http://127.0.0.1:9" for v in vkeys)
    )
    page.goto(link(app, live_server, ada))
    status = page.locator("#log-check .log-state")
    expect(status).to_have_attribute("data-state", "verified")
    expect(status).to_contain_text("checked by 2 independent witnesses")
    expect(status).to_contain_text("keeps this checkpoint")
    origin = app.settings.checkpoint_origin
    kept = json.loads(page.evaluate(f"localStorage.getItem('trustable.checkpoint:{origin}')"))
    with app.reader() as uow:
        now = checkpoint(uow, app.vault, origin).checkpoint
    assert kept["size"] == now.size and kept["key"] == log_key(app.vault, origin).vkey()
    assert_accessible(page)

    # The log grows; the next visit proves it only grew (no witness cosigned it yet).
    send(app, msg("track", "ada-lovelace", event="Checkout Started"))
    flush(app)
    page.reload()
    expect(status).to_have_attribute("data-state", "verified")
    expect(status).to_contain_text(f"only grew since your last visit ({now.size} entries then)")
    expect(status).to_contain_text("0 independent witnesses")

    # What the browser saw before is not what the log says now: a plain warning, and
    # the remembered checkpoint is kept as it was, so it keeps warning.
    forged = {**kept, "root": "A" * 43 + "="}
    page.evaluate(
        f"localStorage.setItem('trustable.checkpoint:{origin}', {json.dumps(json.dumps(forged))})"
    )
    page.reload()
    expect(status).to_have_attribute("data-state", "failed")
    expect(status).to_contain_text("is not the start of the log now")
    expect(status).to_contain_text(app.policy.spec.organization.contact)
    expect(status).to_contain_text("data protection authority")
    screenshot(page, "portal/log-rewritten")
    assert_accessible(page)
    assert (
        json.loads(page.evaluate(f"localStorage.getItem('trustable.checkpoint:{origin}')"))
        == forged
    )
    page.reload()
    expect(status).to_have_attribute("data-state", "failed")

    # A log that shrank is refused too, as is another key.
    page.evaluate(
        f"localStorage.setItem('trustable.checkpoint:{origin}', "
        f"{json.dumps(json.dumps({**kept, 'size': 10**6}))})"
    )
    page.reload()
    expect(status).to_contain_text("entries on your last visit")
    other = {**kept, "key": "another." + kept["key"]}
    page.evaluate(
        f"localStorage.setItem('trustable.checkpoint:{origin}', {json.dumps(json.dumps(other))})"
    )
    page.reload()
    expect(status).to_contain_text("not the one it had on your last visit")


def test_a_checkpoint_with_a_bad_signature_is_a_warning(
    page: Page, app: Trustable, live_server: LiveServer
) -> None:
    ada = customer(app)
    flush(app)

    def tampered(route: Route) -> None:
        answer = route.fetch()
        note = parse_note(answer.text())
        lines = note.text.split("\n")
        lines[1] = str(int(lines[1]) + 1)  # another size under the same signature
        route.fulfill(response=answer, body=Note("\n".join(lines), note.signatures).serialize())

    page.route("**/ledger/checkpoint", tampered)
    page.goto(link(app, live_server, ada))
    status = page.locator("#log-check .log-state")
    expect(status).to_have_attribute("data-state", "failed")
    expect(status).to_contain_text("the log's signature on its checkpoint is wrong")
