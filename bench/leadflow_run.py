"""Contender (b): leadflow with its defaults, materialized through its real Dagster job.

The job, assets and checks come from `leadflow.definitions.defs()`; only the resources are
re-bound to the benchmark's work directory (DuckDB file, LLM cache, sources.yaml), so the
user's `.leadflow/` data is never touched. The Dagster instance is a throwaway local one
(SQLite event log, like `make demo`'s).
"""

import contextlib
import datetime
import time
from pathlib import Path

import dagster as dg

from bench.instrument import (
    ClientProbe,
    DuckTimer,
    EngineProbe,
    Phase,
    TimedDuckDBResource,
    step_timings,
    union_seconds,
)
from bench.machine import CpuWatch
from leadflow.defs.constants import RANGE_END_TAG, RANGE_START_TAG
from leadflow.defs.resources import LLMResource, PipelineSettings
from leadflow.llm.metrics import summarize

CORE_ASSETS = ("raw_signals", "signal_embeddings", "email_analysis", "prefilter_scores", "dossiers")
QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


class Leadflow:
    def __init__(self, workdir: Path, model_dir: Path, sources_path: Path):
        from leadflow.definitions import defs

        base = defs()
        self.workdir = workdir
        self.sources_path = sources_path
        # Leadflow's settings as the CLI reads them (defaults + environment), in the benchmark's workdir.
        self.llm = LLMResource.from_env(model_dir=str(model_dir), cache_path=str(workdir / "llm_cache.sqlite"))
        self.duckdb = TimedDuckDBResource(database=str(workdir / "leadflow.duckdb"))
        self.pipeline = PipelineSettings.from_env(sources_path=str(sources_path))
        self.defs = dg.Definitions(
            assets=base.assets,
            asset_checks=base.asset_checks,
            jobs=base.jobs,
            resources={"duckdb": self.duckdb, "llm": self.llm, "pipeline": self.pipeline},
            executor=base.executor,
        )
        self.job = self.defs.resolve_job_def("daily_pipeline")
        self.asset_names = sorted(k.to_user_string() for k in self.defs.resolve_all_asset_keys())
        (workdir / "dagster").mkdir(parents=True, exist_ok=True)
        self.instance = dg.DagsterInstance.local_temp(str(workdir / "dagster"))
        self.client = self.llm.client()
        self.probe = ClientProbe(self.client)

    @property
    def settings(self):
        return self.llm.settings()

    def warm_models(self) -> dict:
        """Load every role's engine once (excluded from all contenders' timings)."""
        loads = {}
        backend = self.client.pool("prefilter").backends[0]
        for role in ("prefilter", "dossier", "embed"):
            model = self.client.model_chain(role)[0]
            started = time.perf_counter()
            if hasattr(backend, "engine"):
                backend.engine(model, embedding=role == "embed")
            loads[model] = round(time.perf_counter() - started, 3)
        return loads

    def materialize(self, first: datetime.date, last: datetime.date, phase: str, instance=None) -> dict:
        instance = instance or self.instance
        Phase.name = phase
        partition_key, tags = None, {}
        if first == last:
            partition_key = first.isoformat()
        else:
            tags = {RANGE_START_TAG: first.isoformat(), RANGE_END_TAG: last.isoformat()}
        watch = CpuWatch()
        with self.client.metrics.track() as recorder:
            started = time.perf_counter()
            result = self.job.execute_in_process(
                instance=instance,
                tags=tags,
                partition_key=partition_key,
                raise_on_error=False,
                run_config=QUIET_RUN_CONFIG,
            )
            wall = time.perf_counter() - started
        cpu = watch.stop()
        Phase.name = f"{phase}:after"
        records = list(recorder.records)
        failures = []
        succeeded = sorted({e.step_key for e in result.all_events if e.is_step_success and e.step_key})
        for event in result.all_events:
            if event.is_step_failure:
                error = getattr(event.event_specific_data, "error", None)
                failures.append({"step": event.step_key, "error": (error.message.strip()[:500] if error else "")})
        checks_failed = []
        with contextlib.suppress(Exception):
            checks_failed = [e.check_name for e in result.get_asset_check_evaluations() if not e.passed]
        errors: dict[str, int] = {}
        for rec in records:
            if rec.error:
                reason = rec.error.split(":", 1)[-1].strip()[:90]
                errors[f"{rec.role}/{rec.model}: {reason}"] = errors.get(f"{rec.role}/{rec.model}: {reason}", 0) + 1
        by_role = {
            role: summarize([r for r in records if r.role == role]) for role in sorted({r.role for r in records})
        }
        stages = self.probe.select(phase)
        llm_maps = [s for s in stages if s["op"] == "map_concurrent" and s["role"] in ("prefilter", "dossier")]
        embeds = [s for s in stages if s["op"] == "embed_many"]
        duck_s, duck_blocks = DuckTimer.total(phase)
        chat = EngineProbe.select(phase, kind="chat")
        emb = EngineProbe.select(phase, kind="embed")
        return {
            "phase": phase,
            "partitions": (first.isoformat(), last.isoformat()),
            "partition_count": (last - first).days + 1,
            "assets": self.asset_names,
            "success": result.success,
            # The work the figures rely on happened: every asset up to the dossiers succeeded
            # (a failed quality check that only holds back publishing does not void the timing).
            "core_ok": all(a in succeeded for a in CORE_ASSETS if a in self.asset_names),
            "steps_succeeded": succeeded,
            "run_id": result.run_id,
            "failures": failures,
            "checks_failed": checks_failed,
            "wall_s": round(wall, 3),
            "cpu": cpu,
            "dagster": step_timings(instance, result.run_id),
            "llm": summarize(records),
            "llm_by_role": by_role,
            "llm_errors": errors,
            # Time spent on answers that ended rejected (first try + repair on one model), per role.
            "llm_rejected_s": {
                role: round(sum(r.latency_s for r in records if r.role == role and not r.ok), 3)
                for role in sorted({r.role for r in records if not r.ok})
            },
            "hit_latency_us": _hit_latencies(records),
            "stages": {
                # Miss path: wall time of the LLM stages that reached the engine.
                "llm_stage_s": round(sum(s["wall_s"] for s in llm_maps if s["engine_calls"]), 3),
                "llm_stage_all_s": round(sum(s["wall_s"] for s in llm_maps), 3),
                "llm_stage_by_role_s": {
                    role: round(sum(s["wall_s"] for s in llm_maps if s["role"] == role and s["engine_calls"]), 3)
                    for role in ("prefilter", "dossier")
                },
                "llm_maps": [{k: v for k, v in s.items() if k not in ("t0", "t1", "phase", "op")} for s in llm_maps],
                "embed_s": round(union_seconds([(s["t0"], s["t1"]) for s in embeds]), 3),
                "embed_calls": len(embeds),
                "duckdb_s": round(duck_s, 3),
                "duckdb_blocks": duck_blocks,
            },
            "engine": engine_profile(chat, emb),
        }

    def run_stats(self, run_id: str) -> dict:
        """What the run wrote: signals, unique contents, small-model and dossier counts, buckets."""
        out: dict = {}
        queries = {
            "signals": "SELECT count(*) FROM prefilter_scores WHERE run_id = ?",
            "unique_content": "SELECT count(DISTINCT content_hash) FROM prefilter_scores WHERE run_id = ?",
            "llm_classified": "SELECT count(*) FILTER (llm_used) FROM prefilter_scores WHERE run_id = ?",
            "llm_classified_unique": "SELECT count(DISTINCT content_hash) FILTER (llm_used) FROM prefilter_scores WHERE run_id = ?",
            "dossier_leads": "SELECT count(*) FROM dossiers WHERE run_id = ?",
            "dossiers_written": "SELECT count(*) FILTER (dossier IS NOT NULL) FROM dossiers WHERE run_id = ?",
            "dossier_errors": "SELECT count(*) FILTER (error IS NOT NULL) FROM dossiers WHERE run_id = ?",
        }
        Phase.name = "report"
        with self.duckdb.get_connection() as conn:
            for name, sql in queries.items():
                try:
                    out[name] = conn.execute(sql, [run_id]).fetchone()[0]
                except Exception as exc:
                    out[name] = f"n/a ({type(exc).__name__})"
            try:
                out["buckets"] = dict(
                    conn.execute(
                        "SELECT bucket, count(*) FROM prefilter_scores WHERE run_id = ? GROUP BY ALL ORDER BY ALL",
                        [run_id],
                    ).fetchall()
                )
                out["dossier_unique"] = conn.execute(
                    """SELECT count(DISTINCT p.content_hash) FROM dossiers d JOIN prefilter_scores p
                       USING (partition_date, signal_id, run_id) WHERE d.run_id = ?""",
                    [run_id],
                ).fetchone()[0]
            except Exception as exc:
                out["buckets_error"] = f"{type(exc).__name__}: {exc}"[:200]
        return out


