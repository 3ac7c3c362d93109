"""A worker of the cluster profile: `python -m leadflow.cluster_worker [celery worker options]`
on each host that runs pipelines.

It prepares this host's Dagster home with the cluster profile (PostgreSQL storage, so it sees
the runs the queue hands out) and starts a Celery worker on the `dagster` queue of the broker
(`LEADFLOW_CELERY_BROKER_URL`). The run launcher (dagster-celery's, leadflow/cluster_launcher.py)
sends each launched run there as one task; the worker executes the whole run in-process (one
run at a time by default: `--concurrency N` for more), its LLM calls going to the host pool of
`LEADFLOW_LLM_BASE_URLS`, its events written to PostgreSQL in batches. A worker that dies
mid-run answers the daemon's health checks no more, and the daemon marks its run failed.
"""

import os
import sys
from typing import Any

from dagster_celery.make_app import make_app
from dagster_celery.tasks import create_execute_job_task, create_resume_job_task

from leadflow.defs.resources import ClusterSettings, _secret
from leadflow.instance import CLUSTER_QUEUE, EVENT_BATCH_ENV, EVENT_BATCH_SIZE, prepare_dagster_home


def worker_app() -> Any:  # a celery.Celery (celery ships no type information)
    """The Celery app with dagster-celery's run tasks, on the configured broker."""
    broker = _secret(ClusterSettings.from_env().celery_broker_url)
    if not broker:
        raise SystemExit("set LEADFLOW_CELERY_BROKER_URL (the cluster profile's Celery broker)")
    # No result backend: nothing reads a run task's result (leadflow/cluster_launcher.py).
    app = make_app(app_args={"broker": broker, "task_default_queue": CLUSTER_QUEUE})
    create_execute_job_task(app)
    create_resume_job_task(app)
    return app


def main(argv: list[str]) -> None:
    prepare_dagster_home("cluster")
    # A run's events reach PostgreSQL in batches (one INSERT of many rows): bench.orchestration_overhead
    # measured half the CPU per partition of a range run (docs/scaling.md).
    os.environ.setdefault(EVENT_BATCH_ENV, str(EVENT_BATCH_SIZE))
    worker_app().worker_main(["worker", "-Q", CLUSTER_QUEUE, "--concurrency", "1", "--loglevel", "INFO", *argv])


if __name__ == "__main__":
    main(sys.argv[1:])
