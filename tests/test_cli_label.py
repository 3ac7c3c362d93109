"""`leadflow label`: one lead, or a CSV file of labels, into a real DuckDB file; bad rows reported;
`--suggest`; and `leadflow serve` on a taken port."""

import socket

import duckdb
import pytest

from leadflow.cli import main
from leadflow.defs.resources import DuckDBWarehouse
from leadflow.storage.labels import current_labels, label_history
from tests.export.conftest import DAY, LEADS, fill


@pytest.fixture
def warehouse(monkeypatch, tmp_path) -> DuckDBWarehouse:
    warehouse = DuckDBWarehouse(database=str(tmp_path / "leadflow.duckdb"))
    fill(warehouse, DAY, "run-a", LEADS)
    monkeypatch.setenv("LEADFLOW_DUCKDB_PATH", warehouse.database)
    return warehouse


def _labels(warehouse: DuckDBWarehouse):
    with duckdb.connect(warehouse.database, read_only=True) as conn:
        return current_labels(conn).set_index("signal_id"), label_history(conn)


def test_label_one_lead_and_change_ones_mind(warehouse, capsys):
    main(["label", "job-acme", "good", "--by", "ana"])
    main(["label", "job-acme", "bad", "--by", "ana", "--note", "a staffing agency"])
    main(["label", "job-acme", "bad", "--by", "ana", "--note", "a staffing agency"])
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "1 label(s) written, 0 unchanged (already the signal's label)",
        "1 label(s) written, 0 unchanged (already the signal's label)",
        "0 label(s) written, 1 unchanged (already the signal's label)",
    ]
    current, history = _labels(warehouse)
    assert current.loc["job-acme", "label"] == "bad" and current.loc["job-acme", "source"] == "cli"
    assert history["label"].tolist() == ["good", "bad"]


def test_an_unknown_signal_is_refused(warehouse):
    with pytest.raises(SystemExit, match="no signal with id job-nope"):
        main(["label", "job-nope", "good"])
    assert _labels(warehouse)[1].empty


def test_a_labels_file_stores_its_good_rows_and_reports_each_bad_one(warehouse, tmp_path, capsys):
    path = tmp_path / "labels.csv"
    path.write_text(
        "signal_id,label,labeled_by,note\n"
        "job-acme,good,,\n"
        "mail-acme,bad,bo,wrong person\n"
        "acct-globex,superb,,\n"
        "job-nope,good,,\n"
    )
    with pytest.raises(SystemExit, match=r"2 row\(s\) of .*labels\.csv rejected, the others stored"):
        main(["label", "--file", str(path), "--by", "carla"])
    assert capsys.readouterr().out.splitlines() == [
        "2 label(s) written, 0 unchanged (already the signal's label)",
        "  rejected line 4 (acct-globex): label must be one of good|bad, not 'superb'",
        "  rejected line 5 (job-nope): no signal with this id",
    ]
    current, _ = _labels(warehouse)
    assert current["label"].to_dict() == {"job-acme": "good", "mail-acme": "bad"}
    assert current["labeled_by"].to_dict() == {"job-acme": "carla", "mail-acme": "bo"}
    assert set(current["source"]) == {"file"}
    # Fixed and imported again: the stored rows are unchanged, the fixed one lands.
    path.write_text("signal_id,label\njob-acme,good\nacct-globex,good\n")
    main(["label", "--file", str(path), "--by", "carla"])
    assert capsys.readouterr().out.splitlines() == ["1 label(s) written, 1 unchanged (already the signal's label)"]


def test_label_needs_a_verdict_or_a_file(warehouse):
    with pytest.raises(SystemExit):
        main(["label", "job-acme"])
    with pytest.raises(SystemExit):
        main(["label", "job-acme", "good", "--file", "labels.csv"])


def test_suggest_lists_unlabelled_postings_nearest_the_warm_boundary(warehouse, capsys):
    main(["label", "--suggest", "3"])
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("1 lead(s) whose label would teach the scorer most")
    assert out[1].split()[:3] == ["job-acme", "60.0", "warm"]  # the only posting; its cheap score
    main(["label", "job-acme", "good"])
    main(["label", "--suggest", "3"])
    assert capsys.readouterr().out.splitlines()[-1] == "nothing to suggest: no published, unlabelled posting"
    with pytest.raises(SystemExit):
        main(["label", "job-acme", "good", "--suggest", "3"])


def test_serve_on_a_taken_port_is_a_clear_error(warehouse):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(SystemExit, match=f"cannot listen on 127.0.0.1:{port}: Address already in use"):
            main(["serve", "--port", str(port)])
