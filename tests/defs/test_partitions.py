"""The first daily partition is a setting (LEADFLOW_FIRST_PARTITION), read once when the
definitions load, shared by every pipeline asset, check and partitioned job; a bad value stops
the load with a plain message."""

import os
import subprocess
import sys

from leadflow.paths import PROJECT_ROOT

PROBE = """
import dagster as dg
from leadflow.definitions import defs
repo = defs().get_repository_def()
daily = [job.partitions_def for job in repo.get_all_jobs() if isinstance(job.partitions_def, dg.TimeWindowPartitionsDefinition)]
daily += [spec.partitions_def for check in repo.asset_checks_defs_by_key.values() for spec in check.check_specs]
starts = {str(partitions.start.date()) for partitions in daily}
first = next(job for job in repo.get_all_jobs() if job.name == "rollback_partition").partitions_def.get_first_partition_key()
print(sorted(starts), first)
"""


def _load(value: str) -> subprocess.CompletedProcess:
    env = os.environ | {"LEADFLOW_FIRST_PARTITION": value}
    return subprocess.run(
        [sys.executable, "-c", PROBE], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def test_the_first_partition_is_the_setting_everywhere():
    configured = _load("2001-07-02")
    assert configured.returncode == 0, configured.stderr
    assert configured.stdout.split("\n")[0] == "['2001-07-02'] 2001-07-02"


def test_a_malformed_first_partition_fails_the_load_plainly():
    broken = _load("July 2001")
    assert broken.returncode != 0
    assert "LEADFLOW_FIRST_PARTITION must be a date, YYYY-MM-DD; got 'July 2001'" in broken.stderr
