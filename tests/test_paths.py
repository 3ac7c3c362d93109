"""The data dir (LEADFLOW_HOME) is owner-only: it holds the warehouse and the LLM cache."""

import os
import stat

from leadflow.paths import data_dir


def test_the_data_dir_is_created_and_kept_0700(tmp_path, monkeypatch):
    home = tmp_path / "data" / ".leadflow"
    monkeypatch.setenv("LEADFLOW_HOME", str(home))
    assert data_dir() == home
    assert stat.S_IMODE(os.stat(home).st_mode) == stat.S_IMODE(os.stat(home.parent).st_mode) == 0o700
    home.chmod(0o755)  # as an earlier leadflow left it
    data_dir()
    assert stat.S_IMODE(os.stat(home).st_mode) == 0o700
