"""`trustable portal …`: sign-in links to the customer's privacy portal."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

portal_app = typer.Typer(help="The customer's privacy portal: sign-in links.")


@portal_app.command("link")
def link(
    customer: Annotated[
        str | None, typer.Option("--customer", help="The customer's id (cus_…).")
    ] = None,
    user_id: Annotated[
        str | None, typer.Option("--user-id", help="Or the user id the company knows them by.")
    ] = None,
    minutes: Annotated[int, typer.Option(min=1, max=60, help="How long the link works.")] = 10,
) -> None:
    """Print a one-time link that opens the portal signed in as this customer."""
    # Imported here: `cli.main` imports this module to register the commands.
    from trustable.cli.main import console, fail, running
    from trustable.core.errors import InvalidInput, NotFound
    from trustable.identity.service import customer_exists, find_customer
    from trustable.portal.service import issue_link

    if (customer is None) == (user_id is None):
        fail(InvalidInput("give --customer or --user-id, not both"))
    with running() as trustable, trustable.uow() as uow:
        found = (
            customer_exists(uow, customer)
            if customer is not None
            else find_customer(uow, trustable.vault, "user_id", str(user_id))
        )
        if found is None:
            fail(NotFound("no such customer"))
        token, expires = issue_link(
            uow,
            trustable.vault,
            found,
            actor="cli",
            now=trustable.clock(),
            ttl=timedelta(minutes=minutes),
        )
        uow.commit()
        base = trustable.settings.public_url or (
            f"http://{trustable.settings.host}:{trustable.settings.port}"
        )
    console.print(f"{base}/portal/enter?token={token}", highlight=False, soft_wrap=True)
    console.print(f"works once, until {expires:%Y-%m-%d %H:%M} UTC", style="dim")
