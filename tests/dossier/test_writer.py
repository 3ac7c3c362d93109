"""Real dossiers with the small model in both roles: grounded, cited, one per account, and the
fallback when the model's prose cannot be used."""

import dataclasses
import shutil
from pathlib import Path

import pytest
import yaml

from leadflow.dossier.grounding import check_dossier
from leadflow.dossier.writer import defect_rates, write_dossiers
from leadflow.paths import PROMPTS_DIR
from leadflow.scoring.dossier_rules import SECTIONS
from leadflow.storage.schema import llm_cost
from tests.dossier.conftest import as_lead, email_signals, icp_posting_ids, make_client, posting

MAX_CHARS = 1200


def _leads(count: int):
    return [
        as_lead(posting(job_id), 80.0 - i, "red_hot" if i == 0 else "warm", role_function="marketing", seniority="mid")
        for i, job_id in enumerate(icp_posting_ids()[:count])
    ]


def _assert_grounded(result) -> None:
    assert result.defects == [] and check_dossier(result.value, result.evidence) == []
    assert set(SECTIONS) <= set(result.value)
    for spans in result.value["citations"].values():
        for span in spans:
            assert result.evidence.signals[span["signal_id"]][span["start"] : span["end"]] == span["quote"]


def test_real_dossiers_on_sample_postings_pass_the_check(client, profiles):
    leads = _leads(3)
    results = write_dossiers(client, leads, profiles, MAX_CHARS, prose="small")
    assert sorted(r.signal_ids[0] for r in results) == sorted(lead.signal_id for lead in leads)
    for result in results:
        _assert_grounded(result)
        templates = [r.template for r in result.records]
        assert templates[0].startswith("extract_facts@") and (
            result.fallback or templates[-1].startswith("write_opener@")
        )
        cost = llm_cost(result.cost())
        assert cost["tokens_in"] > 0 and cost["llm_calls"] >= 1
    rates = defect_rates(results)
    assert rates["defect_free_rate"] == 1.0 and rates["dossiers"] == 3


def test_two_postings_of_one_company_make_one_dossier(client, profiles):
    lead = _leads(1)[0]
    repost = dataclasses.replace(lead, signal_id="repost-1", final_score=70.0, bucket="warm")
    [result] = write_dossiers(client, [repost, lead], profiles, MAX_CHARS)
    assert result.signal_ids == (lead.signal_id, "repost-1")  # the higher score speaks for the account
    _assert_grounded(result)


def test_an_email_lead_gets_a_grounded_dossier(client, profiles):
    signal = email_signals()[0]
    [result] = write_dossiers(client, [as_lead(signal, 72.0, "warm", hiring=False)], profiles, MAX_CHARS)
    _assert_grounded(result)
    assert result.evidence.company


@pytest.fixture
def broken_prose_client(model_dir: Path, dossier_cache: Path, tmp_path: Path):
    """The prompts with a write_opener whose answers are always cut off: the prose can never validate."""
    prompts = tmp_path / "prompts"
    shutil.copytree(PROMPTS_DIR, prompts)
    template = yaml.safe_load((prompts / "write_opener.yaml").read_text())
    template["defaults"]["max_tokens"] = 6
    (prompts / "write_opener.yaml").write_text(yaml.safe_dump(template, sort_keys=False))
    return make_client(model_dir, dossier_cache, str(prompts))


def test_prose_that_fails_falls_back_to_a_composed_dossier_that_passes(broken_prose_client, profiles):
    [result] = write_dossiers(broken_prose_client, _leads(1), profiles, MAX_CHARS, prose="small")
    assert result.fallback and not result.repaired
    _assert_grounded(result)
    assert result.value["suggested_opener"].startswith("Saw that ")


def test_composed_prose_the_default_asks_no_model_for_the_sentences(client, profiles):
    [result] = write_dossiers(client, _leads(1), profiles, MAX_CHARS)
    assert [r.template.split("@")[0] for r in result.records] == ["extract_facts"]
    assert not result.fallback and not result.repaired
    _assert_grounded(result)


def test_an_unknown_prose_writer_is_refused(client, profiles):
    with pytest.raises(ValueError, match="expected one of small, dossier, composed"):
        write_dossiers(client, _leads(1), profiles, MAX_CHARS, prose="poet")
