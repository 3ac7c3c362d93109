"""The Dagster instance of a data home: run, event and schedule storage, compute logs and
artifacts live in `$LEADFLOW_HOME/dagster` (DAGSTER_HOME), so two homes never share history
and nothing is written into the source tree.

Its dagster.yaml is rendered from one template (`leadflow/resources/dagster.yaml`: pools, run
queue limits, telemetry) plus the storage of a profile, and refreshed whenever it differs.
`python -m leadflow.instance` writes it and prints the folder (what `make ui` exports).
"""

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from leadflow.paths import RESOURCES_DIR, data_dir
from leadflow.storage.private import private_dir

TEMPLATE = RESOURCES_DIR / "dagster.yaml"
HEADER = f"# Written by leadflow (leadflow/instance.py) from {TEMPLATE.name}: edits here are overwritten.\n"


def local_storage(home: Path) -> dict[str, Any]:
    """SQLite run/event/schedule storage, artifacts and step logs, all in `home`: the stock
    SQLite storages' files (`storage: sqlite`'s layout), each storage keeping its engines
    (leadflow/instance_storage.py)."""
    folders = {
        "run_storage": ("Run", home / "history"),
        "event_log_storage": ("EventLog", home / "history" / "runs"),
        "schedule_storage": ("Schedule", home / "schedules"),
    }
    return {
        **{
            section: {
                "module": "leadflow.instance_storage",
                "class": f"KeptEngineSqlite{kind}Storage",
                "config": {"base_dir": str(folder)},
            }
            for section, (kind, folder) in folders.items()
        },
        **host_files(home),
    }


def host_files(home: Path) -> dict[str, Any]:
    """Artifacts and step logs in `home`."""
    return {
        "local_artifact_storage": {
            "module": "dagster._core.storage.root",
            "class": "LocalArtifactStorage",
            "config": {"base_dir": str(home)},
        },
        "compute_logs": {
            "module": "dagster._core.storage.local_compute_log_manager",
            "class": "LocalComputeLogManager",
            "config": {"base_dir": str(home / "compute_logs")},
        },
    }


def pooled_postgres_storage(config: dict[str, Any]) -> dict[str, Any]:
    """dagster-postgres's three storages, each keeping its connection (leadflow/instance_storage.py):
    without, every storage call opens a PostgreSQL connection of its own."""
    kinds = {"run_storage": "Run", "event_log_storage": "EventLog", "schedule_storage": "Schedule"}
    return {
        section: {"module": "leadflow.instance_storage", "class": f"PooledPostgres{kind}Storage", "config": config}
        for section, kind in kinds.items()
    }


def cluster_instance(home: Path) -> dict[str, Any]:
    """Several machines, one history (docs/scaling.md): run, event and schedule storage on
    PostgreSQL, runs taken from the queue (`dagster-daemon`) to Celery workers on RabbitMQ
    (`python -m leadflow.cluster_worker` on each host), runs whose worker died failed by the
    daemon's run monitoring, and the template's run and pool limits widened to the cluster's
    slots (`concurrent_runs`); step logs and artifacts stay on each host. The URLs are named, never written: each process reads them from its environment."""
    from leadflow.defs.resources import ClusterSettings, _secret, env_var

    settings, fields = ClusterSettings.from_env(), ClusterSettings.model_fields
    url = _secret(settings.dagster_postgres_url)
    if not url.startswith(INSTANCE_URL_SCHEME):  # SQLAlchemy 2.1 takes a bare postgresql:// for psycopg 3
        raise ValueError(f"{env_var(fields['dagster_postgres_url'])} must be a {INSTANCE_URL_SCHEME}... URL")
    concurrency = yaml.safe_load(TEMPLATE.read_text(encoding="utf-8"))["concurrency"]
    slots = settings.concurrent_runs
    concurrency["runs"] = {
        "max_concurrent_runs": slots,
        "tag_concurrency_limits": [{"key": BACKFILL_TAG, "limit": slots}],
    }
    concurrency["pools"]["default_limit"] = slots
    return {
        **host_files(home),
        **pooled_postgres_storage({"postgres_url": {"env": env_var(fields["dagster_postgres_url"])}}),
        "run_launcher": {
            "module": "leadflow.cluster_launcher",
            "class": "ClusterRunLauncher",
            "config": {
                "default_queue": CLUSTER_QUEUE,
                "broker": {"env": env_var(fields["celery_broker_url"])},
                "backend": None,  # no result backend (leadflow/cluster_launcher.py)
            },
        },
        "concurrency": concurrency,
        # The daemon fails a STARTED run whose worker is gone (leadflow/cluster_launcher.py asks
        # the workers) and frees the pool slots it held; a run waiting in the broker for a busy
        # worker is STARTING, so no start timeout; no resume: its range is launched again.
        "run_monitoring": {
            "enabled": True,
            "poll_interval_seconds": RUN_MONITOR_POLL_S,
            "start_timeout_seconds": 0,
            "max_resume_run_attempts": 0,
            "free_slots_after_run_end_seconds": RUN_MONITOR_POLL_S,
        },
    }


CLUSTER_QUEUE = "dagster"  # the Celery queue runs wait on (dagster-celery's default)
BACKFILL_TAG = "dagster/backfill"
RUN_MONITOR_POLL_S = 10  # how often the daemon checks the workers of started runs (Dagster's default: 120)
EVENT_BATCH_ENV = "DAGSTER_EVENT_BATCH_SIZE"  # Dagster stores a step's events in batches of this many (0: one by one)
EVENT_BATCH_SIZE = 1000
INSTANCE_URL_SCHEME = "postgresql+psycopg2://"  # dagster-postgres's driver (it issues psycopg2-only SQL)

# Profile name -> the instance sections it sets over the template (storage, launcher, ...).
PROFILES: dict[str, Callable[[Path], dict[str, Any]]] = {"local": local_storage, "cluster": cluster_instance}


def instance_settings(home: Path, profile: str = "local") -> dict[str, Any]:
    """The instance configuration of `home` under `profile`: the template, then the profile's sections."""
    if profile not in PROFILES:
        raise ValueError(f"unknown Dagster instance profile {profile!r}; known: {', '.join(PROFILES)}")
    return {**yaml.safe_load(TEMPLATE.read_text(encoding="utf-8")), **PROFILES[profile](home)}


def render_dagster_yaml(home: Path, profile: str = "local") -> str:
    return HEADER + yaml.safe_dump(instance_settings(home, profile), sort_keys=False)


def dagster_home() -> Path:
    """`$LEADFLOW_HOME/dagster`, owner-only like the data home around it."""
    return private_dir(data_dir() / "dagster")


def prepare_dagster_home(profile: str | None = None) -> Path:
    """Write (or refresh) the home's dagster.yaml and point DAGSTER_HOME at it for this process
    and its children; a DAGSTER_HOME set elsewhere is replaced, as history follows the data.
    `profile`: default the configured one (`LEADFLOW_INSTANCE_PROFILE`, else `local`)."""
    if profile is None:
        from leadflow.defs.resources import ClusterSettings

        profile = ClusterSettings.from_env().instance_profile
    home = dagster_home()
    config = home / "dagster.yaml"
    text = render_dagster_yaml(home, profile)
    if not config.is_file() or config.read_text(encoding="utf-8") != text:
        config.write_text(text, encoding="utf-8")
    os.environ["DAGSTER_HOME"] = str(home)
    return home


if __name__ == "__main__":
    print(prepare_dagster_home())
