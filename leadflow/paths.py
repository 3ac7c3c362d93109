"""Where leadflow finds its inputs (the project root) and keeps its outputs (the data dir)."""

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    """DuckDB file, LLM cache and assembled models: LEADFLOW_HOME, default <project>/.leadflow."""
    path = Path(os.environ.get("LEADFLOW_HOME") or PROJECT_ROOT / ".leadflow")
    path.mkdir(parents=True, exist_ok=True)
    return path


def resolve(path: str | Path) -> Path:
    """A path from configuration: absolute as given, relative to the project root otherwise."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else PROJECT_ROOT / path
