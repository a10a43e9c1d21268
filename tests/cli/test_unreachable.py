"""A command run while its database is out of reach says so in words."""

from __future__ import annotations

from typer.testing import CliRunner

from tests.conftest import free_port
from tests.helpers import cli_env
from trustable.cli.main import app
from trustable.core.settings import Settings

runner = CliRunner()


def test_an_unreachable_database_is_said_in_words_not_a_traceback(
    settings: Settings,
) -> None:
    """Nothing listens where the database should be: the command says so, names no
    host or password, and exits with 2."""
    env = cli_env(settings)
    nowhere = f"postgresql+psycopg://trustable:s3cret@127.0.0.1:{free_port()}/shop"
    for args in (["db", "upgrade"], ["collection", "drops"]):
        result = runner.invoke(
            app,
            args,
            env={**env, "TRUSTABLE_DATABASE_URL": nowhere, "TRUSTABLE_KEYSTORE_URL": nowhere},
        )
        assert result.exit_code == 2, result.output
        assert "could not be reached" in result.output
        assert "Traceback" not in result.output and "s3cret" not in result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
