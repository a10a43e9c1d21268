"""`python -m trustable`: the same CLI as the `trustable` command."""

from __future__ import annotations

from trustable.cli.main import app

app(prog_name="trustable")
