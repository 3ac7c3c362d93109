"""Prompt templates from `prompts/*.yaml`: id, version, variables, messages, output schema, defaults.

The content hash of the file goes into every cache key, so editing a prompt invalidates
exactly the answers it produced. Files are re-read when their mtime changes, so a
long-lived code server picks up edits without a restart.
"""

import hashlib
import os
import string
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from leadflow.llm.cache_key import canonical_json


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

    @property
    def label(self) -> str:
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

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self._lock = threading.Lock()
        self._cache: dict[Path, tuple[tuple[int, int], PromptTemplate]] = {}
        self._paths: dict[str, Path] = {}  # template id -> file, built once

    def _load(self, path: Path) -> PromptTemplate:
        stat = os.stat(path)  # the one system call of a get (a cache hit's path): it also tells a missing file
        stamp = (stat.st_mtime_ns, stat.st_size)  # size too: two edits can share an mtime tick
        cached = self._cache.get(path)
        if cached and cached[0] == stamp:
            return cached[1]
        template = _parse(path, path.read_bytes())
        self._cache[path] = (stamp, template)
        return template

    def get(self, template_id: str) -> PromptTemplate:
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
            return template

    def all(self) -> list[PromptTemplate]:
        return [self.get(path.stem) for path in sorted(self.directory.glob("*.yaml"))]
