"""Settings: each is declared once (resource field with default, doc and environment variable),
read from the environment by `from_env()`, and the README's table is rendered from the fields."""

import os
from pathlib import Path

import dagster as dg
import pytest

from leadflow.config_docs import config_table, with_table
from leadflow.defs.resources import RESOURCE_CLASSES, DuckDBWarehouse, LLMResource, PipelineSettings, env_var
from leadflow.llm.client import ClientSettings
from leadflow.paths import PROJECT_ROOT, PROMPTS_DIR, RESOURCES_DIR
from leadflow.scoring.cascade import Thresholds

ENV_VARS = sorted({env_var(info) for cls in RESOURCE_CLASSES.values() for info in cls.model_fields.values()} - {""})


@pytest.fixture
def clean_env(monkeypatch, tmp_path) -> Path:
    """No leadflow setting in the environment; the data dir in a temporary folder."""
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LEADFLOW_HOME", str(tmp_path))
    return tmp_path


def test_readme_configuration_table_is_generated_from_the_settings():
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    assert with_table(readme) == readme, "run `python -m leadflow.config_docs` to update README.md"
    assert config_table() in readme


def test_todays_environment_variables_are_all_declared():
    assert set(ENV_VARS) == {
        "LEADFLOW_DUCKDB_PATH",
        "LEADFLOW_INSTANCE_PROFILE",
        "LEADFLOW_DAGSTER_POSTGRES_URL",
        "LEADFLOW_CELERY_BROKER_URL",
        "LEADFLOW_CLUSTER_RUNS",
        "LEADFLOW_WAREHOUSE_LEASE_URL",
        "LEADFLOW_LLM_BACKEND",
        "OLLAMA_BASE_URL",
        "LEADFLOW_LLM_BASE_URLS",
        "LEADFLOW_LLM_API_KEY",
        "LEADFLOW_EMBED_BACKEND",
        "LEADFLOW_EMBED_BASE_URLS",
        "LEADFLOW_PREFILTER_MODEL",
        "LEADFLOW_DOSSIER_MODEL",
        "LEADFLOW_EMBED_MODEL",
        "LEADFLOW_USE_QUANTIZED",
        "LEADFLOW_MAX_CONCURRENCY",
        "LEADFLOW_THREADS",
        "LEADFLOW_MODEL_DIR",
        "LEADFLOW_CACHE_MEMORY_MB",
        "LEADFLOW_CACHE_PATH",
        "LEADFLOW_REDIS_URL",
        "LEADFLOW_LLM_RACE",
        "LEADFLOW_SEMANTIC_CACHE",
        "LEADFLOW_STREAM_ABORT",
        "LEADFLOW_RUN_TOKEN_BUDGET",
        "LEADFLOW_PRICE_LIST",
        "LEADFLOW_CACHE_AUDIT_SAMPLE",
        "LEADFLOW_PROMPTS_DIR",
        "LEADFLOW_SOURCES_PATH",
        "LEADFLOW_IMPORTS_DIR",
        "LEADFLOW_EXPORTS_DIR",
        "LEADFLOW_FIRST_PARTITION",
        "LEADFLOW_DOSSIER_THRESHOLD",
        "LEADFLOW_LLM_MIN_SCORE",
        "LEADFLOW_TIERING",
        "LEADFLOW_DOSSIER_PROSE",
        "LEADFLOW_OWN_DOMAINS",
        "LEADFLOW_REDACT_EMAIL_TEXT",
    }


def test_defaults_without_environment(clean_env):
    settings = LLMResource.from_env().settings()
    assert settings.backend == "embedded" and settings.base_urls == ()
    assert settings.threads == min(os.cpu_count() or 2, 8)
    assert settings.max_concurrency == 0 and settings.cache_memory_mb == 64  # 0: sized to the engine
    assert settings.concurrency_path == str(clean_env / "concurrency.json")
    assert settings.model_dir == str(clean_env / "models")
    assert settings.cache_path == str(clean_env / "llm_cache.sqlite")
    assert settings.prompts_dir == str(PROMPTS_DIR)
    assert settings.catalog_path == str(RESOURCES_DIR / "models.yaml")
    # the library dataclasses' defaults are the ones the resources use
    assert settings.client == ClientSettings()
    pipeline = PipelineSettings.from_env()
    assert pipeline.thresholds() == Thresholds()
    assert pipeline.sources_file() == RESOURCES_DIR / "sources.yaml"
    assert pipeline.icp_file() == RESOURCES_DIR / "icp.yaml"
    assert pipeline.golden_file().is_file() and pipeline.sources_file().is_file() and pipeline.icp_file().is_file()
    assert pipeline.imports_folder() == clean_env / "imports"
    assert pipeline.exports_folder() == clean_env / "exports"
    assert DuckDBWarehouse.from_env().database == str(clean_env / "leadflow.duckdb")


