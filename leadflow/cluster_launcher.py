"""The cluster profile's run launcher: dagster-celery's, with a worker health check that works.

Dagster's run monitoring (`run_monitoring` in dagster.yaml, run by `dagster-daemon`) asks the
run launcher whether the worker of each STARTED run is alive and marks the run FAILED when it
is not, so a host that died mid-run leaves a failed run whose partitions can be launched again,
not one that shows STARTED forever. dagster-celery answers from the task's state in the result
backend, which cannot tell: the `rpc://` backend shows the state only to the process that sent
the task (every other process reads PENDING, which run monitoring takes for a dead worker), and
a stored state stays STARTED when the worker holding the task is killed. This launcher asks the
workers themselves over the broker (Celery's `query_task` broadcast): a run is alive while a
live worker holds its task. So no result backend is needed, and none is kept: nothing reads
the results, and the `rpc://` backend would leave a reply queue per launching process in RabbitMQ
holding every run's result, unread.
"""

from dagster import DagsterRun
from dagster._core.launcher import CheckRunHealthResult, WorkerStatus
from dagster_celery.launcher import CeleryRunLauncher
from dagster_celery.tags import DAGSTER_CELERY_TASK_ID_TAG

REPLY_TIMEOUT_S = 2.0  # how long the workers' answers are awaited; a busy worker's main process answers at once


class ClusterRunLauncher(CeleryRunLauncher):
    def _holders(self, task_id: str) -> list[str]:
        """The live workers that hold (run or have reserved) the task."""
        replies = self.celery.control.inspect(timeout=REPLY_TIMEOUT_S).query_task(task_id) or {}
        return sorted(worker for worker, tasks in replies.items() if task_id in tasks)

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        task_id = run.tags.get(DAGSTER_CELERY_TASK_ID_TAG)
        if task_id is None:  # launched a moment ago: the task id is tagged just after it is sent
            return CheckRunHealthResult(WorkerStatus.RUNNING, "the Celery task is being sent")
        holders = self._holders(task_id)
        if holders:
            return CheckRunHealthResult(WorkerStatus.RUNNING, f"Celery task {task_id} is on {', '.join(holders)}")
        return CheckRunHealthResult(
            WorkerStatus.FAILED, f"no live Celery worker holds task {task_id} (its worker died or was killed)"
        )

    def get_run_worker_debug_info(self, run: DagsterRun, include_container_logs: bool | None = True) -> str | None:
        """What the monitor adds to a failed run's message: the task and who holds it (dagster-celery's
        reads the result backend, which the cluster profile does without)."""
        task_id = run.tags.get(DAGSTER_CELERY_TASK_ID_TAG)
        return str(
            {"run_id": run.run_id, "celery_task_id": task_id, "held_by": self._holders(task_id) if task_id else []}
        )
