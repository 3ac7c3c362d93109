"""The lead browser (`leadflow serve`, a real server process over loopback) in headless Debian
Chromium driven by Playwright, and the static report of the `lead_report` asset, over a real
DuckDB file written through the storage layer (raw signals, a published version of scores and
dossiers with citations): the expected leads, filters and search, a dossier's citations marked
in the signal, hostile signal text shown as text, and a click on "good" that stores its label
while another process holds the warehouse writing a run's version and publishing it.

`LEADFLOW_SCREENSHOTS=docs` also writes the screenshots the README shows into docs/.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import httpx
import pytest
import uvicorn
from playwright.sync_api import Page, expect

from leadflow.browser.app import BrowserSettings, create_app
from leadflow.browser.highlight import citations, segments
from leadflow.defs.assets.report import lead_report
from leadflow.defs.resources import DuckDBWarehouse, PipelineSettings
from leadflow.paths import PROJECT_ROOT
from leadflow.storage import schema
from leadflow.storage.labels import current_labels
from leadflow.storage.publication import publish
from leadflow.storage.warehouse import replace_partitions, write_version
from tests.browser.conftest import screenshot

DAY = date(2026, 11, 20)
WAIT_MS = 30_000  # a page or an assertion: generous, the CI machine's 2 cores are shared
HOSTILE = '<script>document.title="pwned"</script><img src=x onerror="document.title=\'pwned\'">'
POSTING = (
    "Acme Analytics is hiring a Senior Data Engineer in Berlin to build our lakehouse. "
    f"We are a team of 40 engineers. {HOSTILE}"
)
COMPANY, TRIGGER = "Acme Analytics", "hiring a Senior Data Engineer"
# (signal_id, kind, title, company, text, score, bucket): best first.
LEADS = [
    ("acct-globex", "account", "Globex", "Globex Corporation", "Globex Corporation, Springfield.", 85.0, "red_hot"),
    ("job-acme", "job_posting", f"Senior Data Engineer {HOSTILE}", "Acme Analytics", POSTING, 72.0, "warm"),
    ("mail-acme", "email", "Re: lakehouse pricing", "acmeanalytics.com", "Can we talk pricing?", 45.0, "nurture"),
    ("job-cook", "job_posting", "Line cook", "Diner", "A line cook for the night shift.", 5.0, "filtered"),
]


def _span(section: str, quote: str) -> dict[str, Any]:
    start = POSTING.index(quote)
    return {"signal_id": "job-acme", "start": start, "end": start + len(quote), "quote": quote, "section": section}


CITED = [_span("company_summary", COMPANY), _span("trigger", TRIGGER)]
DOSSIER = {
    "company_summary": f"{COMPANY} builds a lakehouse in Berlin.",
    "trigger": f"Acme is {TRIGGER}.",
    "icp_fit": "Warm fit: a growing data team.",
    "decision_makers": ["Head of Data"],
    "suggested_opener": "Congratulations on the new data role.",
    "risks": "One posting so far.",
    "citations": {
        **{s: [] for s in ("icp_fit", "decision_makers", "suggested_opener", "risks")},
        **{span["section"]: [{k: v for k, v in span.items() if k != "section"}] for span in CITED},
    },
}


def _rows(name: str, rows: list[dict[str, Any]]):
    return schema.frame(name, [{column: None for column in schema.table(name).written} | row for row in rows])


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    database = tmp_path_factory.mktemp("browser") / "leadflow.duckdb"
    raw, scores = [], []
    for signal_id, kind, title, company, text, score, bucket in LEADS:
        attributes = {"from": f"bo@{company}"} if kind == "email" else {}
        key = {"partition_date": DAY, "signal_id": signal_id, "kind": kind, "title": title, "run_id": "run-a"}
        raw.append(key | {"source": "test", "company": company, "text": text, "attributes": json.dumps(attributes)})
        parts = [{"name": "title (ICP head)", "points": score - 10, "detail": "the head"}]
        parts.append({"name": "ICP similarity", "points": 10.0, "detail": "cosine 0.60 to the ICP prototypes"})
        scores.append(
            key
            | {"cheap_score": score, "final_score": score, "bucket": bucket, "icp_similarity": 0.6, "rule_hit": False}
            | {"reasons": json.dumps(["a data team"]), "llm_used": False}
            | {"explanation": json.dumps({"score": score, "parts": parts, "model": None, "intents": None})}
        )
    dossier = {"partition_date": DAY, "signal_id": "job-acme", "title": LEADS[1][2], "final_score": 72.0}
    dossier |= {"bucket": "warm", "dossier": json.dumps(DOSSIER), "account": "acme analytics", "run_id": "run-a"}
    dossier |= {"evidence": json.dumps({"company": COMPANY})}
    with duckdb.connect(str(database)) as conn:
        replace_partitions(conn, "raw_signals", [DAY], _rows("raw_signals", raw))
        write_version(conn, "prefilter_scores", [DAY], "run-a", _rows("prefilter_scores", scores))
        write_version(conn, "dossiers", [DAY], "run-a", _rows("dossiers", [dossier]))
        publish(conn, {DAY: "run-a"})
    return database


def _ids(page: Page) -> list[str]:
    return page.locator("tr.lead-row").evaluate_all("rows => rows.map(r => r.dataset.signalId)")


def _submit(page: Page) -> None:
    """The filter form sent, and its answer loaded."""
    with page.expect_navigation():
        page.click('button[type="submit"]')


def test_citations_cut_the_text_overlaps_keep_both_sections_and_a_misplaced_quote_is_listed_not_marked():
    text = "Acme Analytics is hiring a Senior Data Engineer."
    dossier = {
        "citations": {
            "company_summary": [{"signal_id": "s", "start": 0, "end": 14, "quote": "Acme Analytics"}],
            "trigger": [{"signal_id": "s", "start": 5, "end": 24, "quote": "Analytics is hiring"}],
            "risks": [{"signal_id": "s", "start": 0, "end": 4, "quote": "Beta"}],  # offsets that no longer hold it
            "icp_fit": [{"signal_id": "other", "start": 0, "end": 4, "quote": "Acme"}],  # another signal's
        }
    }
    cited = citations(dossier, "s", text)
    assert [(c.section, c.placed) for c in cited] == [
        ("company_summary", True),
        ("trigger", True),
        ("risks", False),
        ("icp_fit", False),
    ]
    assert [(seg.text, seg.sections) for seg in segments(text, cited)] == [
        ("Acme ", ("company_summary",)),
        ("Analytics", ("company_summary", "trigger")),
        (" is hiring", ("trigger",)),
        (" a Senior Data Engineer.", ()),
    ]
    assert "".join(seg.text for seg in segments(text, cited)) == text


# ---- the static report ------------------------------------------------------------------------


def test_the_lead_report_asset_writes_the_runs_leads_as_one_owner_only_page(warehouse, tmp_path):
    exports = tmp_path / "exports"
    result = dg.materialize(
        [lead_report],
        partition_key=DAY.isoformat(),
        resources={
            "duckdb": DuckDBWarehouse(database=str(warehouse)),
            "pipeline": PipelineSettings(exports_dir=str(exports)),
        },
    )
    assert result.success
    [materialization] = result.asset_materializations_for_node("lead_report")
    meta = materialization.metadata
    path = Path(str(meta["path"].value))
    assert path == exports / f"leads-{DAY}.html" and meta["url"].value == path.resolve().as_uri()
    assert (meta["leads"].value, meta["detailed"].value) == (4, 3)  # the filtered lead has no detail
    assert path.stat().st_mode & 0o777 == 0o600
    page = path.read_text(encoding="utf-8")
    assert "<script" not in page and "&lt;script&gt;" in page  # hostile text escaped, and the page has no script
    for signal_id, *_ in LEADS:
        assert f'data-signal-id="{signal_id}"' in page
    marked = re.findall(r'<mark class="cite cite-(\w+)"[^>]*>([^<]*)</mark>', page)
    assert marked == [("company_summary", COMPANY), ("trigger", TRIGGER)]


# ---- the browser, in Chromium -----------------------------------------------------------------


@pytest.fixture(scope="module")
def server(warehouse) -> Iterator[str]:
    """`leadflow serve` on a free port; yields the address it printed (with its token)."""
    env = os.environ | {"LEADFLOW_DUCKDB_PATH": str(warehouse)}
    process = subprocess.Popen(
        [sys.executable, "-m", "leadflow.cli", "serve", "--port", "0", "--by", "tester"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        found = re.search(r"open (http://127\.0\.0\.1:\d+/\?token=\S+)", line)
        assert found, line
        yield found.group(1)
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture
def page(browser, server) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1100, "height": 640})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.goto(server)  # the token becomes a cookie, the address loses it
    yield page
    context.close()


def test_the_leads_filters_search_and_a_dossier_with_its_citations_marked(page, server, tmp_path):
    assert "token" not in page.url
    assert _ids(page) == [signal_id for signal_id, *_ in LEADS]  # best first
    expect(page.locator(".count")).to_have_text("4 of 4 published leads")
    row = page.locator('tr[data-signal-id="job-acme"] .lead-title')
    expect(row).to_have_text(f"Senior Data Engineer {HOSTILE}")  # shown as text, not run
    assert page.title() != "pwned"
    screenshot(page, tmp_path, "lead-browser.png")

    page.select_option('select[name="bucket"]', "warm")
    _submit(page)
    assert _ids(page) == ["job-acme"]
    page.goto(server.split("?")[0] + "?q=globex+springfield")  # search: every word, anywhere in the lead
    assert _ids(page) == []  # the city is in the signal text, not in what search reads
    page.goto(server.split("?")[0] + "?q=GLOBEX")
    assert _ids(page) == ["acct-globex"]
    page.select_option('select[name="kind"]', "email")
    page.fill('input[name="q"]', "")
    _submit(page)
    assert _ids(page) == ["mail-acme"]

    page.goto(server.split("?")[0])
    with page.expect_navigation():
        page.click('tr[data-signal-id="job-acme"] .lead-title')
    expect(page.locator("article.lead h2")).to_have_text(f"Senior Data Engineer {HOSTILE}")
    marks = page.locator("pre.signal-text mark.cite")
    assert marks.all_inner_texts() == [COMPANY, TRIGGER]
    assert marks.evaluate_all("ms => ms.map(m => m.dataset.sections)") == ["company_summary", "trigger"]
    expect(page.locator("pre.signal-text")).to_contain_text(HOSTILE)
    expect(page.locator(".dossier-section")).to_have_count(6)
    expect(page.locator(".explanation > p")).to_have_text(
        "score 72.0 (warm); title (ICP head) +62.00, ICP similarity +10.00. Reasons: a data team"
    )
    rows = page.locator(".explanation table.parts tbody tr")
    assert rows.all_inner_texts() == [
        "title (ICP head)\t+62.00\tthe head",
        "ICP similarity\t+10.00\tcosine 0.60 to the ICP prototypes",
    ]
    expect(page.locator(".account")).to_contain_text("Acme Analytics")
    assert page.title() != "pwned"
    screenshot(page, tmp_path, "lead-browser-lead.png")


# A pipeline run's write in a process of its own: a new version of the day's scores and dossiers
# written, the warehouse held (as a run holds it while it writes) until told, then published.
RUN = """
import sys
from datetime import date
import duckdb
from leadflow.storage import schema
from leadflow.storage.publication import publish
from leadflow.storage.warehouse import write_version
day = date.fromisoformat(sys.argv[2])
with duckdb.connect(sys.argv[1]) as conn:
    for name in ("prefilter_scores", "dossiers"):
        rows = conn.execute(f"SELECT * FROM {name} WHERE run_id = 'run-a'").df()
        rows["run_id"] = "run-b"
        rows["final_score"] += 1
        write_version(conn, name, [day], "run-b", schema.frame(name, rows.to_dict("records")))
    print("WRITING", flush=True)
    sys.stdin.readline()
    publish(conn, {day: "run-b"})
