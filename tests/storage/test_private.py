"""Owner-only folders and files on a real filesystem, whatever the process umask."""

import os
import stat
from pathlib import Path

import pytest

from leadflow.storage.private import private_dir, private_file, private_parent


def mode(path: Path | str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def open_umask():
    """The most permissive umask: modes must come from leadflow, not from the umask."""
    previous = os.umask(0)
    yield
    os.umask(previous)


def test_private_dir_creates_every_missing_folder_0700(tmp_path, open_umask):
    home = tmp_path / "a" / "b" / ".leadflow"
    assert private_dir(home) == home
    assert [mode(p) for p in (tmp_path / "a", tmp_path / "a" / "b", home)] == [0o700] * 3


def test_private_dir_tightens_an_existing_folder(tmp_path):
    home = tmp_path / ".leadflow"
    home.mkdir(mode=0o755)
    home.chmod(0o755)
    private_dir(home)
    assert mode(home) == 0o700


def test_private_parent_creates_missing_folders_and_leaves_existing_ones(tmp_path, open_umask):
    tmp_path.chmod(0o755)  # a folder of the user's
    private_parent(tmp_path / "new" / "w.duckdb")
    assert mode(tmp_path / "new") == 0o700
    assert mode(tmp_path) == 0o755
    assert not (tmp_path / "new" / "w.duckdb").exists()


def test_private_file_creates_empty_0600(tmp_path, open_umask):
    path = tmp_path / "cache.sqlite"
    private_file(path, create=True)
    assert mode(path) == 0o600 and path.stat().st_size == 0


def test_private_file_tightens_the_file_and_its_journals_and_keeps_content(tmp_path):
    path = tmp_path / "cache.sqlite"
    path.write_bytes(b"kept")
    (tmp_path / "cache.sqlite-wal").write_bytes(b"")
    for name in ("cache.sqlite", "cache.sqlite-wal"):
        (tmp_path / name).chmod(0o644)
    private_file(path, "-wal", "-shm", create=True)  # no -shm: nothing to tighten, nothing created
    assert mode(path) == 0o600 and mode(tmp_path / "cache.sqlite-wal") == 0o600
    assert path.read_bytes() == b"kept"
    assert not (tmp_path / "cache.sqlite-shm").exists()


def test_private_file_without_create_leaves_a_missing_file_missing(tmp_path):
    private_file(tmp_path / "w.duckdb", ".wal")
    assert list(tmp_path.iterdir()) == []
