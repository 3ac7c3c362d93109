"""What `leadflow import PATH...` will do, found before any run: the source each file stands for
(a new sources.yaml entry, or the one the file already has) and the partition days its signals
cover, by one streaming parse of each (`covered_days`).

A new entry pins its import date (the date of its undated records) so re-runs place them on
the same day: the file's modification date, but at most the last complete day, since today's
partition opens tomorrow and an import is meant to be scored now.
"""

import datetime
from dataclasses import dataclass, field, replace
from pathlib import Path

from leadflow.ingest.placement import Coverage, covered_days
from leadflow.ingest.sources import SourceConfigError, SourceSpec, detect_format, import_date_of, spec_for_file
from leadflow.ingest.text import printable_name


@dataclass
class PlannedSource:
    spec: SourceSpec
    new: bool  # to be added to sources.yaml (else the file is already a source)
    coverage: Coverage


@dataclass
class ImportPlan:
    sources: list[PlannedSource] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # (path, why it is not imported)

    def days(self, last_day: datetime.date) -> list[datetime.date]:
        """The partitions the import's signals fill, up to `last_day` (the last complete day)."""
        return sorted({day for s in self.sources for day in s.coverage.days if day <= last_day})

    def later(self, last_day: datetime.date) -> list[datetime.date]:
        """Days after `last_day`: their partitions do not exist yet (the schedule takes them)."""
        return sorted({day for s in self.sources for day in s.coverage.days if day > last_day})


def files_of(path: Path) -> tuple[list[Path], list[tuple[Path, str]]]:
    """The importable files a path stands for: the file, a maildir folder, or a folder's
    importable entries (not recursive, hidden names left out); and what was skipped, with why."""
    if not path.exists():
        return [], [(path, "does not exist")]
    own = detect_format(path)  # a folder's own format is maildir or none
    if own or not path.is_dir():
        return ([path], []) if own else ([], [(path, "not a recognized format")])
    found: list[Path] = []
    skipped: list[tuple[Path, str]] = []
    for child in sorted(path.iterdir()):
        if child.name.startswith("."):
            continue
        if detect_format(child):
            found.append(child)
        else:
            skipped.append((child, "not a recognized format"))
    return found, skipped


def new_source(
    file: Path,
    taken: set[str],
    last_day: datetime.date,
    import_date: datetime.date | None = None,
    name: str | None = None,
    file_format: str | None = None,
) -> SourceSpec:
    """A sources.yaml entry for `file` (absolute path; `file_format`, else detected), named
    `name` or after the file (made unique among `taken`), its import date pinned: `import_date`,
    else the file's own date capped at `last_day`."""
    if not file.exists():
        raise SourceConfigError(f"{file}: does not exist")
    base = name or printable_name(file.name)
    unique, n = base, 1
    while unique in taken:
        n += 1
        unique = f"{base}-{n}"
    path = file.resolve()
    spec = SourceSpec(unique, file_format, str(path)) if file_format else spec_for_file(path, name=unique)
    return replace(spec, import_date=import_date or min(import_date_of(spec, path.parent), last_day))


def plan_import(
    paths: list[Path],
    existing: list[SourceSpec],
    base_dir: Path,
    first_day: datetime.date,
    last_day: datetime.date,
    import_date: datetime.date | None = None,
    watched_folder: Path | None = None,
) -> ImportPlan:
    """The sources `paths` stand for and their coverage. A file already in `existing` (same
    resolved path) keeps its entry and import date; a new one is named after the file (made
    unique) with `import_date` pinned, else its own date capped at `last_day`. Files inside
    `watched_folder` (the imports folder raw_signals reads anyway) are skipped."""
    plan = ImportPlan()
    by_path = {(base_dir / spec.path).resolve(): spec for spec in existing}
    taken = {spec.name for spec in existing}
    watched = watched_folder.resolve() if watched_folder else None
    seen: set[Path] = set()
    for given in paths:
        found, skipped = files_of(given)
        plan.skipped.extend(skipped)
        for file in found:
            resolved = file.resolve()
            if watched is not None and resolved.is_relative_to(watched):
                plan.skipped.append((file, f"inside the imports folder {watched_folder}, read by every run already"))
                continue
            if resolved in seen:  # named twice on the command line
                continue
            seen.add(resolved)
            spec, new = by_path.get(resolved), False
            if spec is None:
                spec, new = new_source(resolved, taken, last_day, import_date), True
                taken.add(spec.name)
            coverage = covered_days(spec, import_date_of(spec, base_dir), base_dir, first_day)
            plan.sources.append(PlannedSource(spec, new, coverage))
    return plan
