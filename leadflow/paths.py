"""Where leadflow finds its bundled files (package data), the project and its outputs (the data dir)."""

import os
from pathlib import Path

from leadflow.storage.private import private_dir

PACKAGE_DIR = Path(__file__).resolve().parent
RESOURCES_DIR = PACKAGE_DIR / "resources"  # bundled ICPs, model catalog, golden sets, samples
PROMPTS_DIR = PACKAGE_DIR / "prompts"


def _project_dir() -> Path:
    """LEADFLOW_PROJECT_DIR; else the source checkout holding this package; else the working
    directory (a non-editable install has no checkout around it)."""
    if os.environ.get("LEADFLOW_PROJECT_DIR"):
        return Path(os.environ["LEADFLOW_PROJECT_DIR"]).expanduser().resolve()
    checkout = PACKAGE_DIR.parent
    return checkout if (checkout / "pyproject.toml").is_file() else Path.cwd()


PROJECT_ROOT = _project_dir()
DEFAULT_HOME = PROJECT_ROOT / ".leadflow"  # the Dagster instance lives inside too (leadflow/instance.py)


def data_dir() -> Path:
    """DuckDB file, LLM cache, assembled models and the Dagster instance: LEADFLOW_HOME, default
    <project>/.leadflow; owner-only (0700), since what it holds quotes emails."""
    return private_dir(os.environ.get("LEADFLOW_HOME") or DEFAULT_HOME)


def resolve(path: str | Path) -> Path:
    """A path from configuration: absolute as given, relative to the project directory otherwise."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else PROJECT_ROOT / path
