"""Settings, read from the environment only when `Settings.from_env` is called.

Nothing in Trustable reads settings at import time: `bootstrap` builds one `Settings`
and hands it to whatever needs it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from trustable.core.errors import ConfigurationError
from trustable.core.mail import MailSettings


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
    # Hours between retention sweeps inside `trustable serve`; 0 turns them off.
    retention_hours: float = 24.0
    mail: MailSettings = field(default_factory=MailSettings)
    # The address customers reach Trustable at, for the links it hands out (None:
    # the address the request came in on).
    public_url: str | None = None
    # Who may show the portal in a frame (CSP frame-ancestors): 'none', or the
    # company's origins, space-separated.
    frame_ancestors: str = "'none'"
    # Seconds between the sequencer's rounds: pending ledger records get their indices
    # and a new head is signed at least this often while the log grows.
    ledger_interval: float = 1.0
    # The maximum merge delay: how long a pending record may wait for its index
    # before `trustable ledger verify` reports the log as failing its promise.
    ledger_max_delay: float = 30.0
    # The log's name in its public checkpoints (C2SP origin line); None: derived
    # from `public_url`, else from the address it serves on (`ledger_origin_of`).
    ledger_origin: str | None = None
    # The witnesses asked to cosign each new checkpoint: `<verifier key> <URL>` pairs,
    # separated by commas (parsed by `ledger.witnesses`).
    witnesses: str = ""

    @property
    def master_key_file(self) -> Path:
        return self.home / "master.key"

    @property
    def checkpoint_origin(self) -> str:
        """The origin line of the ledger's checkpoints, and the name its note key
        signs under: `TRUSTABLE_LEDGER_ORIGIN`, else the public URL without its
        scheme (`privacy.shop.example/ledger` style), else host and port. Witnesses
        and browsers remember a log by it: choose it once."""
        if self.ledger_origin:
            return self.ledger_origin
        if self.public_url:
            return self.public_url.split("://", 1)[-1].rstrip("/")
        return f"{self.host}:{self.port}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        home = Path(env.get("TRUSTABLE_HOME", ".trustable")).expanduser()
        database_url = env.get("TRUSTABLE_DATABASE_URL") or f"sqlite:///{home / 'data.db'}"
        keystore_url = env.get("TRUSTABLE_KEYSTORE_URL") or default_keystore_url(database_url, home)
        policy = env.get("TRUSTABLE_POLICY")
        interval = seconds_from(env, "TRUSTABLE_LEDGER_INTERVAL", 1.0, 0.01, 60)
        max_delay = seconds_from(env, "TRUSTABLE_LEDGER_MAX_DELAY", 30.0, 1, 86_400)
        if max_delay < 2 * interval:
            raise ConfigurationError(
                "TRUSTABLE_LEDGER_MAX_DELAY must be at least twice TRUSTABLE_LEDGER_INTERVAL"
            )
        return cls(
            home=home,
            database_url=database_url,
            keystore_url=keystore_url,
            policy_path=Path(policy) if policy else example_policy_path(),
            master_key=env.get("TRUSTABLE_MASTER_KEY") or None,
            host=env.get("TRUSTABLE_HOST", "127.0.0.1"),
            port=int(env.get("TRUSTABLE_PORT", "8000")),
            retention_hours=retention_hours_from(env),
            mail=mail_settings(env, home),
            public_url=(env.get("TRUSTABLE_PUBLIC_URL") or "").rstrip("/") or None,
            frame_ancestors=frame_ancestors_from(env),
            ledger_interval=interval,
            ledger_max_delay=max_delay,
            ledger_origin=ledger_origin_from(env),
            witnesses=env.get("TRUSTABLE_WITNESSES", "").strip(),
        )


def ledger_origin_from(env: Mapping[str, str]) -> str | None:
    """`TRUSTABLE_LEDGER_ORIGIN`, refused when a note could not carry it (C2SP
    origins and key names hold no spaces and no '+')."""
    origin = env.get("TRUSTABLE_LEDGER_ORIGIN", "").strip()
    if not origin:
        return None
    if any(c.isspace() or c == "+" for c in origin):
        raise ConfigurationError("TRUSTABLE_LEDGER_ORIGIN may hold no spaces and no '+'")
    return origin


def default_keystore_url(database_url: str, home: Path) -> str:
    """The key store beside a data store, never inside it.

    SQLite: a file of its own. PostgreSQL: the same server, schema `trustable_keys`
    (named through `?schema=`), so a dump of the data schema holds no keys.
    """
    if database_url.startswith("sqlite"):
        return f"sqlite:///{home / 'keys.db'}"
    sep = "&" if "?" in database_url else "?"
    return f"{database_url}{sep}schema=trustable_keys"


def mail_settings(env: Mapping[str, str], home: Path) -> MailSettings:
    """SMTP from `TRUSTABLE_SMTP_*`; without a host, a pickup folder of `.eml` files."""
    host = env.get("TRUSTABLE_SMTP_HOST") or None
    pickup = env.get("TRUSTABLE_MAIL_DIR")
    return MailSettings(
        sender=env.get("TRUSTABLE_MAIL_FROM", MailSettings.sender),
        smtp_host=host,
        smtp_port=int(env.get("TRUSTABLE_SMTP_PORT", "25")),
        smtp_user=env.get("TRUSTABLE_SMTP_USER") or None,
        smtp_password=env.get("TRUSTABLE_SMTP_PASSWORD") or None,
        starttls=env.get("TRUSTABLE_SMTP_STARTTLS", "").lower() in ("1", "true", "yes"),
        pickup_dir=Path(pickup) if pickup else (None if host else home / "mail"),
    )


def retention_hours_from(env: Mapping[str, str]) -> float:
    """`TRUSTABLE_RETENTION_HOURS`: how often `serve` sweeps data past its retention.

    A value that is not a number of hours is refused rather than read as "never":
    a typo must not quietly keep data beyond what the policy promises.
    """
    text = env.get("TRUSTABLE_RETENTION_HOURS", "").strip()
    if not text:
        return 24.0
    try:
        hours = float(text)
    except ValueError:
        hours = -1.0
    if not 0 <= hours <= 24 * 366:  # also refuses nan and inf
        raise ConfigurationError(
            "TRUSTABLE_RETENTION_HOURS must be a number of hours from 0 (no sweeps) to 8784"
        )
    return hours


def seconds_from(
    env: Mapping[str, str], name: str, default: float, lowest: float, highest: float
) -> float:
    """A number of seconds from the environment, refused when out of its range."""
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not lowest <= seconds <= highest:  # also refuses nan and inf
        raise ConfigurationError(f"{name} must be a number of seconds from {lowest} to {highest}")
    return seconds


_ORIGIN = re.compile(r"^(https?://[A-Za-z0-9.-]+(:\d{1,5})?|'self'|'none')$")


def frame_ancestors_from(env: Mapping[str, str]) -> str:
    """`TRUSTABLE_FRAME_ANCESTORS`: origins allowed to frame the portal; checked, since
    it goes into a security header verbatim."""
    value = " ".join(env.get("TRUSTABLE_FRAME_ANCESTORS", "'none'").split())
    if not value or not all(_ORIGIN.match(part) for part in value.split(" ")):
        raise ConfigurationError(
            "TRUSTABLE_FRAME_ANCESTORS must be 'none', 'self' or origins such as "
            "https://shop.example, separated by spaces"
        )
    return value
