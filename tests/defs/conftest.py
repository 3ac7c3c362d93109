"""A small real workspace for pipeline tests: sliced samples, a tmp DuckDB file and LLM cache,
the embedded engine with the small model in both LLM roles."""

import json
import shutil
from datetime import date
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import yaml
from dagster_duckdb import DuckDBResource

from leadflow.defs import checks
from leadflow.defs.assets.accounts import accounts
from leadflow.defs.assets.dossiers import dossiers
from leadflow.defs.assets.email_analysis import email_analysis
from leadflow.defs.assets.embeddings import signal_embeddings
from leadflow.defs.assets.ingest import raw_signals
from leadflow.defs.assets.prefilter import prefilter_scores
from leadflow.defs.assets.publish import published_leads
from leadflow.defs.assets.quality import quality_metrics
from leadflow.defs.resources import LLMResource, PipelineSettings
from leadflow.paths import PROMPTS_DIR, RESOURCES_DIR
from tests.conftest import SMALL_MODEL

IMPORT_DAY = date(2026, 11, 20)
SAMPLES = RESOURCES_DIR / "samples"
ASSETS = [
    raw_signals,
    accounts,
    signal_embeddings,
    email_analysis,
    prefilter_scores,
    dossiers,
    quality_metrics,
    published_leads,
]
CHECKS = dg.load_asset_checks_from_modules([checks])


def slice_jobs(target: Path, positives: int = 6, others: int = 6) -> int:
    """ICP positives from the golden set plus ordinary postings: every stage gets work."""
    golden = [json.loads(line) for line in (RESOURCES_DIR / "golden" / "golden_100.jsonl").read_text().splitlines()]
    icp = {g["job_id"] for g in golden if g["is_icp"]}
    lines = (SAMPLES / "jobs_sample.jsonl").read_text().splitlines()
    chosen = [line for line in lines if json.loads(line)["job_id"] in icp][:positives]
    chosen += [line for line in lines if json.loads(line)["job_id"] not in icp][:others]
    target.write_text("\n".join(chosen) + "\n")
    return len(chosen)


def slice_mbox(target: Path, messages: int) -> None:
    out, count = [], 0
    for line in (SAMPLES / "enron_sample.mbox").read_text(encoding="utf-8", errors="replace").splitlines(keepends=True):
        if line.startswith("From "):
            count += 1
            if count > messages:
                break
        out.append(line)
    target.write_text("".join(out), encoding="utf-8")


def make_workspace(root: Path, model_dir: Path, cache_path: Path | None = None, emails: int = 12, **pipeline) -> dict:
    root.mkdir(parents=True, exist_ok=True)
    jobs = slice_jobs(root / "jobs.jsonl")
    slice_mbox(root / "emails.mbox", emails)
    sources = {
        "sources": [
            {"name": "jobs", "format": "jsonl_jobs", "path": str(root / "jobs.jsonl"), "import_date": IMPORT_DAY},
            {"name": "emails", "format": "mbox", "path": str(root / "emails.mbox"), "import_date": IMPORT_DAY},
            {
                "name": "accounts",
                "format": "csv_accounts",
                "path": str(SAMPLES / "crunchbase_sample.csv"),
                "import_date": IMPORT_DAY,
                "limit": 12,
            },
        ]
    }
    (root / "sources.yaml").write_text(yaml.safe_dump(sources))
    prompts_dir = root / "prompts"  # a copy, so a test can break a prompt without touching the repo
    shutil.copytree(PROMPTS_DIR, prompts_dir)
    resources = {
        "duckdb": DuckDBResource(database=str(root / "leadflow.duckdb")),
        "llm": LLMResource(
            model_dir=str(model_dir),
            cache_path=str(cache_path or root / "llm_cache.sqlite"),
            prompts_dir=str(prompts_dir),
            dossier_model=SMALL_MODEL,  # the 1.5B writer is kept out of the test run (notes: ~22 s/dossier)
        ),
        "pipeline": PipelineSettings(sources_path=str(root / "sources.yaml"), **pipeline),
    }
    return {"root": root, "resources": resources, "jobs": jobs, "prompts": prompts_dir}


def materialize(workspace: dict, partition: str, instance: dg.DagsterInstance | None = None, tags=None):
    return dg.materialize(
        [*ASSETS, *CHECKS],
        partition_key=partition,
        resources=workspace["resources"],
        instance=instance or dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
        tags=tags,
    )


def table(workspace: dict, name: str) -> pd.DataFrame:
    with workspace["resources"]["duckdb"].get_connection() as conn:
        return conn.execute(f"SELECT * FROM {name} ORDER BY ALL").df()


@pytest.fixture(scope="session")
def shared_llm_cache(tmp_path_factory) -> Path:
    """One persistent LLM cache for the pipeline tests: the golden-set answers are paid once."""
    return tmp_path_factory.mktemp("llm-cache") / "llm_cache.sqlite"
