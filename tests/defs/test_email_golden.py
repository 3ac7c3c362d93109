"""The email golden check blocks a regression of the email typing: labels that no longer mean
anything (a broken golden set, a broken feature) drop the held-out F1, and the run is not
published."""

import json
import random

import dagster as dg

from leadflow.analysis.golden import GOLDEN_LABELS, GOLDEN_MBOX
from leadflow.defs.resources import PipelineSettings
from tests.defs.conftest import JULY, range_run, table, warehouse_copy


def _email_checks(result) -> list[dg.AssetCheckEvaluation]:
    """The check's evaluations of the days with email (one per day; days without email pass
    with nothing to judge)."""
    evaluations = [e for e in result.get_asset_check_evaluations() if e.check_name == "email_golden_set"]
    assert sorted(e.partition for e in evaluations) == [f"2001-07-{day:02d}" for day in range(1, 32)]
    judged = [e for e in evaluations if "f1" in e.metadata]
    assert judged and all(e.passed for e in evaluations if e not in judged)
    return judged


def test_scrambled_labels_fail_the_email_golden_check_and_nothing_is_published(tmp_path, july_backfill):
    good = july_backfill["result"]  # the month's run with the bundled labels, published
    assert good.success and all(e.passed for e in _email_checks(good))
    workspace = warehouse_copy(july_backfill, tmp_path / "copy")
    published = table(workspace, "current_publications")
    rows = [json.loads(line) for line in GOLDEN_LABELS.read_text().splitlines() if line.strip()]
    labels = [(row["categories"], row["coarse_genres"], row["is_employment"]) for row in rows]
    random.Random(3).shuffle(labels)  # every email keeps a label set, but not its own
    scrambled = tmp_path / "scrambled_labels.jsonl"
    scrambled.write_text(
        "".join(
            json.dumps({**row, "categories": c, "coarse_genres": g, "is_employment": e}) + "\n"
            for row, (c, g, e) in zip(rows, labels, strict=True)
        )
    )
    pipeline = workspace["resources"]["pipeline"]
    workspace["resources"]["pipeline"] = PipelineSettings(
        **{**pipeline.model_dump(), "email_golden_mbox": str(GOLDEN_MBOX), "email_golden_labels": str(scrambled)}
    )
    with dg.instance_for_test() as instance:
        bad = range_run(workspace, *JULY, instance)
    for check in _email_checks(bad):  # every day with email fails against the version published for it
        assert not check.passed
        assert check.metadata["f1"].value < check.metadata["baseline_f1"].value - pipeline.golden_tolerance
        assert check.metadata["baseline_run_id"].value == good.run_id
    materialized = {e.asset_key.to_user_string() for e in bad.get_asset_materialization_events()}
    assert "prefilter_scores" not in materialized and "published_leads" not in materialized
    assert table(workspace, "current_publications").equals(published)  # the published version stands
