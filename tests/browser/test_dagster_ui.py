"""The Dagster UI over a real, demo-sized history, in headless Debian Chromium (Playwright):
`dg dev` started on a free port over its own data home, after two runs of the CLI on bundled
sample postings and accounts (a good two-day range, and a day whose records are mostly broken,
which fails its quarantine-rate gate). The lineage, an asset's partitions, a check's history day
by day (which day failed, and why), the two CLI backfills on the Backfills page, and a rollback
launched from the launchpad's partition picker to success; GraphQL asserts the same facts: every
run carries its code location, every check execution its partition, each backfill its
partitions, status and run, no placeholder value anywhere.

Kept cheap (~90 s of CI): no small-model classification and no dossier (thresholds above 100),
the 0.5B model in both roles, three partitions. `LEADFLOW_SCREENSHOTS=docs` refreshes the
README's screenshots (docs/ui-*.png).
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest
import yaml
from playwright.sync_api import Browser, Page, expect

from leadflow.defs.constants import PARTITION_TAG, RANGE_END_TAG, RANGE_START_TAG, RERUN_OF_TAG
from leadflow.defs.jobs import PIPELINE_ASSETS
from leadflow.paths import PROJECT_ROOT, RESOURCES_DIR
from leadflow.runs import LOCATION_NAME
from tests.browser.conftest import screenshot
from tests.conftest import SMALL_MODEL, seed_embeddings
from tests.defs.conftest import slice_jobs

FIRST = date(2026, 11, 18)  # LEADFLOW_FIRST_PARTITION: the broken day
GOOD = (date(2026, 11, 19), date(2026, 11, 20))  # the good run's range; its import date is the last day
GATE = "raw_signals_quarantine_rate"
WAIT_MS = 60_000  # a page or an assertion: the UI refreshes its data on its own timers
PLACEHOLDERS = {-1, -1.0}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _sources(root: Path) -> Path:
    """Sample postings and accounts on the good run's last day; on FIRST, a postings file whose
    records are mostly not JSON (quarantined: the gate fails that day)."""
    slice_jobs(root / "jobs.jsonl", positives=2, others=2)
    good_line = (root / "jobs.jsonl").read_text().splitlines()[0]
    (root / "broken.jsonl").write_text(good_line + "\n" + "{not json\n" * 3)
    sources = [
        {"name": "jobs", "format": "jsonl_jobs", "path": str(root / "jobs.jsonl"), "import_date": GOOD[1]},
        {"name": "broken_jobs", "format": "jsonl_jobs", "path": str(root / "broken.jsonl"), "import_date": FIRST},
        {
            "name": "accounts",
            "format": "csv_accounts",
            "path": str(RESOURCES_DIR / "samples" / "crunchbase_sample.csv"),
            "import_date": GOOD[1],
            "limit": 3,
        },
    ]
    (root / "sources.yaml").write_text(yaml.safe_dump({"sources": sources}))
    return root / "sources.yaml"


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "leadflow.cli", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def history(tmp_path_factory, model_dir, golden_email_embeddings) -> dict[str, Any]:
    """The data home after the CLI's two runs: the good range, then the broken day. Its LLM cache
    starts with the golden emails' embeddings (the typer the prefilter fits), no answer."""
    root = tmp_path_factory.mktemp("dagster-ui")
    seed_embeddings(golden_email_embeddings, root / "home" / "llm_cache.sqlite")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("LEADFLOW_", "DAGSTER_"))}
    env |= {
        "LEADFLOW_HOME": str(root / "home"),
        "LEADFLOW_SOURCES_PATH": str(_sources(root)),
        "LEADFLOW_MODEL_DIR": str(model_dir),
        "LEADFLOW_DOSSIER_MODEL": SMALL_MODEL,
        "LEADFLOW_LLM_MIN_SCORE": "101",
        "LEADFLOW_DOSSIER_THRESHOLD": "101",
        "LEADFLOW_FIRST_PARTITION": FIRST.isoformat(),
    }
    good = _cli(env, "backfill", GOOD[0].isoformat(), GOOD[1].isoformat())
    assert good.returncode == 0, good.stdout[-3000:] + good.stderr[-3000:]
    broken = _cli(env, "backfill", FIRST.isoformat(), FIRST.isoformat())
    assert broken.returncode == 1
    assert "of daily_pipeline failed (recorded in incidents" in broken.stderr, broken.stderr[-3000:]
    assert GATE in broken.stderr
    with duckdb.connect(str(root / "home" / "leadflow.duckdb"), read_only=True) as conn:
        [(job, partitions, error)] = conn.execute("SELECT job, partitions, error FROM incidents").fetchall()
    assert (job, partitions) == ("daily_pipeline", f"{FIRST}..{FIRST}") and GATE in error  # recorded by the CLI
    return {"env": env, "home": root / "home", "log": root / "dg-dev.log"}


