"""The portal's words in a real browser: a customer who signs in with a mailed code
reads the timeline as sentences (the sign-in told as a sign-in, each message by what
it is), erases, and gets a certificate that reads as a document, prints on paper
without its links and controls, and passes axe."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest
from playwright.sync_api import Page, expect

from tests.browser.support import ARTIFACTS, assert_accessible, screenshot
from tests.conftest import LiveServer
from tests.helpers import msg, send
from tests.mail import Inbox, mail_to
from tests.rights.support import customer
from trustable.bootstrap import Trustable, bootstrap
from trustable.core.settings import Settings


@pytest.fixture
def mailing(settings: Settings, inbox: tuple[Inbox, int]) -> Iterator[Trustable]:
    """A Trustable that mails its codes to the test's SMTP server."""
    app = bootstrap(replace(settings, mail=mail_to(inbox[1])))
    yield app
    app.close()


def sign_in_by_code(page: Page, app: Trustable, url: str, mailbox: Inbox) -> None:
    page.goto(f"{url}/portal")
    page.get_by_label("Your email address").fill("ada@example.org")
    page.get_by_role("button", name="Email me a code").click()
    expect(page.get_by_label("The code from the email")).to_be_visible()
    app.mailer.flush()
    (code,) = mailbox.codes_for("ada@example.org")
    page.get_by_label("The code from the email").fill(code)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="What we hold about you")).to_be_visible()


def test_the_timeline_reads_as_sentences_and_a_sign_in_as_a_sign_in(
    page: Page,
    mailing: Trustable,
    inbox: tuple[Inbox, int],
    live_server_for: Callable[[Trustable], LiveServer],
) -> None:
    app = mailing
    customer(app)
    send(app, msg("page", "ada", properties={"path": "/films"}))
    sign_in_by_code(page, app, live_server_for(app).url, inbox[0])

    sentences = page.locator("#uses .timeline .sentence").all_inner_texts()
    assert sentences[0] == "You signed in here with a code we mailed you."
    assert "You entered the code we mailed you." in sentences
    assert "You asked for a code by email to sign in here." in sentences
    assert any(s.startswith("We received a page view and kept: ") for s in sentences)
    assert any(s.startswith("We received an action of yours on the shop") for s in sentences)
    for said in sentences:  # no message type or request kind left raw
        assert not re.search(r"\b(an identify|track message|access request)\b", said), said
        assert said[0].isupper() and said.endswith("."), said
    # "Your requests" lists what the customer filed: a sign-in is not one.
    expect(page.locator("#rights")).to_contain_text("None yet.")
    assert_accessible(page)
    shot = ARTIFACTS / "portal" / "timeline.png"  # the timeline alone, not the whole page
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.locator("#uses").screenshot(path=shot, animations="disabled")


def test_the_erasure_certificate_is_a_document_that_prints(
    page: Page, app: Trustable, live_server: LiveServer
) -> None:
    from tests.portal.support import link

    ada = customer(app)
    page.goto(link(app, live_server, ada))
    page.get_by_role("link", name="Erase everything…").click()
    page.get_by_label("I understand: erase everything, for good").check()
    page.get_by_role("button", name="Erase everything").click()

    document = page.locator("article.certificate-page")
    for heading in ("Who", "When", "What was destroyed", "Partners told", "Signature"):
        expect(document.get_by_role("heading", name=heading, exact=True)).to_be_visible()
    expect(document).to_contain_text(ada)  # the pseudonymous reference, no one's name
    expect(document).not_to_contain_text("Ada Lovelace")
    expect(document).not_to_contain_text("ada@example.org")
    expect(document).to_contain_text("things you did (events)")
    expect(document).to_contain_text("Your encryption key: destroyed")
    expect(page.locator("#signature-check")).to_contain_text("Signature checked")
    assert_accessible(page)
    screenshot(page, "portal/certificate")

    page.emulate_media(media="print")
    download = page.get_by_role("link", name="Download the signed certificate (JSON)")
    expect(download).to_be_hidden()  # paper cannot follow a link
    expect(page.locator("footer.foot")).to_be_hidden()
    expect(page.locator("#signature-check")).to_be_visible()
    pre = page.locator("pre.certificate")
    expect(pre).to_be_hidden()
    screenshot(page, "portal/certificate-print")
    pdf = ARTIFACTS / "portal" / "certificate.pdf"
    pdf.parent.mkdir(parents=True, exist_ok=True)
    pdf.write_bytes(page.pdf(format="A4", print_background=True))
    pages = len(re.findall(rb"/Type\s*/Page\b", pdf.read_bytes()))
    assert pages == 1, f"the certificate prints on {pages} pages"
