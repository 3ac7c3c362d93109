"""`leadflow` command line: the demo, your own files (`import`, `sources`), exports of the
published leads (`export`), labels (`label`), the lead browser (`serve`), backfills, rollback,
health (`doctor`) and cache care.

The demo runs the real Dagster job in-process against the data home's instance
(`$LEADFLOW_HOME/dagster`, leadflow/instance.py), so its runs show up in `make ui`.
"""

import argparse
import getpass
import json
import logging
import sys
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

from leadflow.defs.constants import PARTITION_TAG
from leadflow.export.formats import FORMATS as EXPORT_FORMATS
from leadflow.ingest.sources import FORMATS, SourceConfigError
from leadflow.storage.labels import LABELS


def _instance():
    import dagster as dg

    from leadflow.instance import prepare_dagster_home

    prepare_dagster_home()
    return dg.DagsterInstance.get()


def _definitions():
    from leadflow.definitions import defs

    return defs()


def _signal_dates(sources_path, limit_emails_to_month: bool) -> tuple[list[date], tuple[date, date] | None]:
    """The import-date partitions and the email date range the demo materializes."""
    from leadflow.defs.partitions import daily_partitions
    from leadflow.ingest import load_sources
    from leadflow.ingest.placement import covered_days
    from leadflow.ingest.sources import import_date_of

    import_days: set[date] = set()
    email_days: Counter[date] = Counter()
    base_dir = Path(sources_path).parent
    for spec in load_sources(sources_path):
        if not spec.enabled:
            continue
        import_date = import_date_of(spec, base_dir)
        days = covered_days(spec, import_date, base_dir, daily_partitions.start.date()).days
        if days.pop(import_date, 0):
            import_days.add(import_date)
        email_days.update(days)
    if not email_days:
        return sorted(import_days), None
    if limit_emails_to_month:
        months: Counter[tuple[int, int]] = Counter()
        for day, count in email_days.items():
            months[(day.year, day.month)] += count
        busiest = months.most_common(1)[0][0]
        month = [d for d in email_days if (d.year, d.month) == busiest]
        return sorted(import_days), (min(month), max(month))
    return sorted(import_days), (min(email_days), max(email_days))


# Progress lines (INFO) but not Dagster's per-event DEBUG chatter.
QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


def _execute(instance, job_name: str, tags: dict[str, str], run_config: dict | None = None):
    """A run of the code location's job, created as the UI creates one (so it shows in the UI's
    timeline and the job's runs) and executed here (see `_finish`)."""
    from leadflow.runs import create_run

    return _finish(instance, create_run(instance, job_name, tags, {**QUIET_RUN_CONFIG, **(run_config or {})}))


def _finish(instance, run):
    """Execute a created run here; a failed run is recorded in `incidents` before the CLI exits
    with its reason."""
    from leadflow.defs.resources import DuckDBWarehouse
    from leadflow.defs.sensors import failure_reason, record_incidents
    from leadflow.runs import execute_created

    result = execute_created(instance, run)
    if not result.success:
        record_incidents(instance, DuckDBWarehouse.from_env().get_connection)
        raise SystemExit(
            f"run {result.run_id} of {run.job_name} failed (recorded in incidents; `make ui` has its logs): "
            f"{failure_reason(instance, result.run_id)}"
        )
    return result


def _announce(first: date, last: date) -> None:
    print(f"--> materializing {first}..{last} ({(last - first).days + 1} partition(s))", flush=True)


def _run(instance, first: date, last: date):
    """One daily_pipeline run over first..last (one partition, or a single-run range)."""
    from leadflow.runs import range_tags

    _announce(first, last)
    return _execute(instance, "daily_pipeline", range_tags(first, last))


def demo(args) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    started = time.perf_counter()
    instance = _instance()
    defs = _definitions()
    llm = defs.resources["llm"]
    print("--> checking models and engine (first run assembles and verifies the model files)", flush=True)
    client = llm.client()
    for report in client.health():
        print(
            f"    {report.kind} {report.endpoint}: {'ok' if report.ok else 'PROBLEMS'} "
            f"{', '.join(f'{m} {i.quantization}' for m, i in report.models.items())}"
        )
        for problem in report.problems:
            print(f"    ! {problem}")
    pipeline = defs.resources["pipeline"]
    import_days, email_range = _signal_dates(pipeline.sources_file(), limit_emails_to_month=not args.all)
    partitions = []
    for day in import_days:
        _run(instance, day, day)
        partitions.append((day, day))
    if email_range:
        _run(instance, *email_range)
        partitions.append(email_range)
    print_summary(defs, client, partitions, time.perf_counter() - started)