@pytest.fixture(scope="module")
def ui(history) -> Iterator[str]:
    """`dg dev` over the data home's instance (what `make ui` runs), stopped with SIGINT."""
    port = _free_port()
    env = history["env"] | {"DAGSTER_HOME": str(history["home"] / "dagster")}
    with history["log"].open("w") as log:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "dg"), "dev", "--host", "127.0.0.1", "--port", str(port)],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            # dg dev stops its webserver, daemon and code server on SIGINT, which a parent
            # started in the background may have left ignored.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while not _location_loaded(url):
            assert process.poll() is None, history["log"].read_text()[-3000:]
            assert time.monotonic() < deadline, "dg dev did not load the code location in time"
            time.sleep(1)
        # What the first-visit dialog's Skip button does: the dialog, shown late on a busy
        # machine, would cover whichever page a test is on.
        assert _graphql(url, "mutation { setNuxSeen }")["setNuxSeen"] is True
        yield url
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


def _location_loaded(url: str) -> bool:
    try:
        data = _graphql(url, "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }")
    except (httpx.HTTPError, KeyError):
        return False
    entries = data["workspaceOrError"]["locationEntries"]
    return [(e["name"], e["loadStatus"]) for e in entries] == [(LOCATION_NAME, "LOADED")]


def _graphql(url: str, query: str, **variables: Any) -> dict[str, Any]:
    answer = httpx.post(f"{url}/graphql", json={"query": query, "variables": variables}, timeout=60).json()
    assert "errors" not in answer, json.dumps(answer["errors"])[:2000]
    return answer["data"]


RUNS = """query($filter: RunsFilter) { runsOrError(filter: $filter) { ... on Runs { results {
  runId pipelineName status tags { key value } repositoryOrigin { repositoryLocationName } } } } }"""
METADATA = """metadataEntries { label __typename
  ... on FloatMetadataEntry { floatValue } ... on IntMetadataEntry { intValue } }"""
ASSETS = f"""{{ assetNodes {{ assetKey {{ path }} partitionStats {{ numMaterialized numPartitions }}
  assetMaterializations(limit: 100) {{ partition {METADATA} }}
  assetChecksOrError {{ ... on AssetChecks {{ checks {{ name }} }} }} }} }}"""
EXECUTIONS = f"""query($key: AssetKeyInput!, $check: String!) {{
  assetCheckExecutions(assetKey: $key, checkName: $check, limit: 100) {{
    runId status partition evaluation {{ partition success {METADATA} }} }} }}"""


BACKFILLS = """{ partitionBackfillsOrError { ... on PartitionBackfills { results {
  id status isAssetBackfill partitionNames runs { runId status tags { key value } }
  assetBackfillData { assetBackfillStatuses { ... on AssetPartitionsStatusCounts {
    assetKey { path } numPartitionsTargeted numPartitionsMaterialized numPartitionsFailed numPartitionsInProgress
  } } } } } } }"""
BACKFILL_TAG = "dagster/backfill"


OBSERVATIONS = """query($day: String!) { assetOrError(assetKey: {path: ["published_leads"]}) { ... on Asset {
  assetObservations(partitions: [$day], limit: 10) { runId metadataEntries { label __typename
    ... on TextMetadataEntry { text } } } } } }"""


def _texts(entries: list[dict[str, Any]]) -> dict[str, str | None]:
    """Text metadata by label; a null entry (nothing to name) as None."""
    return {e["label"]: e.get("text") for e in entries if e["__typename"] in {"TextMetadataEntry", "NullMetadataEntry"}}


