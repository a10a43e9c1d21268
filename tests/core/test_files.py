"""Everything Trustable keeps under its home is its owner's alone: files 0600, folders
0700, whatever the umask, and whatever an older version left behind."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import LiveServer, make_key
from tests.helpers import msg
from trustable.bootstrap import Trustable, bootstrap
from trustable.core.files import private_file, private_folder, private_sqlite, write_private
from trustable.core.settings import Settings
from trustable.vault.rotation import rotate_master_key


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The widest umask there is: nothing is narrowed unless Trustable narrows it."""
    before = os.umask(0)
    yield
    os.umask(before)


def modes(home: Path) -> dict[str, int]:
    """Every folder and file under `home` (itself included), with its permission bits."""
    found = {".": stat.S_IMODE(home.stat().st_mode)}
    for path in home.rglob("*"):
        found[str(path.relative_to(home))] = stat.S_IMODE(path.lstat().st_mode)
    return found


def test_a_fresh_home_is_its_owners_alone_after_real_use(
    tmp_path: Path,
    open_umask: None,
    live_server_for: Callable[[Trustable], LiveServer],
) -> None:
    home = tmp_path / "deep" / "home"
    settings = Settings.from_env({"TRUSTABLE_HOME": str(home)})  # SQLite, key file, mail folder
    app = bootstrap(settings)
    try:
        server = live_server_for(app)
        key = make_key(app, "collect:server")  # the backend: its email is a contact
        sent = httpx.post(
            f"{server.url}/v1/batch",
            json={
                "writeKey": key,
                "batch": [msg("identify", "ada", traits={"email": "ada@example.org"})],
            },
        )
        assert sent.status_code == 200
        asked = httpx.post(
            f"{server.url}/v1/requests/by-email",
            json={"email": "ada@example.org", "kind": "access"},
        )
        assert asked.status_code == 202
        app.mailer.flush()
        rotate_master_key(settings)  # writes master.key.next, then replaces master.key

        found = modes(home)
        # The stores, their write-ahead logs, the key file and the mail are all there...
        for name in ("data.db", "data.db-wal", "data.db-shm", "keys.db", "master.key"):
            assert name in found, name
        assert [n for n in found if n.startswith("mail/") and n.endswith(".eml")]
        # ...and every one of them, and every folder, is the owner's alone.
        wider = {
            name: oct(mode)
            for name, mode in found.items()
            if mode != (0o700 if (home / name).is_dir() else 0o600)
        }
        assert wider == {}
        assert stat.S_IMODE((tmp_path / "deep").stat().st_mode) == 0o700  # made for the home
    finally:
        app.close()


def test_a_home_an_older_version_left_readable_is_narrowed(
    settings: Settings, open_umask: None
) -> None:
    if not settings.database_url.startswith("sqlite"):
        pytest.skip("file modes are SQLite's; PostgreSQL keeps its own files")
    home = settings.home
    home.mkdir(mode=0o755)
    os.chmod(home, 0o755)
    app = bootstrap(settings)
    app.close()
    for name in ("data.db", "keys.db"):
        os.chmod(home / name, 0o644)
    os.chmod(home, 0o755)

    app = bootstrap(settings)
    app.close()
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    for name in ("data.db", "keys.db"):
        assert stat.S_IMODE((home / name).stat().st_mode) == 0o600, name


def test_a_sqlite_store_and_the_companions_a_crash_left_are_narrowed(
    tmp_path: Path, open_umask: None
) -> None:
    database = tmp_path / "data.db"
    for suffix in ("", "-wal", "-shm", "-journal"):
        path = tmp_path / f"data.db{suffix}"
        path.write_bytes(b"")
        os.chmod(path, 0o644)
    private_sqlite(database)
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()} == {
        "data.db": 0o600,
        "data.db-wal": 0o600,
        "data.db-shm": 0o600,
        "data.db-journal": 0o600,
    }


def test_files_and_folders_are_created_owner_only_whatever_the_umask(
    tmp_path: Path, open_umask: None
) -> None:
    folder = private_folder(tmp_path / "a" / "b")
    assert stat.S_IMODE((tmp_path / "a").stat().st_mode) == 0o700
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    made = private_file(folder / "store.db")
    write_private(folder / "mail.eml", b"To: ada@example.org\n")
    for path in (made, folder / "mail.eml"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(FileExistsError):  # never replaces a file
        write_private(folder / "mail.eml", b"")
    os.umask(0o277)  # a umask that would leave even the owner unable to write
    write_private(folder / "narrow.eml", b"x")
    assert stat.S_IMODE((folder / "narrow.eml").stat().st_mode) == 0o600