def _last_day() -> date:
    """The last complete day: the newest partition that exists (today's opens tomorrow)."""
    from leadflow.defs.partitions import daily_partitions

    return date.fromisoformat(daily_partitions.get_last_partition_key() or daily_partitions.start.date().isoformat())


def import_files(args) -> None:
    """Sources for the given files (added to the user's sources.yaml, so every later run reads
    them too), the days they cover found by a streaming parse, then ONE daily_pipeline run over
    those days (their first to last: the empty days between are cheap) and the summary."""
    from leadflow.defs.partitions import daily_partitions
    from leadflow.ingest import load_sources
    from leadflow.ingest.import_plan import plan_import
    from leadflow.ingest.source_file import add_sources

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    paths = [Path(p).expanduser().resolve() for p in args.paths]
    started = time.perf_counter()
    instance = _instance()
    defs = _definitions()
    pipeline = defs.resources["pipeline"]
    sources_file = pipeline.editable_sources_file()
    last_day = _last_day()
    plan = plan_import(
        paths,
        load_sources(sources_file),
        sources_file.parent,
        daily_partitions.start.date(),
        last_day,
        date.fromisoformat(args.import_date) if args.import_date else None,
        pipeline.imports_folder(),
    )
    for path, why in plan.skipped:
        print(f"    skipped {path}: {why}")
    if not plan.sources:
        raise SystemExit("nothing to import")
    new = [planned.spec for planned in plan.sources if planned.new]
    if new:
        add_sources(sources_file, new)
    print(f"--> sources in {sources_file}:")
    for planned in plan.sources:
        days = sorted(planned.coverage.days)
        span = f"{days[0]}..{days[-1]} ({len(days)} day(s))" if days else "no dated signal"
        print(
            f"    {'added' if planned.new else 'known'} {planned.spec.name} ({planned.spec.format}): "
            f"{planned.coverage.signals} signals, {planned.coverage.quarantined} quarantined, {span}"
        )
    if plan.later(last_day):
        print(f"    {len(plan.later(last_day))} day(s) after {last_day} are left to the daily schedule")
    days = plan.days(last_day)
    if not days:
        print("no signal falls in a partition that exists yet: nothing to materialize")
        return
    partitions = (days[-1] - days[0]).days + 1
    if partitions > len(days):
        print(
            f"    one run over {days[0]}..{days[-1]}: {len(days)} of its {partitions} days hold this import's signals"
        )
    client = defs.resources["llm"].client()
    _run(instance, days[0], days[-1])
    print_summary(defs, client, [(days[0], days[-1])], time.perf_counter() - started, title="import")


def sources_cmd(args) -> None:
    from leadflow.defs.resources import PipelineSettings
    from leadflow.ingest import load_sources
    from leadflow.ingest.import_plan import new_source
    from leadflow.ingest.source_file import add_sources, remove_source

    pipeline = PipelineSettings.from_env()
    if args.action == "list":
        path = pipeline.sources_file()
        print(f"{path}:")
        for spec in load_sources(path):
            where = path.parent / spec.path
            print(
                f"  {spec.name:24s} {spec.format:12s} {'enabled ' if spec.enabled else 'disabled'} "
                f"import_date={spec.import_date or 'file date'} {spec.path}{'' if where.exists() else '  (missing)'}"
            )
        return
    path = pipeline.editable_sources_file()
    if args.action == "remove":
        for name in args.targets:
            gone = remove_source(path, name)
            print(f"removed {gone.name} ({gone.path}) from {path}")
        return
    taken = {spec.name for spec in load_sources(path)}
    specs = []
    for target in args.targets:
        day = date.fromisoformat(args.import_date) if args.import_date else None
        spec = new_source(Path(target).expanduser(), taken, _last_day(), day, args.name, args.format)
        specs.append(spec)
        taken.add(spec.name)
    add_sources(path, specs)
    for spec in specs:
        print(f"added {spec.name} ({spec.format}, import_date {spec.import_date}) to {path}")


