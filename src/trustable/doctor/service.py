"""`trustable doctor`: a deployment looked at the way an auditor or an attacker would.

Trustable's promises rest on how it is deployed as much as on its code: erasure
shreds a customer's key, which only protects a copy of the data if that copy never
travels with the keys and the master key that open them. Each check here names what
it found, why it matters and the fix; `serious` findings make the command fail, so a
deployment script can stop on them.
"""

from __future__ import annotations

import stat
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url

from trustable.core.settings import Settings
from trustable.policy.audit import Break

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class Severity(StrEnum):
    serious = "serious"  # a promise to customers does not hold as deployed
    advice = "advice"  # works, but something customers count on is missing


@dataclass(frozen=True)
class Finding:
    check: str
    severity: Severity
    problem: str
    fix: str


def examine(
    settings: Settings,
    *,
    audit: Callable[[], list[Break]] | None = None,
    probe: Callable[[str], int] | None = None,
) -> list[Finding]:
    """Everything wrong with this deployment, serious findings first.

    `audit` runs the policy audit against the store (None: not checked, e.g. when the
    store cannot be opened); `probe` fetches a URL and answers its status (0: not
    reached), to check that the public address really reaches this Trustable."""
    found = [
        *_key_store(settings),
        *_master_key(settings),
        *_file_modes(settings),
        *_public_url(settings, probe),
        *_mail(settings),
        *_retention(settings),
        *_policy(audit),
    ]
    return sorted(found, key=lambda f: f.severity is not Severity.serious)


def _sqlite_file(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    return Path(parsed.database).expanduser().resolve()


def _server_database(url: str) -> tuple[str, str, int | None, str | None] | None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return None
    return (parsed.get_backend_name(), parsed.host or "", parsed.port, parsed.database)


def _key_store(settings: Settings) -> list[Finding]:
    data, keys = settings.database_url, settings.keystore_url
    why = (
        "a backup or copy of it holds the customers' encrypted data and their wrapped keys "
        "together: with the master key, a customer erased since can be read again from it"
    )
    server = _server_database(data)
    if server is not None and server == _server_database(keys):
        return [
            Finding(
                "key store",
                Severity.serious,
                f"the key store is a schema of the data store's database; {why}",
                "give TRUSTABLE_KEYSTORE_URL a database of its own (better: another "
                "server), backed up separately (docs/deploy.md)",
            )
        ]
    data_file, keys_file = _sqlite_file(data), _sqlite_file(keys)
    if data_file is not None and data_file == keys_file:
        return [
            Finding(
                "key store",
                Severity.serious,
                f"the key store is the data store's own file; {why}",
                "point TRUSTABLE_KEYSTORE_URL at another file, on another volume",
            )
        ]
    if data_file is not None and keys_file is not None and data_file.parent == keys_file.parent:
        return [
            Finding(
                "key store",
                Severity.advice,
                "the key store's file sits in the data store's folder, so a backup of the "
                "folder holds both",
                "keep TRUSTABLE_KEYSTORE_URL on another volume and back the two up apart",
            )
        ]
    return []


def _master_key(settings: Settings) -> list[Finding]:
    if settings.master_key:
        return []  # given by the environment (a secret manager): not on the data's disk
    key_file = settings.master_key_file
    found = []
    data_file = _sqlite_file(settings.database_url)
    if data_file is not None and data_file.parent == key_file.resolve().parent:
        found.append(
            Finding(
                "master key",
                Severity.serious,
                f"the master key file ({key_file}) sits beside the data store, so one copy "
                "of the folder holds everything needed to read it",
                "pass the key in TRUSTABLE_MASTER_KEY from a secret manager, and keep "
                "master.key off the data's volume and out of its backups",
            )
        )
    else:
        found.append(
            Finding(
                "master key",
                Severity.advice,
                f"the master key is a file ({key_file}) on this machine",
                "pass it in TRUSTABLE_MASTER_KEY from a secret manager instead",
            )
        )
    return found


def _others_can_read(path: Path) -> bool:
    return path.exists() and bool(path.stat().st_mode & (stat.S_IROTH | stat.S_IWOTH))


def _file_modes(settings: Settings) -> list[Finding]:
    candidates = [
        settings.home,
        settings.master_key_file,
        *(p for p in map(_sqlite_file, (settings.database_url, settings.keystore_url)) if p),
    ]
    exposed = sorted({str(p) for p in candidates if _others_can_read(p)})
    if not exposed:
        return []
    return [
        Finding(
            "file permissions",
            Severity.serious,
            "other accounts on this machine may read " + ", ".join(exposed),
            "chmod 700 the folder and 600 the files (`chmod -R go-rwx " + str(settings.home) + "`)",
        )
    ]


def _public_url(settings: Settings, probe: Callable[[str], int] | None) -> list[Finding]:
    url = settings.public_url
    if url is None:
        return [
            Finding(
                "public address",
                Severity.advice,
                "no TRUSTABLE_PUBLIC_URL: links in mails are built from whatever Host a "
                "request came with",
                "set TRUSTABLE_PUBLIC_URL to the https:// address customers reach",
            )
        ]
    parts = urlsplit(url)
    found = []
    if parts.scheme != "https" and (parts.hostname or "") not in LOOPBACK:
        found.append(
            Finding(
                "TLS",
                Severity.serious,
                f"{url} is not https: sign-in codes, portal links and keys cross the "
                "network in clear",
                "put a TLS proxy in front (docs/deploy.md) and set an https:// address",
            )
        )
    if probe is not None:
        status = probe(f"{url}/health")
        reason = f"HTTP {status}" if status else "unreachable"
        if status != 200:
            found.append(
                Finding(
                    "public address",
                    Severity.serious,
                    f"{url}/health does not answer ({reason})",
                    "check the proxy and that `trustable serve` runs behind it",
                )
            )
    return found


def _mail(settings: Settings) -> list[Finding]:
    if settings.mail.smtp_host:
        return []
    return [
        Finding(
            "mail",
            Severity.advice,
            "no SMTP server: sign-in codes, request codes and breach notices are only "
            f"written to {settings.mail.pickup_dir}, and nobody receives them",
            "set TRUSTABLE_SMTP_HOST (and _PORT, _USER, _PASSWORD, _STARTTLS)",
        )
    ]


def _retention(settings: Settings) -> list[Finding]:
    if settings.retention_hours > 0:
        return []
    return [
        Finding(
            "retention",
            Severity.serious,
            "retention sweeps are off (TRUSTABLE_RETENTION_HOURS=0): data is kept past "
            "what the policy promises",
            "unset TRUSTABLE_RETENTION_HOURS, or run `trustable retention run` on a schedule",
        )
    ]


def _policy(audit: Callable[[], list[Break]] | None) -> list[Finding]:
    if audit is None:
        return []
    return [
        Finding(
            "policy audit",
            Severity.serious,
            f"{found.promise}: {found.detail}",
            "see `trustable policy audit` and docs/promises.md",
        )
        for found in audit()
    ]
