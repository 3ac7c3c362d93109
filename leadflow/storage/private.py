"""Owner-only modes for the folders and files leadflow writes: they hold email text and addresses.

Modes are set on each path, never through the umask (one per process, shared by every thread).
A folder leadflow creates is 0700, so what a library later creates inside it with the umask's
mode (DuckDB recreates its write-ahead log after every checkpoint) stays out of other users'
reach all the same. Files are 0600; one found with a looser mode is tightened when opened.
"""

import os
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def _chmod(path: Path, mode: int) -> None:
    if path.stat().st_mode & 0o777 != mode:
        path.chmod(mode)


def _make_dirs(path: Path) -> None:
    """Create `path` and its missing parents, each 0700 (`Path.mkdir` gives parents the umask's mode)."""
    missing = [folder for folder in (path, *path.parents) if not folder.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=DIR_MODE, exist_ok=True)
        _chmod(folder, DIR_MODE)  # a umask may have cleared owner bits


def private_dir(path: str | os.PathLike[str]) -> Path:
    """A folder of leadflow's own (the data dir): created 0700, tightened to 0700 if it exists."""
    folder = Path(path)
    _make_dirs(folder)
    _chmod(folder, DIR_MODE)
    return folder


def private_parent(path: str | os.PathLike[str]) -> None:
    """The folders above a configured file: missing ones created 0700, existing ones (the
    user's, like the home folder) left as they are."""
    _make_dirs(Path(path).absolute().parent)


def private_file(path: str | os.PathLike[str], *journals: str, create: bool = False) -> None:
    """`path` and its journal files (`path` + suffix), those that exist, tightened to 0600;
    with `create`, `path` is first created empty with that mode if missing (SQLite takes an
    empty file for a new database and gives its -wal and -shm files the database file's mode)."""
    path = os.fspath(path)
    if create:
        os.close(os.open(path, os.O_RDONLY | os.O_CREAT, FILE_MODE))  # the mode applies only if created
    for name in (path, *(path + suffix for suffix in journals)):
        try:
            _chmod(Path(name), FILE_MODE)
        except FileNotFoundError:
            continue  # a journal exists only while written to