def export_cmd(args) -> None:
    from leadflow.defs.resources import DuckDBWarehouse
    from leadflow.export.formats import write_export
    from leadflow.export.leads import published_leads

    since = date.fromisoformat(args.since) if args.since else None
    with DuckDBWarehouse.from_env().get_connection() as conn:
        leads = published_leads(conn, since=since)
    written = write_export(leads, args.format, Path(args.output).expanduser())
    skipped = f"; {written.skipped} lead(s) without a company or filtered left out" if written.skipped else ""
    print(f"{written.rows} row(s) of {len(leads)} published lead(s) written to {written.path} ({args.format}{skipped})")


def _suggest_labels(n: int) -> None:
    """The leads whose label would teach the scorer most (`leadflow.scoring.feedback.suggest`)."""
    from leadflow.defs.resources import DuckDBWarehouse, PipelineSettings
    from leadflow.scoring.feedback import suggest
    from leadflow.storage.connections import WarehouseMissing, waiting_connection

    try:
        warehouse = DuckDBWarehouse.from_env()
        with waiting_connection(warehouse.database, read_only=True, lease_url=warehouse.lease_url()) as conn:
            leads = suggest(conn, n, PipelineSettings.from_env().thresholds())
    except (ValueError, WarehouseMissing) as exc:
        raise SystemExit(f"leadflow label: {exc}") from None
    if not len(leads):
        print("nothing to suggest: no published, unlabelled posting")
        return
    print(f"{len(leads)} lead(s) whose label would teach the scorer most (cheap score nearest the warm boundary):")
    for lead in leads.itertuples():
        print(f"  {lead.signal_id}  {lead.cheap_score:5.1f}  {lead.bucket:8s}  {str(lead.title)[:70]}")
    print("label one with: leadflow label SIGNAL_ID good|bad")


def label_cmd(args) -> None:
    """One lead judged good or bad, or a file of such labels, stored in the warehouse's `labels`
    table (history kept). A write during a pipeline run waits for the run's writer lock."""
    from leadflow.defs.resources import DuckDBWarehouse
    from leadflow.ingest.label_file import LabelFileError, Reject, read_label_file
    from leadflow.storage.connections import WarehouseMissing, waiting_connection
    from leadflow.storage.labels import Label, LabelError, unknown_signals, write_labels

    if args.suggest is not None:
        _suggest_labels(args.suggest)
        return
    try:
        if args.file:
            read = read_label_file(Path(args.file).expanduser(), labeled_by=args.by)
            numbered = read.labels
        else:
            numbered = [(0, Label(args.signal_id, args.verdict, "cli", labeled_by=args.by, note=args.note))]
        warehouse = DuckDBWarehouse.from_env()
        with waiting_connection(warehouse.database, lease_url=warehouse.lease_url()) as conn:
            unknown = unknown_signals(conn, (label.signal_id for _, label in numbered))
            rejects = [*read.rejects] if args.file else []
            rejects += [
                Reject(line, label.signal_id, "no signal with this id")
                for line, label in numbered
                if label.signal_id in unknown
            ]
            if unknown and not args.file:
                raise LabelError(f"no signal with id {args.signal_id} (see the `leads` view or an export for ids)")
            written = write_labels(conn, [label for _, label in numbered if label.signal_id not in unknown])
    except (LabelError, LabelFileError, WarehouseMissing) as exc:
        raise SystemExit(f"leadflow label: {exc}") from None
    print(f"{written.written} label(s) written, {written.unchanged} unchanged (already the signal's label)")
    for reject in sorted(rejects, key=lambda r: r.line):
        print(f"  rejected line {reject.line} ({reject.signal_id or 'no signal_id'}): {reject.reason}")
    if rejects:
        raise SystemExit(f"leadflow label: {len(rejects)} row(s) of {args.file} rejected, the others stored")


