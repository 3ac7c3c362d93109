"""The Dagster instance follows the data home: each LEADFLOW_HOME has its own run history,
step logs and settings (rendered from the one template), nothing of it in the source tree."""

import dagster as dg
import yaml

from leadflow.instance import TEMPLATE, prepare_dagster_home
from leadflow.paths import PROJECT_ROOT


@dg.op
def say_hello(context: dg.OpExecutionContext) -> None:
    print("hello from a step")  # captured by the compute log manager
    context.log.info("said hello")


@dg.job
def hello():
    say_hello()


def _home(monkeypatch, folder):
    monkeypatch.setenv("LEADFLOW_HOME", str(folder))
    monkeypatch.setenv("DAGSTER_HOME", str(PROJECT_ROOT))  # set elsewhere (as the Makefile used to): replaced
    return prepare_dagster_home()


def test_two_data_homes_never_share_history(tmp_path, monkeypatch):
    home_a = _home(monkeypatch, tmp_path / "a")
    assert home_a == tmp_path / "a" / "dagster"
    with dg.DagsterInstance.get() as instance:
        result = hello.execute_in_process(instance=instance)
        assert result.success
        assert [run.run_id for run in instance.get_runs()] == [result.run_id]
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 1  # the template's pools
    logs = [path for path in (home_a / "compute_logs").rglob("*") if path.is_file()]
    assert any("hello from a step" in path.read_text(errors="replace") for path in logs)
    assert (home_a / "history" / "runs.db").is_file()

    home_b = _home(monkeypatch, tmp_path / "b")
    with dg.DagsterInstance.get() as instance:
        assert instance.get_runs() == []
    every_path = yaml.safe_dump(yaml.safe_load((home_b / "dagster.yaml").read_text()))
    assert str(tmp_path / "b" / "dagster") in every_path and str(PROJECT_ROOT) not in every_path


def test_the_rendered_settings_are_the_template_plus_storage_and_are_refreshed(tmp_path, monkeypatch):
    home = _home(monkeypatch, tmp_path)
    written = yaml.safe_load((home / "dagster.yaml").read_text())
    template = yaml.safe_load(TEMPLATE.read_text())
    assert {key: written[key] for key in template} == template
    storages = {"run_storage", "event_log_storage", "schedule_storage"}
    assert set(written) - set(template) == storages | {"local_artifact_storage", "compute_logs"}
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: true\n")  # a stale or hand-edited file
    _home(monkeypatch, tmp_path)
    assert yaml.safe_load((home / "dagster.yaml").read_text()) == written


def test_the_storages_keep_the_stock_sqlite_files(tmp_path, monkeypatch):
    """The local profile's kept-engine storages (leadflow/instance_storage.py) write the files
    Dagster's own `storage: sqlite` writes: a home made by either reads the same history."""
    home = _home(monkeypatch, tmp_path)
    with dg.DagsterInstance.get() as instance:
        assert type(instance.event_log_storage).__name__ == "KeptEngineSqliteEventLogStorage"
        result = hello.execute_in_process(instance=instance)
        events = len(instance.all_logs(result.run_id))
    stock = tmp_path / "stock"
    stock.mkdir()
    (stock / "dagster.yaml").write_text(yaml.safe_dump({"storage": {"sqlite": {"base_dir": str(home)}}}))
    with dg.DagsterInstance.from_config(str(stock)) as instance:
        assert [run.run_id for run in instance.get_runs()] == [result.run_id]
        assert len(instance.all_logs(result.run_id)) == events > 0
