"""Prompt templates from `prompts/*.yaml`: id, version, variables, messages, output schema, defaults.

The content hash of the file goes into every cache key, so editing a prompt invalidates
exactly the answers it produced. Files are re-read when their mtime or size changes, so a
long-lived code server picks up edits without a restart. A template's file is looked at at
most once per `RECHECK_S`, and again whenever a caller starts new work (`recheck`: each asset
that asks for the shared client): a `get` in between is a dictionary lookup (it runs on every
cache hit, where a `stat` was a fifth of the cost).
"""

import hashlib
import os
import string
import threading
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from leadflow.llm.cache_key import canonical_json

RECHECK_S = 1.0  # an edited prompt is seen by the next `get` at most this many seconds later


class TemplateError(ValueError):
    """A template file is malformed, or rendering got the wrong variables."""


@dataclass(frozen=True)
class PromptTemplate:
    id: str
    version: str
    role: str
    description: str
    variables: tuple[str, ...]
    messages: tuple[tuple[str, str], ...]
    output_schema: dict[str, Any] | None
    defaults: dict[str, Any] = field(default_factory=dict)
    content_hash: str = ""
    schema_hash: str = ""  # of the canonical output schema: computed once, part of every cache key

    @cached_property
    def label(self) -> str:
        """`id@vN`: in every call record (cache hits included), so worked out once."""
        return f"{self.id}@v{self.version}"

    def render(self, variables: dict[str, Any]) -> tuple[dict[str, str], ...]:
        missing = set(self.variables) - set(variables)
        extra = set(variables) - set(self.variables)
        if missing or extra:
            raise TemplateError(
                f"template {self.label}: missing variables {sorted(missing)}, unexpected {sorted(extra)}"
            )
        return tuple({"role": role, "content": content.format_map(variables)} for role, content in self.messages)


def _parse(path: Path, raw_bytes: bytes) -> PromptTemplate:
    raw = yaml.safe_load(raw_bytes)
    required = ("id", "version", "role", "variables", "messages")
    if not isinstance(raw, dict) or any(key not in raw for key in required):
        raise TemplateError(f"{path}: a template needs the keys {list(required)}")
    messages = tuple((m["role"], m["content"]) for m in raw["messages"])
    variables = tuple(raw["variables"])
    used = {name for _, content in messages for _, name, _, _ in string.Formatter().parse(content) if name is not None}
    if used != set(variables):
        raise TemplateError(f"{path}: declared variables {sorted(variables)} but messages use {sorted(used)}")
    return PromptTemplate(
        id=raw["id"],
        version=str(raw["version"]),
        role=raw["role"],
        description=raw.get("description", ""),
        variables=variables,
        messages=messages,
        output_schema=raw.get("output_schema"),
        defaults=raw.get("defaults") or {},
        content_hash=hashlib.sha256(raw_bytes).hexdigest(),
        schema_hash=hashlib.sha256(canonical_json(raw.get("output_schema")).encode()).hexdigest(),
    )


class PromptLibrary:
    """Loads templates by id from a directory and reloads a file when it changes."""

    def __init__(self, directory: Path, recheck_s: float = RECHECK_S):
        self.directory = Path(directory)
        self.recheck_s = recheck_s
        self._lock = threading.Lock()
        self._cache: dict[Path, tuple[tuple[int, int], PromptTemplate]] = {}
        self._paths: dict[str, Path] = {}  # template id -> file, built once
        self._checked: dict[str, tuple[float, PromptTemplate]] = {}  # id -> (next check, template)

    def _load(self, path: Path) -> PromptTemplate:
        stat = os.stat(path)  # it also tells a missing file
        stamp = (stat.st_mtime_ns, stat.st_size)  # size too: two edits can share an mtime tick
        cached = self._cache.get(path)
        if cached and cached[0] == stamp:
            return cached[1]
        template = _parse(path, path.read_bytes())
        self._cache[path] = (stamp, template)
        return template

    def recheck(self) -> None:
        """The next `get` of each template looks at its file (a new run or asset starts)."""
        with self._lock:
            self._checked.clear()

    def get(self, template_id: str) -> PromptTemplate:
        checked = self._checked.get(template_id)
        if checked is not None and checked[0] > time.monotonic():
            return checked[1]
        with self._lock:
            path = self._paths.get(template_id)
            if path is None:
                path = self._paths[template_id] = self.directory / f"{template_id}.yaml"
            try:
                template = self._load(path)
            except FileNotFoundError:
                raise TemplateError(f"no prompt template {template_id!r} in {self.directory}") from None
            if template.id != template_id:
                raise TemplateError(f"{path}: id {template.id!r} does not match its file name")
            if self.recheck_s > 0:
                self._checked[template_id] = (time.monotonic() + self.recheck_s, template)
            return template

    def all(self) -> list[PromptTemplate]:
        return [self.get(path.stem) for path in sorted(self.directory.glob("*.yaml"))]