def _runs(url: str, **filters: Any) -> list[dict[str, Any]]:
    return _graphql(url, RUNS, filter=filters or None)["runsOrError"]["results"]


def _numbers(entries: list[dict[str, Any]]) -> list[Any]:
    return [
        e.get("floatValue", e.get("intValue"))
        for e in entries
        if e["__typename"] in {"FloatMetadataEntry", "IntMetadataEntry"}
    ]


def _days(first: date, last: date) -> set[str]:
    return {(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)}


def _tags(run: dict[str, Any]) -> dict[str, str]:
    return {tag["key"]: tag["value"] for tag in run["tags"]}


def test_graphql_runs_carry_their_code_location_and_check_executions_their_partition(ui):
    # The quality-gate sensor (running under dg dev) may have queued a safe re-run of the failed day.
    runs = _runs(ui)
    cli_runs = [run for run in runs if run["pipelineName"] == "daily_pipeline" and RERUN_OF_TAG not in _tags(run)]
    assert sorted(run["status"] for run in cli_runs) == ["FAILURE", "SUCCESS"]
    assert {run["repositoryOrigin"]["repositoryLocationName"] for run in runs} == {LOCATION_NAME}
    # What the job's Runs tab and the timeline ask for: the job's runs of this location.
    label = {"key": ".dagster/repository", "value": f"__repository__@{LOCATION_NAME}"}
    listed = {run["runId"] for run in _runs(ui, pipelineName="daily_pipeline", tags=[label])}
    assert {run["runId"] for run in runs if run["pipelineName"] == "daily_pipeline"} <= listed

    nodes = {"/".join(n["assetKey"]["path"]): n for n in _graphql(ui, ASSETS)["assetNodes"]}
    last_partition = datetime.now(UTC).date() - timedelta(days=1)  # today's day is still open
    raw = nodes["raw_signals"]
    assert raw["partitionStats"]["numPartitions"] == (last_partition - FIRST).days + 1
    materialized = {key: {m["partition"] for m in n["assetMaterializations"]} for key, n in nodes.items()}
    assert materialized["raw_signals"] == _days(FIRST, GOOD[1])
    assert materialized["published_leads"] == _days(*GOOD)  # the broken day never published
    for key, node in nodes.items():
        for materialization in node["assetMaterializations"]:
            assert materialization["partition"] in _days(FIRST, GOOD[1]), key
            assert not PLACEHOLDERS & set(_numbers(materialization["metadataEntries"])), key

    cli_ids = {run["runId"] for run in cli_runs}
    judged: dict[tuple[str, str], dict[str, bool]] = {}
    for key, node in nodes.items():
        for check in node["assetChecksOrError"].get("checks", []):
            variables = {"key": {"path": key.split("/")}, "check": check["name"]}
            for execution in _graphql(ui, EXECUTIONS, **variables)["assetCheckExecutions"]:
                if execution["runId"] not in cli_ids:
                    continue  # the sensor's safe re-run, maybe still in flight
                if execution["status"] == "EXECUTION_FAILED":  # planned on the broken day, stopped upstream
                    assert execution["partition"] == FIRST.isoformat() and execution["evaluation"] is None
                    continue
                assert execution["status"] in {"SUCCEEDED", "FAILED"}, (key, check, execution["status"])  # no SKIPPED
                assert execution["partition"] == execution["evaluation"]["partition"]
                assert not PLACEHOLDERS & set(_numbers(execution["evaluation"]["metadataEntries"])), check
                judged.setdefault((key, check["name"]), {})[execution["partition"]] = execution["evaluation"]["success"]
    every_check = {
        (key, check["name"]) for key, n in nodes.items() for check in n["assetChecksOrError"].get("checks", [])
    }
    good_days = _days(*GOOD)
    assert {pair for pair, days in judged.items() if good_days <= set(days)} == every_check  # each day of the range
    assert judged[("raw_signals", GATE)] == {FIRST.isoformat(): False, **dict.fromkeys(sorted(good_days), True)}
    for (key, _check), days in judged.items():
        assert set(days) <= _days(FIRST, GOOD[1]), key


