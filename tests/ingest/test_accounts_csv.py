"""CSV account exports: Excel damage, bad rows, and the real CrunchBase sample."""

import csv

from leadflow.ingest.accounts_csv import parse_accounts_csv

from .conftest import FIXTURES, IMPORT_DATE, SAMPLES, reasons, split

BAD_ACCOUNTS = FIXTURES / "bad_accounts.csv"
CRUNCHBASE_SAMPLE = SAMPLES / "crunchbase_sample.csv"


def _parse(path=BAD_ACCOUNTS, **kwargs):
    return split(parse_accounts_csv(path, source="test_accounts", import_date=IMPORT_DATE, **kwargs))


def _data_rows(path):
    with path.open(newline="", encoding="utf-8", errors="replace") as f:
        return sum(1 for _ in csv.reader(f)) - 1


def test_every_bad_row_is_quarantined_with_its_reason():
    signals, rejections = _parse(label="bad.csv")
    assert len(signals) + len(rejections) == _data_rows(BAD_ACCOUNTS) == 10
    assert [s.position for s in signals] == [
        "bad.csv#1",
        "bad.csv#2",
        "bad.csv#3",
        "bad.csv#7",
        "bad.csv#8",
        "bad.csv#9",
    ]
    assert reasons(rejections) == {
        "bad.csv#0": "excel_damage",
        "bad.csv#4": "missing_field",
        "bad.csv#5": "missing_field",
        "bad.csv#6": "bad_row",
    }
    by_position = {r.position: r for r in rejections}
    assert by_position["bad.csv#0"].reason == "excel_damage: column name = #NAME?"
    assert by_position["bad.csv#0"].excerpt.startswith("/company/n-plusn,#NAME?,software")
    assert by_position["bad.csv#5"].reason == "missing_field: permalink is empty"


def test_a_latin1_row_is_read_through_the_charset_fallback():
    miasole = next(s for s in _parse()[0] if s.external_id == "/company/miasole")
    assert miasole.title == "MiaSol\u00e9"
    assert miasole.attributes["charset_repair"] == "fallback: declared utf-8, read as windows-1252"


def test_a_row_no_charset_reads_is_undecodable(tmp_path):
    export = tmp_path / "garbled.csv"
    export.write_bytes(b"name,city\nAcme,Austin\nBad \x81\x8d\x8f\x90\x9d\x81\x8d\x8f,Nowhere\n")
    signals, rejections = _parse(export, label="garbled.csv")
    assert [s.title for s in signals] == ["Acme"]
    assert reasons(rejections) == {"garbled.csv#1": "undecodable"}


def test_damaged_optional_fields_are_repaired_not_rejected():
    signals, _ = _parse()
    by_id = {s.external_id: s for s in signals}
    hashes = by_id["/company/marketcetera"]
    assert hashes.attributes["funding_total_usd"] is None
    assert hashes.attributes["repaired"] == ["funding_total_usd"]
    assert hashes.text == "Marketcetera: software company in San Francisco, USA; status operating; founded 2006-01-01"
    date_in_number = by_id["/company/onebuckresume"]
    assert date_in_number.attributes["funding_total_usd"] is None
    assert date_in_number.attributes["repaired"] == ["funding_total_usd"]
    ref_city = by_id["/company/refcity"]
    assert ref_city.attributes["city"] is None
    assert ref_city.attributes["repaired"] == ["city"]
    assert ref_city.attributes["funding_total_usd"] == 2_500_000  # "2.5E+06" is a number, not damage


def test_account_fields():
    signals, _ = _parse()
    waywire = next(s for s in signals if s.external_id == "/company/waywire")
    assert waywire.kind == "account"
    assert waywire.title == waywire.company == "#waywire"  # a leading '#' alone is not damage
    assert waywire.signal_date == IMPORT_DATE
    assert waywire.text == (
        "#waywire: news company in New York, USA; status operating; funding 1750000 USD; founded 2012-06-01"
    )
    assert waywire.attributes["funding_rounds"] == 1
    assert waywire.attributes["founded_year"] == 2012
    assert waywire.attributes["repaired"] == []
    sparse = next(s for s in signals if s.external_id == "/company/plainco")
    assert sparse.text == "Plain Co, Inc.: company in GBR; status closed"
    assert sparse.attributes["category_code"] is None


def test_ids_are_stable_across_reads():
    assert _parse()[0] == _parse()[0]


def test_export_without_permalink_column_uses_positions(tmp_path):
    export = tmp_path / "crm.csv"
    export.write_text("name,city\nAcme,Austin\nAcme,Boston\n", encoding="utf-8")
    signals, rejections = _parse(export, label="crm.csv")
    assert rejections == []
    assert [s.external_id for s in signals] == ["", ""]
    assert len({s.signal_id for s in signals}) == 2


def test_header_without_name_column_rejects_every_row(tmp_path):
    export = tmp_path / "wrong.csv"
    export.write_text("company,city\nAcme,Austin\nBeta,Boston\n", encoding="utf-8")
    signals, rejections = _parse(export, label="wrong.csv")
    assert signals == []
    assert reasons(rejections) == {"wrong.csv#0": "bad_header", "wrong.csv#1": "bad_header"}
    assert rejections[0].reason == "bad_header: no 'name' column (columns: company, city)"


def test_field_over_the_csv_limit_is_rejected_and_reading_goes_on(tmp_path):
    export = tmp_path / "huge.csv"
    export.write_text(f'name,city\nHuge,"{"x" * (csv.field_size_limit() + 1)}"\nSmall,Austin\n', encoding="utf-8")
    signals, rejections = _parse(export, label="huge.csv")
    assert reasons(rejections) == {"huge.csv#0": "bad_row"}
    assert [s.title for s in signals] == ["Small"]


def test_real_crunchbase_sample():
    signals, rejections = _parse(CRUNCHBASE_SAMPLE)
    assert (len(signals), len(rejections)) == (149, 1)
    assert _data_rows(CRUNCHBASE_SAMPLE) == 150
    assert rejections[0].reason == "excel_damage: column name = #NAME?"
    repaired = {s.title: s.attributes["repaired"] for s in signals if s.attributes["repaired"]}
    assert repaired == {
        "Johns Hopkins Medicine": ["funding_total_usd"],
        "Marketcetera": ["funding_total_usd"],
        "Marrone Bio Innovations": ["funding_total_usd"],
        "OneBuckResume": ["funding_total_usd"],
        "Kips Bay Medical": ["funding_total_usd"],
    }
    assert len({s.signal_id for s in signals}) == 149
    assert all(s.external_id.startswith("/company/") for s in signals)
    assert not any("#" * 3 in s.text for s in signals)
