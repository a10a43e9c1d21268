"""The analyst's console page over real HTTP: signed in, by role, with CSRF, showing
only suppressed or noised groups and the budget left."""

from __future__ import annotations

import html
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import httpx
import yaml

from tests.analytics.support import crowd, populate
from tests.conftest import LiveServer
from tests.portal.support import csrf_of
from tests.users.support import PASSWORD, make_user
from trustable.bootstrap import Trustable, bootstrap
from trustable.core.settings import Settings, example_policy_path
from trustable.ledger.sequencer import flush
from trustable.ledger.service import entries_of_kind


@contextmanager
def signed_in(app: Trustable, server: LiveServer, role: str) -> Iterator[httpx.Client]:
    make_user(app, f"{role}-1", role)
    with httpx.Client(base_url=server.url) as browser:
        landed = browser.post("/admin/signin", data={"username": f"{role}-1", "password": PASSWORD})
        assert landed.status_code == 303
        yield browser


def test_an_analyst_asks_and_sees_only_groups_of_k_or_noise(
    app: Trustable, live_server: LiveServer
) -> None:
    people = crowd("f", 14, gender="F", age=33) + crowd("m", 2, gender="M", age=35)
    populate(app, people + crowd("u", 12, age=50))
    with signed_in(app, live_server, "analyst") as browser:
        form = browser.get("/admin/analytics")
        assert form.status_code == 200
        assert 'href="/admin/analytics"' in form.text  # in the menu
        assert "3 of 3 epsilon left" in form.text
        token = csrf_of(form.text)
        exact = browser.post(
            "/admin/analytics",
            data={"csrf": token, "measure": "count", "of": "customers", "group_by": "gender"},
        )
        assert exact.status_code == 200, exact.text
        page = html.unescape(exact.text)
        assert "Exact answer, groups below 10 suppressed" in page
        assert '<td data-label="value">14</td>' in page
        assert "suppressed (fewer than k)" in page
        noisy = browser.post(
            "/admin/analytics",
            data={"csrf": token, "measure": "count", "group_by": "age", "private": "true",
                  "epsilon": "0.5"},
        )  # fmt: skip
        assert noisy.status_code == 200
        assert "Private answer (epsilon 0.5, noise scale 2)" in noisy.text
        assert "2.5 of 3 epsilon left" in noisy.text
        refused = browser.post(
            "/admin/analytics",
            data={"csrf": token, "measure": "count", "private": "true", "epsilon": "5"},
        )
        assert refused.status_code == 400 and "at most 1 per query" in refused.text
        assert '<p class="field-error" id="a-epsilon-error">' in refused.text
        assert 'id="a-epsilon" name="epsilon"' in refused.text and 'value="5"' in refused.text
        incoherent = browser.post(
            "/admin/analytics",
            data={"csrf": token, "measure": "sum", "group_by": "age"},
        )
        assert incoherent.status_code == 400 and "needs `value`" in incoherent.text
        assert 'value="age" selected' in incoherent.text  # what was chosen stays chosen
        bad = browser.post(
            "/admin/analytics",
            data={"csrf": token, "measure": "count", "event": "<script>alert(1)</script>"},
        )
        assert bad.status_code == 422 and "<script>alert" not in bad.text
        assert "&lt;script&gt;" in bad.text  # echoed in the form, escaped
        forged = browser.post("/admin/analytics", data={"csrf": "nope", "measure": "count"})
        assert forged.status_code == 403
    flush(app)
    with app.reader() as uow:
        actors = {e.content()["actor"] for e in entries_of_kind(uow, "aggregate")}
    assert len(actors) == 1 and actors.pop().startswith("usr_")


def test_support_staff_do_not_see_aggregates(app: Trustable, live_server: LiveServer) -> None:
    with signed_in(app, live_server, "support") as browser:
        assert browser.get("/admin/analytics").status_code == 403
        assert 'href="/admin/analytics"' not in browser.get("/admin/policy").text
    with httpx.Client(base_url=live_server.url) as stranger:
        assert stranger.get("/admin/analytics").status_code == 401


def test_without_an_analytics_section_the_menu_offers_no_analytics(
    settings: Settings, tmp_path: Path, live_server_for: Callable[[Trustable], LiveServer]
) -> None:
    declared = yaml.safe_load(example_policy_path().read_text(encoding="utf-8"))
    del declared["analytics"]
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump(declared), encoding="utf-8")
    app = bootstrap(replace(settings, policy_path=policy))
    try:
        with signed_in(app, live_server_for(app), "analyst") as browser:
            dashboard = browser.get("/admin/dashboard")
            assert dashboard.status_code == 200
            assert 'href="/admin/analytics"' not in dashboard.text
            assert browser.get("/admin/analytics").status_code == 404
    finally:
        app.close()
