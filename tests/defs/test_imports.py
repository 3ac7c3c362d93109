"""The imports folder: a dropped file becomes a dynamic partition, is validated, then runs
through the daily pipeline once."""

import shutil

import dagster as dg

from leadflow.defs.constants import RANGE_START_TAG
from leadflow.defs.imports import IMPORT_FILES, import_file, import_folder_sensor
from leadflow.defs.resources import PipelineSettings
from tests.defs.conftest import SAMPLES, slice_mbox


def test_a_dropped_mbox_is_registered_validated_and_run_once(tmp_path):
    folder = tmp_path / "imports"
    folder.mkdir()
    slice_mbox(folder / "backlog.mbox", 6)
    (folder / "notes.txt").write_text("not an import")  # ignored: unknown extension
    pipeline = PipelineSettings(imports_dir=str(folder))
    with dg.instance_for_test() as instance:
        with dg.build_sensor_context(instance=instance, resources={"pipeline": pipeline}) as context:
            first = import_folder_sensor(context)
        assert isinstance(first, dg.SensorResult) and first.run_requests is not None
        assert [r.partition_key for r in first.run_requests] == ["backlog.mbox"]
        assert first.run_requests[0].job_name == "import_file_job"
        instance.add_dynamic_partitions(IMPORT_FILES, ["backlog.mbox"])  # what the daemon does
        result = dg.materialize(
            [import_file], partition_key="backlog.mbox", instance=instance, resources={"pipeline": pipeline}
        )
        assert result.success
        metadata = result.get_asset_materialization_events()[0].materialization.metadata
        signals, quarantined = metadata["signals"].value, metadata["quarantined"].value
        assert isinstance(signals, int) and isinstance(quarantined, int)
        assert signals + quarantined == 6
        first_date, last_date = metadata["first_date"].value, metadata["last_date"].value
        assert isinstance(first_date, str) and isinstance(last_date, str)
        assert first_date <= last_date

        with dg.build_sensor_context(instance=instance, resources={"pipeline": pipeline}) as context:
            second = import_folder_sensor(context)
        assert isinstance(second, dg.SensorResult) and second.run_requests is not None
        pipeline_runs = [r for r in second.run_requests if r.job_name == "daily_pipeline"]
        assert len(pipeline_runs) == 1 and second.dynamic_partitions_requests == []
        tags = pipeline_runs[0].tags
        assert tags[RANGE_START_TAG] == first_date
        assert pipeline_runs[0].run_key == "import-pipeline-backlog.mbox"  # Dagster runs a run key once

        shutil.copy(SAMPLES / "crunchbase_sample.csv", folder / "accounts.csv")
        with dg.build_sensor_context(instance=instance, resources={"pipeline": pipeline}) as context:
            third = import_folder_sensor(context)
        assert isinstance(third, dg.SensorResult) and third.run_requests is not None
        assert [r.partition_key for r in third.run_requests if r.job_name == "import_file_job"] == ["accounts.csv"]