def serve_cmd(args) -> None:
    """The lead browser over the published views, on 127.0.0.1, until Ctrl-C."""
    from leadflow.browser.app import BrowserSettings, new_token, serve
    from leadflow.defs.resources import DuckDBWarehouse

    warehouse = DuckDBWarehouse.from_env()
    settings = BrowserSettings(
        database=warehouse.database, labeled_by=args.by, token=new_token(), lease_url=warehouse.lease_url()
    )

    def announce(address: str) -> None:
        print(f"lead browser: open {address}  (labels by {args.by}; Ctrl-C stops it)", flush=True)

    try:
        serve(settings, args.port, announce)
    except OSError as exc:  # the port is taken, or not ours to bind
        raise SystemExit(f"leadflow serve: cannot listen on 127.0.0.1:{args.port}: {exc.strerror}") from None


def print_summary(defs, client, partitions, wall_s: float, title: str = "demo") -> None:
    from leadflow.defs.metadata import hide_email_text

    duckdb_resource = defs.resources["duckdb"]
    where = " OR ".join("partition_date BETWEEN ? AND ?" for _ in partitions)
    params = [d for pair in partitions for d in pair]
    with duckdb_resource.get_connection() as conn:

        def one(sql):
            return conn.execute(sql.format(where=where), params).fetchone()[0]

        signals = one("SELECT count(*) FROM raw_signals WHERE {where}")
        quarantined = one("SELECT count(*) FROM quarantined_signals WHERE {where}")
        buckets = conn.execute(
            f"SELECT bucket, count(*) FROM leads WHERE {where} GROUP BY bucket ORDER BY min(final_score) DESC", params
        ).fetchall()
        dossiers = one("SELECT count(*) FROM published_dossiers WHERE dossier IS NOT NULL AND ({where})")
        top = conn.execute(
            f"SELECT kind, title, final_score, bucket FROM leads WHERE {where} ORDER BY final_score DESC LIMIT 5",
            params,
        ).df()
    if defs.resources["pipeline"].redact_email_text:
        top = hide_email_text(top)
    llm = client.metrics.lifetime.summary()
    print(f"\n=== leadflow {title} summary ===")
    print(f"partitions          : {', '.join(f'{a}..{b}' if a != b else str(a) for a, b in partitions)}")
    print(f"signals read        : {signals}")
    print(f"quarantined         : {quarantined}")
    print("leads per bucket    : " + ", ".join(f"{b}={n}" for b, n in buckets))
    print(f"dossiers written    : {dossiers}")
    print(
        f"LLM requests        : {llm['requests']} ({llm['llm_calls']} engine calls, {llm['cache_hits']} cache hits "
        f"{json.dumps(llm['cache_hits_by_tier'])}, hit rate {llm['cache_hit_rate']:.0%})"
    )
    print(f"models              : {', '.join(llm['models'])}")
    if llm["latency_p50_s"] is not None:
        print(
            f"engine latency      : p50 {llm['latency_p50_s']:.2f}s, p95 {llm['latency_p95_s']:.2f}s, "
            f"{llm['tokens_per_s']} tokens/s decoded"
        )
    print(f"wall time           : {wall_s:.1f}s")
    print(f"DuckDB file         : {duckdb_resource.database}")
    print("top leads           :")
    for lead in top.itertuples():
        print(f"  {lead.final_score:6.1f} {lead.bucket:9s} {lead.title[:70]}")
    print("Open the UI with `make ui` (http://127.0.0.1:3000) to see lineage, metadata and checks.")


def doctor(args) -> None:
    from leadflow.defs.resources import LLMResource
    from leadflow.llm.types import LLMError

    client = LLMResource.from_env().client()
    ok = True
    for report in client.health():
        ok &= report.ok
        print(f"{report.kind:8s} {report.endpoint} {report.version} -> {'ok' if report.ok else 'FAILED'}")
        for name, info in report.models.items():
            print(f"    {name}: digest {info.digest[:19]} quantization {info.quantization or '?'}")
        for problem in report.problems:
            print(f"    ! {problem}")
    if ok and args.probe:
        for role in ("prefilter", "dossier"):
            started = time.perf_counter()
            try:
                response = client.probe(role)
            except LLMError as exc:
                ok = False
                print(f"one-token probe of {role}: FAILED: {exc}")
                continue
            print(
                f"one-token probe of {role} ({response.model}): {response.text!r} in {time.perf_counter() - started:.2f}s"
            )
    sys.exit(0 if ok else 1)


