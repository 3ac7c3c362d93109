"""Real sample signals turned into dossier leads, the bundled ICP, and a real LLM client with
the small model in both roles (the 1.5B writer is kept out of the test run)."""

import datetime
import json
from pathlib import Path

import pytest

from leadflow.defs.resources import LLMResource
from leadflow.dossier.lead import LeadInput
from leadflow.ingest.emails import parse_mbox
from leadflow.ingest.jobs_jsonl import parse_jobs_jsonl
from leadflow.ingest.records import Signal
from leadflow.llm.client import LLMClient
from leadflow.paths import RESOURCES_DIR
from leadflow.scoring.icp import IcpProfile, load_icp
from tests.conftest import SMALL_MODEL

SAMPLES = RESOURCES_DIR / "samples"
DAY = datetime.date(2026, 11, 20)


def posting_signals() -> list[Signal]:
    found = parse_jobs_jsonl(SAMPLES / "jobs_sample.jsonl", source="jobs", import_date=DAY)
    return [s for s in found if isinstance(s, Signal)]


def email_signals() -> list[Signal]:
    return [s for s in parse_mbox(SAMPLES / "enron_sample.mbox", source="emails") if isinstance(s, Signal)]


def icp_posting_ids() -> list[str]:
    golden = [json.loads(line) for line in (RESOURCES_DIR / "golden" / "golden_100.jsonl").open()]
    return [g["job_id"] for g in golden if g["is_icp"]]


def as_lead(signal: Signal, score: float = 78.0, bucket: str = "warm", **verdict) -> LeadInput:
    return LeadInput(
        signal_id=signal.signal_id,
        kind=signal.kind,
        title=signal.title,
        text=signal.text,
        final_score=score,
        bucket=bucket,
        company=signal.company,
        sender=str(signal.attributes.get("from") or ""),
        **verdict,
    )


def posting(job_id: str) -> Signal:
    return next(s for s in posting_signals() if s.external_id == job_id)


@pytest.fixture(scope="session")
def profiles() -> list[IcpProfile]:
    return load_icp(RESOURCES_DIR / "icp.yaml")


@pytest.fixture(scope="session")
def dossier_cache(tmp_path_factory) -> Path:
    """One LLM cache for the dossier tests: each extraction is paid once."""
    return tmp_path_factory.mktemp("dossier-cache") / "llm_cache.sqlite"


def make_client(model_dir: Path, cache: Path, prompts_dir: str = "") -> LLMClient:
    return LLMResource(
        model_dir=str(model_dir), cache_path=str(cache), prompts_dir=prompts_dir, dossier_model=SMALL_MODEL
    ).client()


@pytest.fixture(scope="session")
def client(model_dir: Path, dossier_cache: Path) -> LLMClient:
    return make_client(model_dir, dossier_cache)
