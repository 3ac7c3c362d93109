"""Shared fixtures: real models (assembled once into the project's model dir), real DuckDB files."""

import os
from pathlib import Path

import pytest

from leadflow.paths import PROJECT_ROOT

SMALL_MODEL = "qwen2.5-coder-0.5b-instruct-q4_k_m"


@pytest.fixture(scope="session")
def model_dir() -> Path:
    """Model files are assembled and verified once and reused across test sessions."""
    return Path(os.environ.get("LEADFLOW_MODEL_DIR") or PROJECT_ROOT / ".leadflow" / "models")
