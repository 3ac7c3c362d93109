"""Quality gates end to end: a bad batch is never published, the failed-check sensor handles
each failure once, and a rollback restores the previous published version. The same real runs
show comparable metadata: one key set per asset whether or not the engine worked (null where
nothing was measured), and no placeholder number in any materialization or check."""

from typing import Any

import dagster as dg
import pandas as pd
import pytest
import yaml

from leadflow.definitions import defs
from leadflow.defs import checks
from leadflow.defs.constants import PROFILE_TAG, SAFE_PROFILE
from leadflow.defs.jobs import rollback_partition
from leadflow.defs.sensors import GATED_CHECKS, POST_PUBLISH_GATES, gated_checks, quality_gate_sensor
from tests.defs.conftest import IMPORT_DAY, make_workspace, materialize, table

DAY = IMPORT_DAY.isoformat()


def test_every_blocking_check_and_the_post_publish_gate_are_handled_by_the_sensor():
    graph = defs().get_repository_def().asset_graph
    blocking = {key for key in graph.asset_check_keys if graph.get_check_spec(key).blocking}
    drift_gate = dg.AssetCheckKey(dg.AssetKey("published_leads"), "published_leads_drift_gate")
    assert set(POST_PUBLISH_GATES) == {drift_gate}
    assert set(GATED_CHECKS) == blocking | POST_PUBLISH_GATES  # the warn-only drift check is not gated
    assert len(GATED_CHECKS) == 12


def test_a_newly_defined_blocking_check_is_gated_without_listing_it():
    @dg.asset_check(asset="dossiers", blocking=True)
    def dossiers_new_gate() -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=True)

    @dg.asset_check(asset="dossiers")
    def dossiers_new_report() -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=True)

    gated, post_publish = gated_checks(
        [*dg.load_asset_checks_from_modules([checks]), dossiers_new_gate, dossiers_new_report]
    )
    assert dg.AssetCheckKey(dg.AssetKey("dossiers"), "dossiers_new_gate") in gated
    assert dg.AssetCheckKey(dg.AssetKey("dossiers"), "dossiers_new_report") not in gated
    assert set(gated) == {*GATED_CHECKS, dg.AssetCheckKey(dg.AssetKey("dossiers"), "dossiers_new_gate")}
    assert post_publish == POST_PUBLISH_GATES


@pytest.fixture(scope="module")
def instance():
    with dg.instance_for_test() as test_instance:
        yield test_instance


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, model_dir, shared_llm_cache):
    return make_workspace(tmp_path_factory.mktemp("gates"), model_dir, shared_llm_cache, dossier_threshold=101)


def _set_prompt_max_tokens(workspace, max_tokens: int, version: int) -> None:
    path = workspace["prompts"] / "classify_signal.yaml"
    template = yaml.safe_load(path.read_text())
    template["defaults"]["max_tokens"] = max_tokens
    template["version"] = version
    path.write_text(yaml.safe_dump(template, sort_keys=False))


def _materialized(result) -> set[str]:
    return {event.asset_key.to_user_string() for event in result.get_asset_materialization_events()}


def _leads(workspace) -> pd.DataFrame:
    return table(workspace, "leads")


@pytest.fixture(scope="module")
def good_run(workspace, instance):
    result = materialize(workspace, DAY, instance=instance)
    assert result.success
    return result


def test_a_good_batch_passes_every_check_and_is_published(workspace, good_run):
    evaluations = good_run.get_asset_check_evaluations()
    assert evaluations and all(e.passed for e in evaluations if e.severity == dg.AssetCheckSeverity.ERROR)
    golden = {e.check_name: e.metadata for e in evaluations}["prefilter_golden_set"]
    assert 0 <= golden["f1"].value <= 1 and golden["prompt_version"].value == "classify_signal@v1"
    assert "published_leads" in _materialized(good_run)
    assert set(_leads(workspace)["run_id"]) == {good_run.run_id}


@pytest.fixture(scope="module")
def broken_run(workspace, instance, good_run):
    published_before = _leads(workspace)
    _set_prompt_max_tokens(workspace, max_tokens=4, version=99)  # every answer is cut off: invalid JSON
    try:
        result = materialize(workspace, DAY, instance=instance)
    finally:
        _set_prompt_max_tokens(workspace, max_tokens=96, version=1)
    return result, published_before


