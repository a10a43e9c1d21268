"""Files and folders only their owner can open: everything Trustable keeps on disk.

What lives under `TRUSTABLE_HOME` is the data store, the key store, the master key,
mail with customers' addresses in it: nothing another account on the machine should
read. Every file is created `0600` and every folder `0700`, whatever the umask: the
mode is given when the file is created (`os.open`, so there is no moment when it is
readable by others) and set again on the open descriptor, since the umask can only
narrow what `os.open` asks for. Files and folders an older version left wider are
narrowed when Trustable next opens them.

SQLite creates a database's `-wal`, `-shm` and `-journal` files with the database
file's own mode, so a database file made here keeps its companions private too.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

FILE_MODE = 0o600
FOLDER_MODE = 0o700
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def private_folder(path: Path) -> Path:
    """`path` as a folder, made (with every missing parent) owner-only. An existing
    folder is left as it is: it may be the operator's (see `narrow`)."""
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=FOLDER_MODE)
        except FileExistsError:
            continue  # made meanwhile by another process: narrowed below all the same
        os.chmod(folder, FOLDER_MODE)
    return path


def narrow(path: Path) -> None:
    """Take group and others' permissions off an existing file or folder (what an
    older version, or a wide umask, left readable); the owner's stay as they are."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    if mode & 0o077:
        os.chmod(path, mode & 0o700)


def private_file(path: Path) -> Path:
    """`path` as an owner-only file: created empty (`0600`) when missing, narrowed
    when it exists. Its folder is made owner-only when missing."""
    private_folder(path.parent)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        narrow(path)
        return path
    try:
        os.fchmod(descriptor, FILE_MODE)
    finally:
        os.close(descriptor)
    return path


def create_private(path: Path) -> int:
    """Create `path` (which must not exist) owner-only and open it for writing; the
    caller owns the descriptor (`os.fdopen` it)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        os.fchmod(descriptor, FILE_MODE)
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor


def write_private(path: Path, data: bytes) -> None:
    """Write a new owner-only file (never replacing one)."""
    with os.fdopen(create_private(path), "wb") as out:
        out.write(data)


def private_sqlite(database: Path) -> None:
    """A SQLite database file owner-only before SQLite first opens it, and any
    companion an older version left wider narrowed."""
    private_file(database)
    for suffix in SQLITE_COMPANIONS:
        narrow(database.with_name(database.name + suffix))
