"""Settings, read from the environment only when `Settings.from_env` is called.

Nothing in Trustable reads settings at import time: `bootstrap` builds one `Settings`
and hands it to whatever needs it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path


def example_policy_path() -> Path:
    """The documented example policy shipped inside the package."""
    return Path(str(resources.files("trustable.policy").joinpath("trustable.yaml")))


@dataclass(frozen=True)
class Settings:
    """Where Trustable keeps its state and how it is reached.

    `database_url` is the data store; `keystore_url` the key store, kept apart so a
    copy of the data store alone never carries the keys that open it.
    """

    home: Path
    database_url: str
    keystore_url: str
    policy_path: Path
    master_key: str | None = field(default=None, repr=False)
    host: str = "127.0.0.1"
    port: int = 8000

    @property
    def master_key_file(self) -> Path:
        return self.home / "master.key"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        home = Path(env.get("TRUSTABLE_HOME", ".trustable")).expanduser()
        database_url = env.get("TRUSTABLE_DATABASE_URL") or f"sqlite:///{home / 'data.db'}"
        keystore_url = env.get("TRUSTABLE_KEYSTORE_URL") or default_keystore_url(database_url, home)
        policy = env.get("TRUSTABLE_POLICY")
        return cls(
            home=home,
            database_url=database_url,
            keystore_url=keystore_url,
            policy_path=Path(policy) if policy else example_policy_path(),
            master_key=env.get("TRUSTABLE_MASTER_KEY") or None,
            host=env.get("TRUSTABLE_HOST", "127.0.0.1"),
            port=int(env.get("TRUSTABLE_PORT", "8000")),
        )


def default_keystore_url(database_url: str, home: Path) -> str:
    """The key store beside a data store, never inside it.

    SQLite: a file of its own. PostgreSQL: the same server, schema `trustable_keys`
    (named through `?schema=`), so a dump of the data schema holds no keys.
    """
    if database_url.startswith("sqlite"):
        return f"sqlite:///{home / 'keys.db'}"
    sep = "&" if "?" in database_url else "?"
    return f"{database_url}{sep}schema=trustable_keys"
