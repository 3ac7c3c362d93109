"""Inventory of the code location: an accidental change to assets, checks, jobs, schedules or
sensors fails here first."""

import dagster as dg

from leadflow.definitions import defs


def test_definitions_inventory():
    definitions = defs()
    repo = definitions.get_repository_def()
    assert sorted(key.to_user_string() for key in definitions.resolve_all_asset_keys()) == [
        "accounts",
        "dossiers",
        "email_analysis",
        "export",
        "import_file",
        "lead_report",
        "prefilter_scores",
        "published_leads",
        "quality_metrics",
        "raw_signals",
        "signal_embeddings",
    ]
    checks = sorted(f"{key.asset_key.to_user_string()}:{key.name}" for key in repo.asset_graph.asset_check_keys)
    assert checks == [
        "dossiers:dossiers_valid",
        "email_analysis:email_golden_set",
        "prefilter_scores:prefilter_bucket_drift",
        "prefilter_scores:prefilter_cache_audit",
        "prefilter_scores:prefilter_golden_set",
        "prefilter_scores:prefilter_scores_consistent",
        "prefilter_scores:prefilter_valid_output_rate",
        "published_leads:published_leads_drift_gate",
        "quality_metrics:quality_error_rate",
        "raw_signals:raw_signals_counts_reconcile",
        "raw_signals:raw_signals_dates_in_range",
        "raw_signals:raw_signals_quarantine_rate",
        "raw_signals:raw_signals_unique_ids",
        "signal_embeddings:embeddings_valid",
    ]
    blocking = sorted(
        key.name for key in repo.asset_graph.asset_check_keys if repo.asset_graph.get_check_spec(key).blocking
    )
    assert "published_leads_drift_gate" not in blocking and "prefilter_bucket_drift" not in blocking
    assert "prefilter_cache_audit" not in blocking  # a warning: the cache-hit audit never stops a run
    assert len(blocking) == 11
    assert sorted(job.name for job in repo.get_all_jobs() if not job.name.startswith("__")) == [
        "daily_pipeline",
        "import_file_job",
        "llm_cache_maintenance",
        "rollback_partition",
    ]
    assert sorted(s.name for s in repo.schedule_defs) == ["daily_pipeline_schedule"]
    assert sorted(s.name for s in repo.sensor_defs) == [
        "import_folder_sensor",
        "incident_sensor",
        "quality_gate_sensor",
    ]
    named: list[dg.JobDefinition | dg.ScheduleDefinition | dg.SensorDefinition] = [
        *repo.get_all_jobs(),
        *repo.schedule_defs,
        *repo.sensor_defs,
    ]
    for obj in named:
        assert obj.name.startswith("__") or obj.description, obj.name
    assert definitions.resources is not None
    assert sorted(definitions.resources) == ["cluster", "duckdb", "llm", "pipeline"]


def test_every_asset_is_daily_single_run_and_in_the_writer_pool():
    definitions = defs()
    for key in definitions.resolve_all_asset_keys():
        if key.to_user_string() == "import_file":  # partitioned by import file, writes nothing
            continue
        asset = definitions.resolve_assets_def(key)
        assert asset.partitions_def is not None
        assert asset.backfill_policy == dg.BackfillPolicy.single_run()
        assert asset.descriptions_by_key[key]
        node = asset.node_def
        assert isinstance(node, dg.OpDefinition), key
        assert node.pool == "duckdb_write", key


def test_schedule_requests_yesterday_and_starts_stopped():
    definitions = defs()
    schedule = definitions.get_repository_def().get_schedule_def("daily_pipeline_schedule")
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    context = dg.build_schedule_context(scheduled_execution_time=__import__("datetime").datetime(2026, 11, 21, 6, 0))
    requests = schedule.evaluate_tick(context).run_requests
    assert requests is not None
    assert [r.partition_key for r in requests] == ["2026-11-20"]


def test_the_daily_pipeline_runs_every_partitioned_pipeline_asset():
    """Every daily-partitioned asset but the file imports is part of the job the schedule, the
    CLI and backfills run (an asset left out is silently never materialized there)."""
    definitions = defs()
    job = definitions.resolve_job_def("daily_pipeline")
    selected = sorted(key.to_user_string() for key in job.asset_layer.selected_asset_keys)
    partitioned = sorted(
        spec.key.to_user_string()
        for spec in definitions.resolve_all_asset_specs()
        if spec.partitions_def is not None and spec.key.to_user_string() != "import_file"
    )
    assert selected == partitioned
    assert "email_analysis" in selected