def _hit_latencies(records) -> dict:
    import numpy as np

    out = {}
    for tier in sorted({r.cache_tier for r in records if r.cache_tier}):
        values = [r.latency_s * 1e6 for r in records if r.cache_tier == tier]
        out[tier] = {
            "n": len(values),
            "p50": round(float(np.percentile(values, 50)), 1),
            "p95": round(float(np.percentile(values, 95)), 1),
        }
    return out


def engine_profile(chat: list[dict], emb: list[dict]) -> dict:
    """Engine-side time per model: prefill vs decode (summed over requests, so concurrent
    requests can add up to more than the wall time), tokens and rates."""
    import numpy as np

    models: dict[str, dict] = {}
    for model in sorted({e["model"] for e in chat}):
        rows = [e for e in chat if e["model"] == model]
        prompt_ms = sum(e["prompt_ms"] for e in rows)
        decode_ms = sum(e["predicted_ms"] for e in rows)
        prompt_n = sum(e["prompt_n"] for e in rows)
        decode_n = sum(e["predicted_n"] for e in rows)
        walls = [e["wall_s"] for e in rows]
        models[model] = {
            "requests": len(rows),
            "busy_wall_s": round(union_seconds([(e["t0"], e["t1"]) for e in rows]), 3),
            "prefill_s": round(prompt_ms / 1000, 3),
            "decode_s": round(decode_ms / 1000, 3),
            "prompt_tokens": prompt_n,
            "cached_prompt_tokens": sum(e["cache_n"] for e in rows),
            "completion_tokens": decode_n,
            "prefill_tok_s": round(prompt_n / (prompt_ms / 1000), 1) if prompt_ms else None,
            "decode_tok_s": round(decode_n / (decode_ms / 1000), 1) if decode_ms else None,
            "request_p50_s": round(float(np.percentile(walls, 50)), 3),
            "request_p95_s": round(float(np.percentile(walls, 95)), 3),
        }
    embed = None
    if emb:
        embed = {
            "batches": len(emb),
            "texts": sum(e["inputs"] for e in emb),
            "tokens": sum(e["prompt_n"] for e in emb),
            "busy_wall_s": round(union_seconds([(e["t0"], e["t1"]) for e in emb]), 3),
        }
        embed["texts_per_s"] = round(embed["texts"] / embed["busy_wall_s"], 1) if embed["busy_wall_s"] else None
    return {"chat": models, "embed": embed}
