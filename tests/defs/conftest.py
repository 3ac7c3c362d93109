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
from leadflow.defs.constants import RANGE_END_TAG, RANGE_START_TAG
from leadflow.defs.resources import LLMResource, PipelineSettings
from leadflow.ingest.emails import iter_mbox_messages
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
JULY = ("2001-07-01", "2001-07-31")  # the sample month with the most email


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


def month_of_email(target: Path, year_month: bytes) -> None:
    """The sample messages of one month (e.g. b'Jul 2001'): the backlog of a month-long backfill."""
    with target.open("wb") as out:
        for raw in iter_mbox_messages(SAMPLES / "enron_sample.mbox"):
            header = raw.split(b"\n\n", 1)[0]
            if any(line.startswith(b"Date:") and year_month in line for line in header.splitlines()):
                out.write(b"From leadflow-test Sat Nov 21 00:00:00 2026\n" + raw.rstrip(b"\n") + b"\n\n")


def range_run(workspace: dict, first: str, last: str, instance: dg.DagsterInstance | None = None):
    """One run over the days first..last (a single-run backfill's range)."""
    return dg.materialize(
        [*ASSETS, *CHECKS],
        resources=workspace["resources"],
        instance=instance or dg.DagsterInstance.ephemeral(),
        tags={RANGE_START_TAG: first, RANGE_END_TAG: last},
        raise_on_error=False,
    )


def warehouse_copy(workspace: dict, root: Path) -> dict:
    """The workspace on a copy of its DuckDB file under `root` (the same sources, prompts and LLM
    cache): a test writes there without changing what another test reads."""
    root.mkdir(parents=True, exist_ok=True)
    database = Path(workspace["resources"]["duckdb"].database)
    for path in database.parent.glob(database.name + "*"):  # the file and any WAL beside it
        shutil.copy(path, root / path.name)
    resources = {**workspace["resources"], "duckdb": DuckDBResource(database=str(root / database.name))}
    return {**workspace, "root": root, "resources": resources}


@pytest.fixture(scope="session")
def july_backfill(tmp_path_factory, model_dir, shared_llm_cache) -> dict:
    """July 2001's sample email backfilled as one range run on an instance of its own, run once for
    the tests that read it (the email golden test writes on a `warehouse_copy`): the workspace, the
    run's result, the instance's runs and raw_signals' materialized partitions."""
    workspace = make_workspace(tmp_path_factory.mktemp("july"), model_dir, shared_llm_cache, dossier_threshold=101)
    month_of_email(workspace["root"] / "emails.mbox", b"Jul 2001")
    with dg.instance_for_test() as instance:
        result = range_run(workspace, *JULY, instance)
        runs = instance.get_runs()
        materialized = instance.get_materialized_partitions(dg.AssetKey("raw_signals"))
    return {**workspace, "result": result, "runs": runs, "raw_signals_partitions": materialized}
