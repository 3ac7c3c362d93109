"""Editing sources.yaml: entries added and removed without hand-editing YAML, the header comments
kept, the result always a file load_sources accepts."""

import datetime
from pathlib import Path

import pytest

from leadflow.ingest import SourceConfigError, SourceSpec, load_sources
from leadflow.ingest.source_file import add_sources, remove_source, seed_sources
from leadflow.paths import RESOURCES_DIR

BUNDLED = RESOURCES_DIR / "sources.yaml"
DAY = datetime.date(2026, 11, 25)


def test_a_user_copy_of_the_bundled_file_points_at_the_same_files(tmp_path):
    target = tmp_path / "home" / "sources.yaml"
    seed_sources(BUNDLED, target)
    text = target.read_text(encoding="utf-8")
    assert text.startswith("# Signal sources read by leadflow.ingest")  # the field reference is kept
    copied, bundled = load_sources(target), load_sources(BUNDLED)
    assert [s.name for s in copied] == [s.name for s in bundled]
    assert [Path(s.path) for s in copied] == [BUNDLED.parent / s.path for s in bundled]
    assert all(Path(s.path).is_file() for s in copied)
    assert [s.import_date for s in copied] == [s.import_date for s in bundled]
    target.write_text("sources: []\n")
    seed_sources(BUNDLED, target)  # an existing file is the user's: never replaced
    assert load_sources(target) == []


def test_add_then_remove_keeps_the_header_and_every_field(tmp_path):
    path = tmp_path / "sources.yaml"
    path.write_text("# my sources\n#   one per line\n\nsources:\n  - {name: old, format: mbox, path: old.mbox}\n")
    added = SourceSpec(name="crm.csv", format="csv_accounts", path="/data/crm.csv", limit=10, import_date=DAY)
    add_sources(path, [added])
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# my sources\n#   one per line\n")
    assert "import_date: 2026-11-25" in text and "max_chars" not in text  # defaults are not written
    assert load_sources(path) == [SourceSpec(name="old", format="mbox", path="old.mbox"), added]
    assert remove_source(path, "old").path == "old.mbox"
    assert load_sources(path) == [added] and path.read_text(encoding="utf-8").startswith("# my sources\n")


def test_a_missing_file_is_created(tmp_path):
    path = tmp_path / "new" / "sources.yaml"
    spec = SourceSpec(name="a", format="eml", path="a.eml")
    add_sources(path, [spec])
    assert load_sources(path) == [spec]


def test_names_and_files_are_not_declared_twice(tmp_path):
    path = tmp_path / "sources.yaml"
    add_sources(path, [SourceSpec(name="a", format="mbox", path="mail.mbox")])
    with pytest.raises(SourceConfigError, match="already used: a"):
        add_sources(path, [SourceSpec(name="a", format="eml", path="other.eml")])
    with pytest.raises(SourceConfigError, match=r"already a source: .*mail.mbox \(as a\)"):
        add_sources(path, [SourceSpec(name="b", format="mbox", path=str(tmp_path / "mail.mbox"))])
    with pytest.raises(SourceConfigError, match="no source named 'c'; there are: a"):
        remove_source(path, "c")
    assert len(load_sources(path)) == 1
