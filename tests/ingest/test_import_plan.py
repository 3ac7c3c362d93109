"""`leadflow import`'s plan, before any run: which sources the paths stand for, with which import
dates, and exactly the days their signals cover."""

import datetime
import os
import shutil

from leadflow.ingest import SourceSpec
from leadflow.ingest.import_plan import files_of, new_source, plan_import
from tests.ingest.conftest import FIXTURES, SAMPLES

FIRST = datetime.date(1997, 1, 1)
LAST = datetime.date(2026, 11, 30)  # the last complete day


def _mbox(path, dates: list[str]) -> None:
    path.write_text(
        "".join(
            f"From a@acme.com Mon Jan  1 00:00:00 2024\nFrom: a@acme.com\nDate: {when}\nSubject: mail {n}\n"
            f"Message-ID: <{n}@acme.com>\n\nHello number {n}, about the data team.\n\n"
            for n, when in enumerate(dates)
        )
    )


def _touch(path, day: datetime.date) -> None:
    noon = datetime.datetime(day.year, day.month, day.day, 12, tzinfo=datetime.UTC).timestamp()
    os.utime(path, (noon, noon))


def test_a_folder_stands_for_its_importable_files(tmp_path):
    shutil.copy(SAMPLES / "crunchbase_sample.csv", tmp_path / "accounts.csv")
    shutil.copytree(FIXTURES / "maildir", tmp_path / "maildir")
    (tmp_path / "notes.txt").write_text("nothing to import\n")
    (tmp_path / ".hidden.mbox").write_text("")
    found, skipped = files_of(tmp_path)
    assert [p.name for p in found] == ["accounts.csv", "maildir"]
    assert [(p.name, why) for p, why in skipped] == [("notes.txt", "not a recognized format")]
    assert files_of(tmp_path / "maildir")[0] == [tmp_path / "maildir"]
    assert files_of(tmp_path / "gone.mbox") == ([], [(tmp_path / "gone.mbox", "does not exist")])


def test_the_plan_covers_exactly_the_days_of_the_signals(tmp_path):
    mbox = tmp_path / "mail.mbox"
    _mbox(mbox, ["Tue, 2 Jan 2024 10:00:00 +0000", "Fri, 5 Jan 2024 09:00:00 +0000", "Mon, 1 Jan 1979 00:00:00 +0000"])
    accounts = tmp_path / "accounts.csv"
    accounts.write_text("name,city\nAcme,Austin\nGlobex,Springfield\n")
    _touch(accounts, datetime.date(2025, 3, 4))
    _touch(mbox, datetime.date(2025, 3, 4))
    plan = plan_import([mbox, accounts, mbox], [], tmp_path, FIRST, LAST)
    assert [(p.spec.name, p.spec.format, p.new) for p in plan.sources] == [
        ("mail.mbox", "mbox", True),
        ("accounts.csv", "csv_accounts", True),
    ]  # named twice, planned once
    assert all(p.spec.import_date == datetime.date(2025, 3, 4) for p in plan.sources)  # pinned: the file's date
    mail, csv = plan.sources
    assert (mail.coverage.signals, mail.coverage.quarantined) == (2, 1)  # 1979 is implausible
    assert dict(csv.coverage.days) == {datetime.date(2025, 3, 4): 2}
    assert plan.days(LAST) == [datetime.date(2024, 1, 2), datetime.date(2024, 1, 5), datetime.date(2025, 3, 4)]
    assert plan.later(LAST) == []


def test_undated_records_of_a_file_from_today_go_to_the_last_complete_day(tmp_path):
    accounts = tmp_path / "accounts.csv"
    accounts.write_text("name\nAcme\n")
    _touch(accounts, LAST + datetime.timedelta(days=1))
    plan = plan_import([accounts], [], tmp_path, FIRST, LAST)
    assert plan.sources[0].spec.import_date == LAST and plan.days(LAST) == [LAST]
    pinned = plan_import([accounts], [], tmp_path, FIRST, LAST, import_date=LAST + datetime.timedelta(days=1))
    assert pinned.days(LAST) == [] and pinned.later(LAST) == [LAST + datetime.timedelta(days=1)]


def test_a_known_file_keeps_its_entry_and_a_new_name_is_made_unique(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for folder in ("a", "b"):
        (tmp_path / folder / "crm.csv").write_text("name\nAcme\n")
    known = SourceSpec(name="crm.csv", format="csv_accounts", path="a/crm.csv", import_date=datetime.date(2024, 2, 1))
    plan = plan_import([tmp_path / "a" / "crm.csv", tmp_path / "b"], [known], tmp_path, FIRST, LAST)
    assert [(p.spec.name, p.new) for p in plan.sources] == [("crm.csv", False), ("crm.csv-2", True)]
    assert plan.sources[0].spec is known and plan.days(LAST)[0] == datetime.date(2024, 2, 1)


def test_files_in_the_watched_imports_folder_are_skipped(tmp_path):
    watched = tmp_path / "imports"
    watched.mkdir()
    (watched / "crm.csv").write_text("name\nAcme\n")
    plan = plan_import([watched], [], tmp_path, FIRST, LAST, watched_folder=watched)
    assert plan.sources == [] and "inside the imports folder" in plan.skipped[0][1]


def test_a_new_source_can_be_given_its_format_and_name(tmp_path):
    odd = tmp_path / "export.dat"
    odd.write_text("name\nAcme\n")  # one column: not sniffed as a CSV
    spec = new_source(odd, {"crm"}, LAST, datetime.date(2026, 1, 2), name="crm", file_format="csv_accounts")
    assert (spec.name, spec.format, spec.path, spec.import_date) == (
        "crm-2",
        "csv_accounts",
        str(odd),
        datetime.date(2026, 1, 2),
    )
