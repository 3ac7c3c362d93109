"""The labelled golden set (`resources/golden/golden_100.jsonl`)."""

import json
from pathlib import Path

import pandas as pd


def load_golden(path: Path) -> pd.DataFrame:
    rows = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    frame = pd.DataFrame(rows)
    missing = {"job_id", "title", "is_icp"} - set(frame.columns)
    if missing:
        raise ValueError(f"{path}: golden rows lack {sorted(missing)}")
    frame["is_icp"] = frame["is_icp"].astype(bool)
    description = frame["description"].fillna("") if "description" in frame.columns else ""
    frame["text"] = (frame["title"] + ". " + description).str.strip()
    return frame
