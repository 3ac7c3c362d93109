"""Ideal Customer Profiles from `resources/icp.yaml`."""

from dataclasses import dataclass
from pathlib import Path

import yaml


@dataclass(frozen=True)
class IcpProfile:
    id: str
    name: str
    description: str
    prototypes: tuple[str, ...]


def load_icp(path: Path) -> list[IcpProfile]:
    raw = yaml.safe_load(Path(path).read_text())
    profiles = [
        IcpProfile(id=p["id"], name=p["name"], description=p["description"].strip(), prototypes=tuple(p["prototypes"]))
        for p in raw.get("profiles", [])
    ]
    if not profiles:
        raise ValueError(f"{path}: no ICP profiles defined")
    return profiles


def icp_context(profiles: list[IcpProfile]) -> str:
    """The ICP text that opens every prompt (static, so the engine caches its prefill)."""
    return "\n".join(f"- {p.name}: {p.description}" for p in profiles)