def test_a_prompt_that_breaks_the_json_is_blocked_and_never_published(workspace, broken_run):
    result, published_before = broken_run
    assert not result.success
    failed = {e.check_name for e in result.get_asset_check_evaluations() if not e.passed}
    assert "prefilter_valid_output_rate" in failed
    assert _materialized(result) == {
        "raw_signals",
        "signal_embeddings",
        "accounts",
        "email_analysis",
        "prefilter_scores",
    }
    pd.testing.assert_frame_equal(_leads(workspace), published_before)  # the published view is unchanged
    broken = table(workspace, "prefilter_scores").query("run_id == @result.run_id")
    assert len(broken) and broken.loc[broken["cheap_score"] >= 30, "llm_error"].notna().all()


def test_the_sensor_quarantines_the_failed_version_and_requests_one_safe_rerun(workspace, instance, broken_run):
    result, _ = broken_run  # noqa: RUF059 (read by the query below)
    resources = {"duckdb": workspace["resources"]["duckdb"]}
    with dg.build_sensor_context(instance=instance, resources=resources) as context:
        first = quality_gate_sensor(context)
    assert isinstance(first, dg.SensorResult) and first.run_requests is not None
    assert [r.partition_key for r in first.run_requests] == [DAY]
    assert first.run_requests[0].tags[PROFILE_TAG] == SAFE_PROFILE
    statuses = table(workspace, "version_status").query("run_id == @result.run_id")
    assert "failed" in set(statuses["status"])
    with dg.build_sensor_context(instance=instance, resources=resources, cursor=first.cursor) as context:
        second = quality_gate_sensor(context)
    assert isinstance(second, dg.SensorResult)
    assert second.run_requests == []  # each failure is handled exactly once


@pytest.fixture(scope="module")
def cached_run(workspace, instance, good_run, broken_run):
    return materialize(workspace, DAY, instance=instance)  # answers come from the cache


def test_rollback_restores_the_previous_published_version(workspace, instance, good_run, cached_run):
    again = cached_run
    assert again.success
    assert set(_leads(workspace)["run_id"]) == {again.run_id}
    rolled = rollback_partition.execute_in_process(
        partition_key=DAY,
        resources={"duckdb": workspace["resources"]["duckdb"]},
        instance=instance,
    )
    assert rolled.success
    assert set(_leads(workspace)["run_id"]) == {good_run.run_id}
    history = table(workspace, "publications")
    assert list(history.sort_values("seq")["action"]) == ["publish", "publish", "rollback"]


def _metadata(result) -> dict[str, dict[str, Any]]:
    """Each materialized asset's metadata values (a null is None)."""
    return {
        e.asset_key.to_user_string(): {key: value.value for key, value in e.materialization.metadata.items()}
        for e in result.get_asset_materialization_events()
    }


def test_materializations_keep_one_key_set_with_and_without_engine_work(good_run, broken_run, cached_run):
    hits_only = _metadata(cached_run)["signal_embeddings"]  # every text was embedded by the first run
    engine_work = _metadata(broken_run[0])["prefilter_scores"]  # a new prompt version: every answer is new
    assert hits_only["llm/llm_calls"] == 0 and hits_only["llm/requests"] > 0
    assert engine_work["llm/llm_calls"] > 0
    assert {k for k in hits_only if k.startswith("llm/")} == {k for k in engine_work if k.startswith("llm/")}
    for key in ("llm/latency_p50_s", "llm/tokens_per_s", "llm/invalid_rate"):
        assert key in hits_only and hits_only[key] is None, key  # not measured: null, never dropped
    assert isinstance(engine_work["llm/latency_p50_s"], float)
    for run in (good_run, cached_run):  # the same asset, whatever reached the engine
        for asset, metadata in _metadata(run).items():
            assert set(metadata) == set(_metadata(good_run)[asset]), asset


def _numbers(value) -> list[float]:
    if isinstance(value, dict):
        return [n for item in value.values() for n in _numbers(item)]
    if isinstance(value, list):
        return [n for item in value for n in _numbers(item)]
    return [value] if isinstance(value, int | float) and not isinstance(value, bool) else []


def test_no_placeholder_number_in_any_metadata_of_a_real_run(good_run, broken_run, cached_run):
    for run in (good_run, broken_run[0], cached_run):
        values = [value for metadata in _metadata(run).values() for value in metadata.values()]
        values += [v.value for e in run.get_asset_check_evaluations() for v in e.metadata.values()]
        assert -1 not in [n for value in values for n in _numbers(value)]
    drift = {e.check_name: e for e in good_run.get_asset_check_evaluations()}["prefilter_bucket_drift"]
    assert drift.partition == DAY  # the day it judged
    assert isinstance(drift.metadata["psi"], dg.NullMetadataValue)  # a first day has no baseline to compare
