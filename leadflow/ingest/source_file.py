"""Editing a sources.yaml without hand-editing YAML (`leadflow sources add|remove`, `leadflow import`).

A change rewrites the file from its parsed entries, each with only the fields that differ from
the defaults; the comment block at its top (the field reference) is kept, comments between
entries are not. The result is re-read by `load_sources` before it replaces the file, so an
edit never leaves a file the pipeline refuses.
"""

import os
import tempfile
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import yaml

from leadflow.ingest.sources import SourceConfigError, SourceSpec, load_sources

_DEFAULTS = {f.name: f.default for f in fields(SourceSpec) if f.name not in ("name", "format", "path")}


def entry(spec: SourceSpec) -> dict[str, Any]:
    """A spec as a sources.yaml entry: name, format, path, then the fields not at their default."""
    values = {"name": spec.name, "format": spec.format, "path": spec.path}
    return values | {name: getattr(spec, name) for name, default in _DEFAULTS.items() if getattr(spec, name) != default}


def header(text: str) -> str:
    """The comment lines (and blank lines) a sources.yaml starts with."""
    lines = []
    for line in text.splitlines(keepends=True):
        if line.strip() and not line.lstrip().startswith("#"):
            break
        lines.append(line)
    return "".join(lines)


def write_sources(path: Path, specs: list[SourceSpec], head: str = "") -> None:
    """Replace `path` with `specs` under the comment block `head`, atomically, once the new
    text reads back as these specs."""
    body = yaml.safe_dump({"sources": [entry(spec) for spec in specs]}, sort_keys=False, allow_unicode=True)
    text = (head.rstrip("\n") + "\n" if head.strip() else "") + body
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, scratch = tempfile.mkstemp(dir=path.parent, prefix=".sources-", suffix=".yaml")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as f:
            f.write(text)
        if load_sources(scratch) != specs:
            raise SourceConfigError(f"{path}: the edited file would not read back as written")
        os.replace(scratch, path)
    finally:
        if os.path.exists(scratch):
            os.unlink(scratch)


def seed_sources(template: Path, target: Path) -> None:
    """Create `target` (if missing) with `template`'s entries and header, their paths made
    absolute so they still point at the template's files from the target's folder."""
    if target.exists():
        return
    specs = [replace(spec, path=str(template.parent / spec.path)) for spec in load_sources(template)]
    write_sources(target, specs, header(template.read_text(encoding="utf-8")))


def add_sources(path: Path, new: list[SourceSpec]) -> None:
    """Append `new` to the sources of `path` (created if missing). A name already used, or a file
    already declared (it would be read twice), is refused."""
    existing = load_sources(path) if path.exists() else []
    taken = {spec.name for spec in existing} & {spec.name for spec in new}
    if taken:
        raise SourceConfigError(f"{path}: source name(s) already used: {', '.join(sorted(taken))}")
    declared = {(path.parent / spec.path).resolve(): spec.name for spec in existing}
    twice = [
        f"{spec.path} (as {declared[p]})" for spec in new if (p := (path.parent / spec.path).resolve()) in declared
    ]
    if twice:
        raise SourceConfigError(f"{path}: already a source: {', '.join(twice)}")
    head = header(path.read_text(encoding="utf-8")) if path.exists() else ""
    write_sources(path, [*existing, *new], head)


def remove_source(path: Path, name: str) -> SourceSpec:
    """Remove the source called `name` from `path`; returns it."""
    specs = load_sources(path)
    gone = next((spec for spec in specs if spec.name == name), None)
    if gone is None:
        raise SourceConfigError(f"{path}: no source named {name!r}; there are: {', '.join(s.name for s in specs)}")
    write_sources(path, [spec for spec in specs if spec is not gone], header(path.read_text(encoding="utf-8")))
    return gone