def backfill(args) -> None:
    """A date range of the daily pipeline as one Dagster backfill (the UI's Backfills page lists
    it): one single run, or runs of --chunk-days each, executed here in order.

    Re-running a killed backfill repeats no LLM call: every answer is written to the
    persistent cache the moment it validates.
    """
    from leadflow import runs

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    instance = _instance()
    first, last = date.fromisoformat(args.start), date.fromisoformat(args.end)
    chunk = timedelta(days=args.chunk_days) if args.chunk_days else (last - first) + timedelta(days=1)
    ranges = []
    while first <= last:
        chunk_end = min(first + chunk - timedelta(days=1), last)
        ranges.append((first, chunk_end))
        first = chunk_end + timedelta(days=1)
    started = time.perf_counter()
    with runs.backfill(instance, "daily_pipeline", ranges, QUIET_RUN_CONFIG) as planned:
        for run, (chunk_first, chunk_last) in zip(planned, ranges, strict=True):
            _announce(chunk_first, chunk_last)
            _finish(instance, run)
    print(f"backfill {args.start}..{args.end} done in {time.perf_counter() - started:.1f}s")


def rollback_cmd(args) -> None:
    """A run of the rollback_partition job for the day (so the UI lists it), then what it restored."""
    import dagster as dg

    from leadflow.defs.jobs import restored_version_text

    day = date.fromisoformat(args.date).isoformat()
    config = {"ops": {"rollback_published_version": {"config": {"note": args.note}}}}
    result = _execute(_instance(), "rollback_partition", {PARTITION_TAG: day}, config)
    [observation] = [
        event.asset_observation_data.asset_observation
        for event in result.all_events
        if event.event_type == dg.DagsterEventType.ASSET_OBSERVATION
    ]
    versions = {key: entry.value for key, entry in observation.metadata.items()}
    print(restored_version_text(day, versions["rollback/from_version"], versions["rollback/restored_version"]))


def cache(args) -> None:
    from leadflow.defs.resources import LLMResource

    tiered = LLMResource.from_env().client().cache
    assert tiered is not None  # the factory always builds one, if with no tiers
    if args.action == "stats":
        print(json.dumps(tiered.stats(), indent=2))
    elif args.action == "clear":
        print(json.dumps(tiered.clear(args.kind), indent=2))
    else:
        print(json.dumps(tiered.expire(), indent=2))