def test_environment_variables_are_read(clean_env, monkeypatch):
    monkeypatch.setenv("LEADFLOW_MAX_CONCURRENCY", "5")
    monkeypatch.setenv("LEADFLOW_THREADS", "3")
    monkeypatch.setenv("LEADFLOW_USE_QUANTIZED", "false")
    monkeypatch.setenv("LEADFLOW_LLM_RACE", "yes")
    monkeypatch.setenv("LEADFLOW_CACHE_PATH", "off")
    monkeypatch.setenv("LEADFLOW_DOSSIER_MODEL", "llama3.1:8b")
    monkeypatch.setenv("LEADFLOW_PROMPTS_DIR", str(clean_env / "prompts"))
    monkeypatch.setenv("LEADFLOW_DOSSIER_THRESHOLD", "75")
    monkeypatch.setenv("LEADFLOW_SOURCES_PATH", "elsewhere/sources.yaml")
    monkeypatch.setenv("LEADFLOW_DUCKDB_PATH", str(clean_env / "w.duckdb"))
    monkeypatch.setenv("LEADFLOW_EMBED_BACKEND", "")  # empty counts as unset
    llm = LLMResource.from_env()
    assert (llm.max_concurrency, llm.threads, llm.use_quantized, llm.race) == (5, 3, False, True)
    settings = llm.settings()
    assert settings.cache_path == "" and settings.prompts_dir == str(clean_env / "prompts")
    assert settings.embed_backend == ""
    assert settings.client.model_overrides == (("dossier", "llama3.1:8b"),)
    assert not settings.client.use_quantized and settings.client.race
    pipeline = PipelineSettings.from_env()
    assert pipeline.thresholds().dossier == 75
    assert pipeline.sources_file() == PROJECT_ROOT / "elsewhere" / "sources.yaml"
    assert DuckDBWarehouse.from_env().database == str(clean_env / "w.duckdb")
    # explicit values (the benchmark's work directory) win over the environment
    assert LLMResource.from_env(max_concurrency=1).max_concurrency == 1


def test_sources_edits_go_to_a_user_copy_never_the_bundled_file(clean_env, monkeypatch):
    pipeline = PipelineSettings.from_env()
    bundled = RESOURCES_DIR / "sources.yaml"
    before = bundled.read_bytes()
    assert pipeline.sources_file() == bundled
    user = pipeline.editable_sources_file()
    assert user == clean_env / "sources.yaml" and user.is_file()
    assert pipeline.sources_file() == user  # once it exists, every run reads it
    assert bundled.read_bytes() == before
    monkeypatch.setenv("LEADFLOW_SOURCES_PATH", str(clean_env / "mine.yaml"))
    configured = PipelineSettings.from_env()
    assert configured.sources_file() == configured.editable_sources_file() == clean_env / "mine.yaml"


def test_ollama_base_url_implies_the_ollama_backend(clean_env, monkeypatch):
    monkeypatch.setenv("OLLAMA_BASE_URL", "http://127.0.0.1:11434")
    settings = LLMResource.from_env().settings()
    assert settings.backend == "ollama" and settings.base_urls == ("http://127.0.0.1:11434",)
    monkeypatch.setenv("LEADFLOW_LLM_BACKEND", "openai")
    monkeypatch.setenv("LEADFLOW_LLM_BASE_URLS", "http://a:8080, http://b:8080")
    settings = LLMResource.from_env().settings()
    assert settings.backend == "openai" and settings.base_urls == ("http://a:8080", "http://b:8080")


def test_the_api_key_is_a_dagster_env_var(clean_env, monkeypatch):
    monkeypatch.setenv("LEADFLOW_LLM_API_KEY", "sk-test")
    llm = LLMResource.from_env()
    assert isinstance(llm.api_key, dg.EnvVar) and llm.api_key.env_var_name == "LEADFLOW_LLM_API_KEY"
    assert llm.settings().api_key == "sk-test"  # resolved outside a run too (CLI, benchmark)


def test_secrets_are_dagster_env_vars_and_in_no_repr(clean_env, monkeypatch):
    api_key, password = "sk-test-7f3a9c", "r3dis-pa55word"
    monkeypatch.setenv("LEADFLOW_LLM_API_KEY", api_key)
    monkeypatch.setenv("LEADFLOW_REDIS_URL", f"redis://:{password}@127.0.0.1:6379/0")
    from_env = LLMResource.from_env()
    assert isinstance(from_env.redis_url, dg.EnvVar) and from_env.redis_url.env_var_name == "LEADFLOW_REDIS_URL"
    in_code = LLMResource(api_key=api_key, redis_url=f"redis://:{password}@127.0.0.1:6379/0")
    for llm in (from_env, in_code):
        settings = llm.settings()
        assert settings.api_key == api_key and password in settings.redis_url  # the values are kept
        for shown in (repr(llm), str(llm), repr(settings), str(settings)):
            assert api_key not in shown and password not in shown
        assert "max_concurrency=0" in repr(llm) and "max_concurrency=0" in repr(settings)  # the rest is shown


def test_email_text_is_redacted_unless_turned_off(clean_env, monkeypatch):
    assert PipelineSettings.from_env().redact_email_text
    monkeypatch.setenv("LEADFLOW_REDACT_EMAIL_TEXT", "false")
    assert not PipelineSettings.from_env().redact_email_text


def test_the_definitions_read_the_environment(clean_env, monkeypatch):
    from leadflow.definitions import defs

    monkeypatch.setenv("LEADFLOW_MAX_CONCURRENCY", "3")
    monkeypatch.setenv("LEADFLOW_LLM_MIN_SCORE", "25")
    resources = defs().resources
    assert resources is not None
    assert resources["llm"].max_concurrency == 3
    assert resources["pipeline"].llm_min_score == 25
    assert resources["duckdb"].database == str(clean_env / "leadflow.duckdb")
