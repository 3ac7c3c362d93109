"""Shared fixtures: real models (assembled once into the project's model dir), real DuckDB files."""

import os
from pathlib import Path

import pytest
from dagster._core.definitions.reconstruct import ReconstructableJob

from leadflow.paths import PROJECT_ROOT

SMALL_MODEL = "qwen2.5-coder-0.5b-instruct-q4_k_m"


@pytest.fixture(scope="session")
def model_dir() -> Path:
    """Model files are assembled and verified once and reused across test sessions."""
    return Path(os.environ.get("LEADFLOW_MODEL_DIR") or PROJECT_ROOT / ".leadflow" / "models")


@pytest.fixture
def no_leadflow_env(monkeypatch):
    """No leadflow setting from the environment (each resource's env variables unset)."""
    from leadflow.defs.resources import RESOURCE_CLASSES, env_var

    for cls in RESOURCE_CLASSES.values():
        for info in cls.model_fields.values():
            if env_var(info):
                monkeypatch.delenv(env_var(info), raising=False)
    # A job's definition is cached per process (Dagster's lru_caches on ReconstructableJob), with
    # the settings of whichever test loaded it first: a test that sets its own gets a fresh one.
    _forget_loaded_definitions()
    yield monkeypatch
    _forget_loaded_definitions()


def _forget_loaded_definitions() -> None:
    ReconstructableJob.get_definition.cache_clear()
    ReconstructableJob.get_repository_definition.cache_clear()
