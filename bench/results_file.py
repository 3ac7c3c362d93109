"""Where a focused benchmark leaves its figures: `<out>/<name>_<UTC stamp>.json`."""

import datetime
import json
from pathlib import Path
from typing import Any


def save_results(results: dict[str, Any], out_dir: Path, name: str) -> Path:
    """Write `results` as indented JSON under a UTC-stamped name and return the path."""
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}_{stamp}.json"
    path.write_text(json.dumps(results, indent=2, default=str, ensure_ascii=False))
    return path