"""


@contextmanager
def _run_writing(database: Path) -> Iterator[subprocess.Popen[str]]:
    """RUN in a process of its own, once it holds the warehouse; closing its stdin lets it publish."""
    run = subprocess.Popen(
        [sys.executable, "-c", RUN, str(database), DAY.isoformat()],
        cwd=PROJECT_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert run.stdout is not None and run.stdout.readline().strip() == "WRITING"
        yield run
    finally:
        run.kill()
        run.wait()


def test_a_good_click_while_a_run_writes_waits_for_the_run_then_stores_the_label(page, warehouse):
    with _run_writing(warehouse) as run:
        with pytest.raises(duckdb.IOException, match="Could not set lock"):  # the run holds the file
            duckdb.connect(str(warehouse), read_only=True)
        labeling = page.locator('tr[data-signal-id="job-acme"] .labeling')
        labeling.locator("button.good").click()
        status = labeling.locator("[data-label-status]")
        expect(status).to_have_text("saving…", timeout=WAIT_MS)
        page.wait_for_timeout(1000)
        expect(status).to_have_text("saving…", timeout=WAIT_MS)  # still waiting for the run, not failed
        assert run.stdin is not None
        run.stdin.close()  # the run publishes and lets go
        expect(status).to_have_text("good", timeout=WAIT_MS)
        assert run.wait(timeout=30) == 0
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        [label] = current_labels(conn).to_dict("records")
        published = conn.execute("SELECT DISTINCT run_id FROM leads").fetchall()
    assert (label["signal_id"], label["label"], label["source"], label["labeled_by"]) == (
        "job-acme",
        "good",
        "browser",
        "tester",
    )
    assert published == [("run-b",)]  # the run's write landed whole
    page.reload()
    expect(page.locator('tr[data-signal-id="job-acme"] [data-label-status]')).to_have_text("good")
    expect(page.locator('tr[data-signal-id="job-acme"] td.score')).to_have_text("73.0")  # the run's version


@pytest.fixture
def short_wait_server(warehouse, tmp_path) -> Iterator[tuple[str, Path]]:
    """The app over a copy of the warehouse, served over loopback, waiting at most 0.5 s for a writer."""
    database = tmp_path / "leadflow.duckdb"
    shutil.copy(warehouse, database)
    settings = BrowserSettings(database=str(database), labeled_by="tester", token="t0ken", wait_s=0.5)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(settings), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", database
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_no_token_no_page_and_a_run_that_holds_the_warehouse_past_the_wait_is_busy_not_an_error(short_wait_server):
    address, database = short_wait_server
    assert httpx.get(f"{address}/").status_code == 403
    assert httpx.post(f"{address}/api/labels", json={"signal_id": "job-acme", "label": "good"}).status_code == 403
    client = httpx.Client(base_url=address, cookies={"leadflow_token": "t0ken"})
    assert client.get("/").status_code == 200
    assert client.post("/api/labels", data={"signal_id": "job-acme"}).status_code == 415  # a form: not JSON
    with _run_writing(database):
        page = client.get("/")
        answer = client.post("/api/labels", json={"signal_id": "job-acme", "label": "good"})
    assert page.status_code == 503 and "a pipeline run is writing" in page.text
    assert answer.status_code == 503 and "try again" in answer.json()["error"]
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