def _settle(url: str) -> None:
    """Wait until no run is queued or running."""
    deadline = time.monotonic() + 180
    while {run["status"] for run in _runs(url)} - {"SUCCESS", "FAILURE", "CANCELED"}:
        assert time.monotonic() < deadline, "runs still in flight"
        time.sleep(1)


@pytest.fixture
def page(browser: Browser, ui) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1440, "height": 860})
    page = context.new_page()
    page.goto(f"{ui}/asset-groups")
    yield page
    context.close()


def test_the_ui_shows_the_lineage_partitions_and_which_day_failed_which_check(page, ui, tmp_path):
    for group in ("signals", "scoring", "quality", "publish"):  # the global lineage, by group
        expect(page.get_by_text(group, exact=True).first).to_be_visible(timeout=WAIT_MS)
    # Hide the asset sidebar (not the navigation), then "Expand all groups" (its shortcut, ⌥E): the
    # graph is laid out again with every asset and edge, fitted to the wider pane.
    sidebar = page.locator("button", has=page.get_by_role("img", name="panel_show_right"))
    sidebar.filter(has_not_text="navigation").click()
    page.keyboard.press("Alt+e")
    expect(page).to_have_url(re.compile(r"expanded=.*publish"), timeout=WAIT_MS)
    for asset in PIPELINE_ASSETS:
        expect(page.get_by_text(asset, exact=True).first).to_be_visible(timeout=WAIT_MS)
    page.get_by_role("img", name="zoom_out").click()  # the fit clips the top group's title
    page.wait_for_timeout(1000)  # the zoom animates
    screenshot(page, tmp_path, "ui-lineage.png")

    page.goto(f"{ui}/assets/prefilter_scores?view=partitions")
    expect(page.get_by_text("Materialized (2)")).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_text("Failed (1)")).to_be_visible(timeout=WAIT_MS)  # the broken day, never scored
    screenshot(page, tmp_path, "ui-partitions.png")

    _settle(ui)  # the quality-gate sensor's safe re-run of the broken day, if it is in flight
    page.goto(f"{ui}/assets/raw_signals?view=checks&checkDetail={GATE}")
    page.get_by_role("tab", name="Execution history").click()
    rows = page.locator("tbody tr")
    expect(rows.filter(has_text=FIRST.isoformat()).filter(has_text="Failed").first).to_be_visible(timeout=WAIT_MS)
    for day in _days(*GOOD):
        expect(rows.filter(has_text=day).first).to_contain_text("Passed")
    screenshot(page, tmp_path, "ui-check-history.png")

    page.get_by_role("tab", name="Partitions").last.click()  # the check's, after the asset's own tab
    page.get_by_text(FIRST.isoformat(), exact=True).filter(visible=True).last.click()
    why = page.locator("table", has_text="max_quarantine_rate")  # the failed day's evaluation
    expect(why).to_contain_text("quarantine_rate0.75", timeout=WAIT_MS)
    expect(why).to_contain_text("judgedthis partition")
    page.mouse.wheel(0, -2000)  # the click scrolled the day into view; the screenshot shows the top
    screenshot(page, tmp_path, "ui-check-partitions.png")


