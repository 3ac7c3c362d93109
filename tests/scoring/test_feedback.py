"""The user's labels teach the scorer: real signals embedded by the real engine in a real DuckDB
file, labelled through the labels table; the head and the golden figures change, held-out labels
are judged per source, and suggestions are the published postings nearest the warm boundary."""

from datetime import date

import dagster as dg
import numpy as np
import pytest

from leadflow.defs.assets.embeddings import signal_embeddings
from leadflow.defs.assets.ingest import raw_signals
from leadflow.scoring import feedback, prefilter
from leadflow.scoring.golden import load_golden
from leadflow.scoring.icp import load_icp
from leadflow.storage import schema
from leadflow.storage.labels import Label, write_labels
from leadflow.storage.publication import publish
from leadflow.storage.warehouse import write_version
from tests.defs.conftest import IMPORT_DAY, make_workspace

DAY = IMPORT_DAY.isoformat()


@pytest.fixture(scope="module")
def workspace(model_dir, tmp_path_factory):
    workspace = make_workspace(tmp_path_factory.mktemp("feedback"), model_dir, emails=6)
    result = dg.materialize(
        [raw_signals, signal_embeddings],
        partition_key=DAY,
        resources=workspace["resources"],
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    return workspace


def _fit(workspace, labelled):
    pipeline = workspace["resources"]["pipeline"]
    client = workspace["resources"]["llm"].client()
    golden = load_golden(pipeline.golden_file())
    profiles = load_icp(pipeline.icp_file())
    training = feedback.training_labels(labelled) if labelled is not None else None
    return prefilter.fit_cascade(client, golden, profiles, pipeline.thresholds(), pipeline.max_text_chars, training)


def test_labels_change_the_head_and_the_golden_figures(workspace):
    warehouse = workspace["resources"]["duckdb"]
    with warehouse.get_connection() as conn:
        signals = conn.execute("SELECT signal_id, kind, title FROM raw_signals ORDER BY signal_id").df()
        assert feedback.labelled_signals(conn).empty  # no label yet
        # the user disagrees with the golden set: every posting they saw is "good"
        write_labels(
            conn,
            [
                Label(row.signal_id, "good" if row.kind == "job_posting" else "bad", "cli", "ann")
                for row in signals.itertuples()
            ],
        )
        labelled = feedback.labelled_signals(conn)
    assert len(labelled) == len(signals) and labelled["held_out"].any() and (~labelled["held_out"]).any()
    training = feedback.training_labels(labelled)
    assert set(training["kind"]) == {"job_posting"} and not training["held_out"].any()

    before, after = _fit(workspace, None), _fit(workspace, labelled)
    assert before.report["user_training_rows"] == 0 and after.report["user_training_rows"] == len(training)
    assert not np.allclose(before.scorer.head.weights, after.scorer.head.weights)
    figures = ("heldout", "proba_cut")
    assert {k: before.report[k] for k in figures} != {k: after.report[k] for k in figures}
    assert after.report["golden_rows"] == before.report["golden_rows"]  # judged on the same golden rows

    judged = feedback.held_out_figures(after.scorer, labelled, {})
    held = labelled[labelled["held_out"]]
    assert judged["rows"] == len(held) and judged["good"] == int(held["good"].sum())
    assert set(judged["sources"]) == set(held["source"])
    assert sum(source["rows"] for source in judged["sources"].values()) == len(held)
    assert {"precision", "recall", "f1"} <= set(judged)


def test_suggestions_are_the_unlabelled_postings_nearest_the_warm_boundary(workspace, tmp_path):
    warehouse = workspace["resources"]["duckdb"]
    day = date(2026, 11, 21)  # a day of its own: the labels above stay as they are
    rows = [
        {column: None for column in schema.table("prefilter_scores").written}
        | {
            "partition_date": day,
            "signal_id": signal_id,
            "kind": kind,
            "title": signal_id,
            "content_hash": content,
            "cheap_score": cheap,
            "final_score": cheap,
            "bucket": "warm",
            "run_id": "run-s",
        }
        for signal_id, kind, content, cheap in [
            ("far", "job_posting", "c1", 95.0),
            ("near", "job_posting", "c2", 58.0),
            ("nearer", "job_posting", "c3", 61.0),
            ("twin", "job_posting", "c3", 61.0),  # the same content: suggested once
            ("mail", "email", "c4", 60.0),  # its label would not train the head
        ]
    ]
    with warehouse.get_connection() as conn:
        write_version(conn, "prefilter_scores", [day], "run-s", schema.frame("prefilter_scores", rows))
        publish(conn, {day: "run-s"})
        suggested = feedback.suggest(conn, 3)
        labelled = set(feedback.labelled_signals(conn)["signal_id"])
        with pytest.raises(ValueError):
            feedback.suggest(conn, 0)
    assert list(suggested["signal_id"]) == ["nearer", "near", "far"]  # "twin" is "nearer" again
    assert list(suggested["margin"]) == [1.0, 2.0, 35.0] and not labelled & set(suggested["signal_id"])