def usage_cmd(args) -> None:
    """Engine tokens, cache-replayed tokens (saved, not spent) and their hosted-model cost."""
    from leadflow.storage.usage import usage_report

    with _definitions().resources["duckdb"].get_connection() as conn:
        report = usage_report(conn, args.runs, args.run)
    if report.empty:
        print("no LLM usage recorded yet")
        return
    report = report.assign(run_id=report["run_id"].str[:8])
    print(report.drop(columns=["started"]).to_string(index=False, float_format=lambda v: f"{v:.6f}"))
    engine = int(report["tokens_in"].sum() + report["tokens_out"].sum())
    replayed = int(report["replayed_in"].sum() + report["replayed_out"].sum())
    print(
        f"total: {engine} engine tokens (hosted cost {report['hosted_cost'].sum():.6f}); {replayed} tokens replayed "
        f"from the cache, not spent (hosted cost saved {report['replayed_cost'].sum():.6f})"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="leadflow", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_demo = sub.add_parser("demo", help="materialize the pipeline over the bundled samples and print a summary")
    p_demo.add_argument("--all", action="store_true", help="all sample data (the whole email backlog), not a slice")
    p_demo.set_defaults(func=demo)
    p_doc = sub.add_parser("doctor", help="check backends and models")
    p_doc.add_argument("--probe", action="store_true", help="also send a one-token request")
    p_doc.set_defaults(func=doctor)
    p_back = sub.add_parser("backfill", help="materialize a date range (single run, or chunked runs)")
    p_back.add_argument("start", help="first partition, YYYY-MM-DD")
    p_back.add_argument("end", help="last partition, YYYY-MM-DD")
    p_back.add_argument("--chunk-days", type=int, default=0, help="days per run (0 = one run for the range)")
    p_back.set_defaults(func=backfill)
    p_roll = sub.add_parser("rollback", help="restore the previously published version of a partition")
    p_roll.add_argument("--date", required=True, help="partition, YYYY-MM-DD")
    p_roll.add_argument("--note", default="manual rollback from the CLI")
    p_roll.set_defaults(func=rollback_cmd)
    p_import = sub.add_parser(
        "import", help="add files (or folders) as sources and materialize exactly the days they cover, in one run"
    )
    p_import.add_argument(
        "paths", nargs="+", help="mbox, maildir folder, .eml, jobs .jsonl, accounts .csv, or a folder"
    )
    p_import.add_argument(
        "--import-date", help="date of undated records (YYYY-MM-DD); default: the file's date, at most yesterday"
    )
    p_import.set_defaults(func=import_files)
    p_src = sub.add_parser("sources", help="list, add or remove signal sources (the user's sources.yaml)")
    p_src.add_argument("action", choices=["list", "add", "remove"])
    p_src.add_argument("targets", nargs="*", help="add: files or maildir folders; remove: source names")
    p_src.add_argument("--name", help="add: the source's name (default: the file name)")
    p_src.add_argument("--format", choices=FORMATS, help="add: the format, when detection would get it wrong")
    p_src.add_argument("--import-date", help="add: date of undated records (YYYY-MM-DD)")
    p_src.set_defaults(func=sources_cmd)
    p_exp = sub.add_parser("export", help="published leads with account, explanation and dossier, to a file")
    p_exp.add_argument("--format", required=True, choices=EXPORT_FORMATS)
    p_exp.add_argument("--output", required=True, help="file to write")
    p_exp.add_argument("--since", help="only leads whose signal date is on or after YYYY-MM-DD")
    p_exp.set_defaults(func=export_cmd)
    p_label = sub.add_parser(
        "label", help="judge a lead good or bad (or a CSV file of such labels); --suggest N: which to judge"
    )
    p_label.add_argument("signal_id", nargs="?", help="the lead's signal id (the `leads` view, an export)")
    p_label.add_argument("verdict", nargs="?", choices=LABELS, help="good or bad")
    p_label.add_argument(
        "--file", help="a CSV of labels: signal_id, label, and optionally labeled_by, labeled_at, note"
    )
    p_label.add_argument("--by", default=getpass.getuser(), help="who judged (default: your user name)")
    p_label.add_argument("--note", default="", help="why, in a few words")
    p_label.add_argument(
        "--suggest", type=int, metavar="N", help="list the N leads whose label would teach the scorer most"
    )
    p_label.set_defaults(func=label_cmd)
    p_serve = sub.add_parser("serve", help="the lead browser: published leads, dossiers and good/bad labels")
    p_serve.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (0 = any free port)")
    p_serve.add_argument("--by", default=getpass.getuser(), help="who the labels given there are by")
    p_serve.set_defaults(func=serve_cmd)
    p_cache = sub.add_parser("cache", help="response cache: stats, clear, expire")
    p_cache.add_argument("action", choices=["stats", "clear", "expire"])
    p_cache.add_argument("--kind", choices=["classification", "dossier", "embedding"], default=None)
    p_cache.set_defaults(func=cache)
    p_usage = sub.add_parser("usage", help="the token and cost ledger: per run, partitions and stage")
    p_usage.add_argument("--runs", type=int, default=5, help="the latest N runs (default 5)")
    p_usage.add_argument("--run", default=None, help="one run id")
    p_usage.set_defaults(func=usage_cmd)
    args = parser.parse_args(argv)
    if args.func is sources_cmd and args.action != "list" and not args.targets:
        parser.error(f"sources {args.action} needs at least one {'file' if args.action == 'add' else 'name'}")
    if (
        args.func is label_cmd
        and [bool(args.signal_id and args.verdict), bool(args.file), args.suggest is not None].count(True) != 1
    ):
        parser.error("label needs SIGNAL_ID good|bad, --file FILE or --suggest N")
    try:
        args.func(args)
    except SourceConfigError as exc:
        raise SystemExit(f"leadflow {args.command}: {exc}") from None


if __name__ == "__main__":
    main()
