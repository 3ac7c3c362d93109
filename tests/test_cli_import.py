"""Your own files through the command line: `leadflow sources list|add|remove` edit the user's
sources.yaml (never the bundled one), and `leadflow import` adds files as sources and
materializes exactly the days they cover, in one daily_pipeline run."""

import datetime
import os
from pathlib import Path

import dagster as dg
import pytest

from leadflow.cli import main
from leadflow.defs.constants import RANGE_END_TAG, RANGE_START_TAG
from leadflow.ingest import load_sources
from leadflow.paths import RESOURCES_DIR
from tests.conftest import SMALL_MODEL

MAIL_DAYS = ["Mon, 2 Jul 2001 09:15:00 -0500", "Mon, 2 Jul 2001 16:40:00 -0500", "Tue, 3 Jul 2001 10:05:00 -0500"]
FILE_DAY = datetime.date(2001, 7, 4)  # both files' modification date: the accounts' import date


@pytest.fixture
def clean_env(no_leadflow_env, tmp_path):
    """No leadflow setting from the environment; the data dir and working directory in tmp."""
    no_leadflow_env.setenv("LEADFLOW_HOME", str(tmp_path / "home"))
    no_leadflow_env.chdir(tmp_path)  # restored after the test (the CLI changes directory)
    return no_leadflow_env


def _files(folder: Path) -> tuple[Path, Path]:
    """A 3-message mbox over two days and a 3-row account export, both dated FILE_DAY."""
    folder.mkdir(parents=True, exist_ok=True)
    mbox = folder / "sales.mbox"
    mbox.write_text(
        "".join(
            f"From dana@initech.com Mon Jul  2 09:15:00 2001\nFrom: Dana Smith <dana@initech.com>\n"
            f"To: sales@example.com\nDate: {when}\nSubject: lunch plans {n}\nMessage-ID: <lunch-{n}@initech.com>\n\n"
            f"Hi, are we still on for lunch on Friday? Bring the kids' photos. Dana {n}\n\n"
            for n, when in enumerate(MAIL_DAYS)
        )
    )
    accounts = folder / "accounts.csv"
    accounts.write_text(
        "name,category_code,city,country_code\nInitech,software,Austin,USA\nGlobex,hardware,Springfield,USA\n"
    )
    noon = datetime.datetime(2001, 7, 4, 12, tzinfo=datetime.UTC).timestamp()
    for path in (mbox, accounts):
        os.utime(path, (noon, noon))
    return mbox, accounts


def test_sources_add_list_remove_edit_a_user_copy(clean_env, tmp_path, capsys):
    bundled = (RESOURCES_DIR / "sources.yaml").read_bytes()
    mbox, accounts = _files(tmp_path / "data")
    main(["sources", "list"])
    assert str(RESOURCES_DIR / "sources.yaml") in capsys.readouterr().out
    main(["sources", "add", str(mbox), str(accounts)])
    user = tmp_path / "home" / "sources.yaml"
    out = capsys.readouterr().out
    assert f"added sales.mbox (mbox, import_date {FILE_DAY}) to {user}" in out
    assert "added accounts.csv (csv_accounts" in out
    assert [s.name for s in load_sources(user)] == [
        "sample_jobs",
        "sample_emails",
        "sample_accounts",
        "sales.mbox",
        "accounts.csv",
    ]
    main(["sources", "remove", "sample_jobs", "sample_emails"])
    assert capsys.readouterr().out.count("removed sample_") == 2
    main(["sources", "list"])
    listed = capsys.readouterr().out
    assert str(user) in listed and "sample_jobs " not in listed and "sales.mbox" in listed
    with pytest.raises(SystemExit, match="already a source"):
        main(["sources", "add", str(mbox)])
    with pytest.raises(SystemExit, match="no source named 'nope'"):
        main(["sources", "remove", "nope"])
    assert (RESOURCES_DIR / "sources.yaml").read_bytes() == bundled


def test_import_materializes_exactly_the_days_of_an_mbox_and_a_csv(clean_env, tmp_path, model_dir, capsys):
    """End to end, one real run on the embedded engine; kept cheap: three personal emails, two
    accounts, no small-model classification (LEADFLOW_LLM_MIN_SCORE above 100) and no dossier
    (LEADFLOW_DOSSIER_THRESHOLD above 100), so the models mostly embed (the golden sets included)."""
    sources = tmp_path / "sources.yaml"
    sources.write_text("sources: []\n")
    for name, value in {
        "LEADFLOW_SOURCES_PATH": str(sources),
        "LEADFLOW_MODEL_DIR": str(model_dir),
        "LEADFLOW_DOSSIER_MODEL": SMALL_MODEL,
        "LEADFLOW_LLM_MIN_SCORE": "101",
        "LEADFLOW_DOSSIER_THRESHOLD": "101",
    }.items():
        clean_env.setenv(name, value)
    mbox, accounts = _files(tmp_path / "data")
    main(["import", str(mbox), str(accounts)])
    out = capsys.readouterr().out

    assert [(s.name, s.format, s.import_date) for s in load_sources(sources)] == [
        ("sales.mbox", "mbox", FILE_DAY),
        ("accounts.csv", "csv_accounts", FILE_DAY),
    ]
    assert "added sales.mbox (mbox): 3 signals, 0 quarantined, 2001-07-02..2001-07-03 (2 day(s))" in out
    assert "added accounts.csv (csv_accounts): 2 signals, 0 quarantined, 2001-07-04..2001-07-04 (1 day(s))" in out
    assert "--> materializing 2001-07-02..2001-07-04 (3 partition(s))" in out
    assert "=== leadflow import summary ===" in out and "signals read        : 5" in out
    days = {"2001-07-02", "2001-07-03", "2001-07-04"}
    with dg.DagsterInstance.from_config(str(tmp_path / "home" / "dagster")) as instance:  # the data home's
        [run] = instance.get_runs()
        assert (run.tags[RANGE_START_TAG], run.tags[RANGE_END_TAG]) == ("2001-07-02", "2001-07-04")
        for asset in ("raw_signals", "published_leads", "export"):
            assert instance.get_materialized_partitions(dg.AssetKey(asset)) == days, asset
    export = tmp_path / "home" / "exports" / "leads-2001-07-02_2001-07-04.csv"
    assert len(export.read_text(encoding="utf-8").splitlines()) >= 1 + 5  # header + one row per lead