def test_cli_backfills_are_on_the_backfills_page_with_their_partitions_status_and_run(page, ui, tmp_path):
    cli_runs = {
        run["status"]: run
        for run in _runs(ui, pipelineName="daily_pipeline")
        if RERUN_OF_TAG not in _tags(run)  # the quality-gate sensor's safe re-run is in no backfill
    }
    backfills = {b["status"]: b for b in _graphql(ui, BACKFILLS)["partitionBackfillsOrError"]["results"]}
    assert set(backfills) == {"COMPLETED_SUCCESS", "COMPLETED_FAILED"}  # the CLI's two, closed
    good, broken = backfills["COMPLETED_SUCCESS"], backfills["COMPLETED_FAILED"]
    assert good["isAssetBackfill"] and broken["isAssetBackfill"]
    assert good["partitionNames"] == sorted(_days(*GOOD)) and broken["partitionNames"] == [FIRST.isoformat()]
    # Each backfill's run is the CLI's range run, tagged so the UI links them.
    [good_run] = good["runs"]
    assert good_run["runId"] == cli_runs["SUCCESS"]["runId"]
    assert {
        BACKFILL_TAG: good["id"],
        RANGE_START_TAG: GOOD[0].isoformat(),
        RANGE_END_TAG: GOOD[1].isoformat(),
    }.items() <= _tags(good_run).items()
    [broken_run] = broken["runs"]
    assert broken_run["runId"] == cli_runs["FAILURE"]["runId"]
    assert {BACKFILL_TAG: broken["id"], PARTITION_TAG: FIRST.isoformat()}.items() <= _tags(broken_run).items()

    def counts(backfill: dict[str, Any]) -> dict[str, tuple[int, int, int, int]]:
        return {
            "/".join(s["assetKey"]["path"]): (
                s["numPartitionsTargeted"],
                s["numPartitionsMaterialized"],
                s["numPartitionsFailed"],
                s["numPartitionsInProgress"],
            )
            for s in backfill["assetBackfillData"]["assetBackfillStatuses"]
        }

    assert counts(good) == dict.fromkeys(PIPELINE_ASSETS, (2, 2, 0, 0))
    # The broken day: raw_signals was written, then its blocking gate failed every asset after it.
    assert counts(broken) == {**dict.fromkeys(PIPELINE_ASSETS, (1, 0, 1, 0)), "raw_signals": (1, 1, 0, 0)}

    page.goto(f"{ui}/runs?view=backfills")
    rows = page.locator("[class*='VirtualizedTable_row']")  # the UI's tables are grids of divs
    for backfill, status, target in ((good, "Success", "2 partitions"), (broken, "Failure", "1 partition")):
        row = rows.filter(has=page.locator(f"a[href='/runs/b/{backfill['id']}']"))
        expect(row.first).to_contain_text(status, timeout=WAIT_MS)
        expect(row.first).to_contain_text(target)
    screenshot(page, tmp_path, "ui-backfills.png")

    page.goto(f"{ui}/runs/b/{broken['id']}")
    expect(page.get_by_text("Partition selection")).to_be_visible(timeout=WAIT_MS)
    for asset in PIPELINE_ASSETS:  # one row per asset: its day succeeded (raw_signals) or failed
        expect(rows.filter(has_text=asset).first).to_contain_text("100% completed", timeout=WAIT_MS)
    screenshot(page, tmp_path, "ui-backfill-failed.png")


def test_a_rollback_launched_from_the_partition_picker_runs_to_success(page, ui, tmp_path):
    day = GOOD[1].isoformat()
    page.goto(f"{ui}/locations/{LOCATION_NAME}/jobs/rollback_partition/playground")
    page.get_by_placeholder("Partition").click()
    page.get_by_text(day, exact=True).first.click()
    launch = page.get_by_role("button", name="Launch Run")
    expect(launch).to_be_enabled(timeout=WAIT_MS)
    screenshot(page, tmp_path, "ui-launchpad.png")
    launch.click()
    page.wait_for_url(re.compile(r".*/runs/[0-9a-f-]{36}$"), timeout=WAIT_MS)
    run_id = page.url.rsplit("/", 1)[-1]

    deadline = time.monotonic() + 180
    while (run := next(r for r in _runs(ui) if r["runId"] == run_id))["status"] not in {"SUCCESS", "FAILURE"}:
        assert time.monotonic() < deadline, f"the launched run is still {run['status']}"
        time.sleep(1)
    assert run["status"] == "SUCCESS" and run["pipelineName"] == "rollback_partition"
    assert run["repositoryOrigin"]["repositoryLocationName"] == LOCATION_NAME
    assert {"key": "dagster/partition", "value": day} in run["tags"]
    page.reload()
    expect(page.get_by_text("no earlier version: the day is now unpublished").first).to_be_visible(timeout=WAIT_MS)
    good_run = next(r["runId"] for r in _runs(ui, pipelineName="daily_pipeline", statuses=["SUCCESS"]))
    observed = _graphql(ui, OBSERVATIONS, day=day)["assetOrError"]["assetObservations"]
    assert [(o["runId"], _texts(o["metadataEntries"])) for o in observed] == [
        (
            run_id,
            {"rollback/from_version": good_run, "rollback/restored_version": None, "rollback/note": "manual rollback"},
        )
    ]
