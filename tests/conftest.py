"""Shared fixtures: real models (assembled once into the project's model dir), real DuckDB files."""

import os
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from dagster._core.definitions.reconstruct import ReconstructableJob

from leadflow.paths import PROJECT_ROOT

SMALL_MODEL = "qwen2.5-coder-0.5b-instruct-q4_k_m"


@pytest.fixture(scope="session")
def model_dir() -> Path:
    """Model files are assembled and verified once and reused across test sessions."""
    return Path(os.environ.get("LEADFLOW_MODEL_DIR") or PROJECT_ROOT / ".leadflow" / "models")


@pytest.fixture(scope="session")
def shared_llm_cache(tmp_path_factory) -> Path:
    """One persistent LLM cache for the analysis and pipeline tests: the golden sets' answers and
    embeddings are paid once."""
    return tmp_path_factory.mktemp("llm-cache") / "llm_cache.sqlite"


@pytest.fixture(scope="session")
def golden_email_embeddings(model_dir: Path, shared_llm_cache: Path) -> Path:
    """The shared cache, holding what fitting the email typer embeds (the labelled emails and the
    type prototypes): about a minute of the embedding model that a fresh cache would pay again."""
    from leadflow.analysis.features import FeatureSpace, email_vectors
    from leadflow.analysis.golden import load_email_golden
    from leadflow.defs.resources import LLMResource

    client = LLMResource(model_dir=str(model_dir), cache_path=str(shared_llm_cache), warm_up=False).client()
    FeatureSpace.build(client)
    email_vectors(client, load_email_golden().mails)
    return shared_llm_cache


def seed_embeddings(source: Path, target: Path) -> None:
    """A new cache at `target` with `source`'s embeddings and no model answer: a test that counts
    its own answers from an empty cache does not embed the golden emails again."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)
        dst.execute("DELETE FROM llm_cache WHERE kind != 'embedding'")
        dst.commit()


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
