"""`trustable policy audit`: passes on the demo, names every broken promise otherwise."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from typer.testing import CliRunner

from tests.helpers import cli_env
from trustable.bootstrap import Trustable
from trustable.cli.main import app as cli
from trustable.core.settings import Settings, example_policy_path
from trustable.demo.shop import seed_demo
from trustable.events.tables import traits
from trustable.ledger import service as ledger
from trustable.policy.audit import audit
from trustable.policy.service import parse_policy

NOW = datetime(2026, 11, 23, tzinfo=UTC)


def env_of(settings: Settings) -> dict[str, str]:
    return cli_env(settings)


def test_the_audit_passes_on_the_demo(app: Trustable, settings: Settings) -> None:
    seed_demo(app)
    with app.reader() as uow:
        assert audit(uow, app.policy) == []
    result = CliRunner().invoke(cli, ["policy", "audit"], env=env_of(settings))
    assert result.exit_code == 0, result.output
    assert "policy audit passed" in result.output


def test_data_stored_under_an_undeclared_category_is_a_break(
    app: Trustable, settings: Settings
) -> None:
    seed_demo(app)
    with app.engine.begin() as conn:
        conn.execute(
            traits.insert().values(
                customer_id="cus_x",
                name="shoe",
                category="user.biometric",
                value=b"sealed",
                updated_at=NOW,
            )
        )
    with app.reader() as uow:
        breaks = audit(uow, app.policy)
    assert [b.promise for b in breaks] == ["only declared data is stored"]
    result = CliRunner().invoke(cli, ["policy", "audit"], env=env_of(settings))
    assert result.exit_code == 1 and "user.biometric" in result.output


def test_a_share_outside_the_destinations_purposes_is_a_break(
    settings: Settings, tmp_path: Path
) -> None:
    from trustable.bootstrap import bootstrap

    policy = tmp_path / "policy.yaml"
    policy.write_text(
        example_policy_path().read_text()
        + "\ndestinations:\n  recommender:\n    url: http://example.org/hook\n"
        "    purposes: [personalize.content.profiled]\n"
    )
    app = bootstrap(replace(settings, policy_path=policy))
    try:
        with app.uow() as uow:
            ledger.append(
                uow,
                app.vault,
                [
                    ledger.Record(
                        kind="share",
                        customer_id=None,
                        actor="destination:recommender",
                        detail={
                            "destination": "recommender",
                            "purposes": [],
                            "categories": ["user.contact.email"],
                        },
                    ),
                    ledger.Record(
                        kind="share",
                        customer_id=None,
                        actor="destination:elsewhere",
                        detail={"destination": "elsewhere", "categories": []},
                    ),
                ],
                now=NOW,
            )
            uow.commit()
        with app.reader() as uow:
            promises = sorted(b.promise for b in audit(uow, app.policy))
    finally:
        app.close()
    assert promises == [
        "destinations receive only what their purposes use",
        "shares go only to declared destinations",
    ]


def test_vague_purposes_and_categories_without_retention_are_breaks(app: Trustable) -> None:
    text = (
        example_policy_path()
        .read_text()
        .replace("benefit: Your account works and your orders arrive.", "benefit: Good things.")
        + "  traits.blood_type: user.health_and_medical\n"
    )
    policy = parse_policy(text)
    with app.reader() as uow:
        details = [b.detail for b in audit(uow, policy)]
    assert any("purposes.essential.service.benefit" in d for d in details)
    assert any("tracking_plan.traits.blood_type" in d for d in details)
