"""`trustable doctor`: what in this deployment breaks a promise, and how to fix it."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

import typer
from rich.table import Table


def doctor(
    url: Annotated[
        str | None,
        typer.Option(
            help="The address customers reach Trustable at (default: TRUSTABLE_PUBLIC_URL); "
            "its /health is fetched."
        ),
    ] = None,
) -> None:
    """Check this deployment: key store apart from the data, master key, file modes,
    TLS, mail, retention, policy audit. Exit 1 on a serious finding."""
    import httpx

    from trustable.bootstrap import bootstrap
    from trustable.cli.main import console, err
    from trustable.core.settings import Settings
    from trustable.doctor.service import Finding, Severity, examine
    from trustable.policy.audit import Break, audit

    settings = Settings.from_env()
    if url is not None:
        settings = replace(settings, public_url=url.rstrip("/"))

    def probe(address: str) -> int:
        try:
            return httpx.get(address, timeout=5, follow_redirects=False).status_code
        except httpx.HTTPError:
            return 0

    unopened: list[Finding] = []
    breaks: list[Break] | None = None
    try:
        trustable = bootstrap(settings)
        try:
            with trustable.reader() as uow:
                breaks = audit(uow, trustable.policy)
        finally:
            trustable.close()
    except Exception as exc:
        from trustable.cli.main import clear

        opened = clear(exc)  # a fault that is neither ours nor the store's goes up
        unopened.append(
            Finding(
                "stores", Severity.serious, f"the stores do not open: {opened}", "see the error"
            )
        )
    checked = None if breaks is None else (lambda: breaks or [])
    found = unopened + examine(settings, audit=checked, probe=probe)
    if not found:
        console.print("nothing found: this deployment keeps what Trustable promises")
        return
    table = Table("", "check", "found", "fix", show_lines=True)
    for finding in found:
        mark = (
            "[bold red]serious[/]" if finding.severity is Severity.serious else "[yellow]advice[/]"
        )
        table.add_row(mark, finding.check, finding.problem, finding.fix)
    console.print(table)
    serious = sum(f.severity is Severity.serious for f in found)
    if serious:
        err.print(f"{serious} serious finding(s): see docs/deploy.md")
        raise typer.Exit(code=1)
