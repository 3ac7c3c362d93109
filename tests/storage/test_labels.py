"""Labels on a real DuckDB file: history kept, the latest counts, unknown signals refused, files
read with every bad row reported, and a write that waits for another process's writer lock."""

import datetime
import re
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

import duckdb
import pytest

from leadflow.ingest.label_file import LabelFileError, read_label_file
from leadflow.storage import schema
from leadflow.storage.connections import WarehouseMissing, waiting_connection
from leadflow.storage.labels import Label, LabelError, current_labels, label_history, write_labels
from leadflow.storage.warehouse import replace_partitions
from leadflow.storage.writer_lease import writer_lease
from tests.cluster_services import POSTGRES_URL, ensure_services

DAY = date(2026, 11, 20)
SIGNALS = ("job-1", "job-2", "mail-3")


@pytest.fixture
def database(tmp_path: Path) -> Path:
    """A warehouse whose raw_signals hold SIGNALS."""
    path = tmp_path / "leadflow.duckdb"
    rows = [
        {column: None for column in schema.table("raw_signals").written} | {"partition_date": DAY, "signal_id": s}
        for s in SIGNALS
    ]
    with duckdb.connect(str(path)) as conn:
        replace_partitions(conn, "raw_signals", [DAY], schema.frame("raw_signals", rows))
    return path


def test_history_is_kept_and_the_latest_label_counts(database):
    with waiting_connection(database) as conn:
        assert current_labels(conn).empty  # no table yet: no labels, no error
        first = write_labels(conn, [Label("job-1", "good", "cli", labeled_by="ana")])
        again = write_labels(conn, [Label("job-1", "good", "cli", labeled_by="ana")])  # the same judgment
        changed = write_labels(conn, [Label("job-1", "bad", "browser", labeled_by="bo", note="a recruiter")])
        write_labels(conn, [Label("job-2", "good", "file")])
        current = current_labels(conn).set_index("signal_id")
        history = label_history(conn, "job-1")
    assert (first.written, again.written, again.unchanged, changed.written) == (1, 0, 1, 1)
    job_1 = current.loc["job-1"]
    assert (job_1["label"], job_1["labeled_by"], job_1["source"], job_1["note"]) == (
        "bad",
        "bo",
        "browser",
        "a recruiter",
    )
    assert current.loc["job-2", "label"] == "good" and list(current.columns) == schema.table("labels").written[1:]
    assert history["label"].tolist() == ["good", "bad"]  # oldest first


def test_a_label_of_an_unknown_signal_or_value_is_refused_and_nothing_is_written(database):
    with pytest.raises(LabelError, match=re.escape("one of good|bad")):
        Label("job-1", "great", "cli")
    with pytest.raises(LabelError, match="needs a signal_id"):
        Label(" ", "good", "cli")
    with waiting_connection(database) as conn:
        with pytest.raises(LabelError, match="no signal with id nope"):
            write_labels(conn, [Label("job-1", "good", "cli"), Label("nope", "bad", "cli")])
        assert label_history(conn).empty


def test_a_labels_file_gives_its_good_rows_and_every_bad_row_with_its_line_and_reason(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text(
        "Signal_ID,label,note,labeled_at,extra\n"
        "job-1,GOOD,fits,2026-11-25T10:00:00+01:00,x\n"
        "job-2,maybe,,,\n"
        ",bad,,,\n"
        "mail-3,bad,,yesterday,\n"
        "job-2,bad,,,,surplus\n"
        "mail-3,bad,spam,,\n",
        encoding="utf-8",
    )
    read = read_label_file(path, labeled_by="carla")
    assert [(line, label.signal_id, label.label, label.labeled_by) for line, label in read.labels] == [
        (2, "job-1", "good", "carla"),
        (7, "mail-3", "bad", "carla"),
    ]
    assert read.labels[0][1].labeled_at == datetime.datetime(2026, 11, 25, 9, 0)  # stored as UTC
    assert [(r.line, r.signal_id) for r in read.rejects] == [(3, "job-2"), (4, ""), (5, "mail-3"), (6, "job-2")]
    reasons = [r.reason for r in read.rejects]
    assert "'maybe'" in reasons[0] and "needs a signal_id" in reasons[1]
    assert "'yesterday' is not an ISO 8601" in reasons[2] and "more than the header" in reasons[3]
    (tmp_path / "no_label.csv").write_text("signal_id,verdict\njob-1,good\n")
    with pytest.raises(LabelFileError, match="no label column"):
        read_label_file(tmp_path / "no_label.csv", "carla")


def test_no_warehouse_is_a_clear_error(tmp_path):
    with pytest.raises(WarehouseMissing, match="run the pipeline first"), waiting_connection(tmp_path / "none.duckdb"):
        pass


HOLDER = """
import sys
import duckdb
from leadflow.storage.warehouse import transaction
conn = duckdb.connect(sys.argv[1])
with transaction(conn):
    conn.execute("UPDATE raw_signals SET title = 'written by the run'")
    print("WRITING", flush=True)
    sys.stdin.readline()
conn.close()
"""


def test_a_label_written_while_another_process_writes_waits_for_it_then_lands(database):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(database)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "WRITING"
        assert holder.stdin is not None
        release = threading.Timer(1.5, holder.stdin.close)  # the writer commits 1.5 s into the wait
        release.start()
        started = time.monotonic()
        with waiting_connection(database) as conn:
            waited = time.monotonic() - started
            write_labels(conn, [Label("job-1", "good", "cli")])
        release.join()
        assert holder.wait(timeout=30) == 0
    finally:
        holder.kill()
    assert 1.4 <= waited < 3.0  # polled for the lock, got it shortly after the release
    with waiting_connection(database, read_only=True) as conn:
        assert current_labels(conn)["signal_id"].tolist() == ["job-1"]
        assert {t for (t,) in conn.execute("SELECT title FROM raw_signals").fetchall()} == {"written by the run"}


def test_with_a_writer_lease_a_label_waits_for_the_worker_holding_it(database):
    """Several hosts on one file (real PostgreSQL): a label is written under the cluster's lease."""
    ensure_services()
    done = threading.Event()

    def label() -> None:
        with waiting_connection(database, lease_url=POSTGRES_URL) as conn:
            write_labels(conn, [Label("job-2", "bad", "cli")])
        done.set()

    with writer_lease(POSTGRES_URL, str(database)):  # a worker's write in flight
        writer = threading.Thread(target=label)
        writer.start()
        assert not done.wait(1.0)  # waiting for the lease, not writing beside the worker
    writer.join(timeout=30)
    assert done.is_set()
    with waiting_connection(database, read_only=True) as conn:
        assert current_labels(conn)["signal_id"].tolist() == ["job-2"]
