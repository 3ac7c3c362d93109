"""Why a lead has its score: the parts it is made of, which add up to the final score.

- A posting's cheap score is the calibrated logistic head on (title embedding, keyword rule, ICP
  similarity). The head is not additive, so each feature's part is its Shapley value (the
  average change of the score when the feature joins, over every order of the three), after the
  score of no evidence at all (the head's baseline). Exact: they sum to the cheap score.
- An email's or an account's cheap score is a sum already (`IcpScorer.similarity_scores`,
  `leadflow.scoring.email_leads`): its terms are its parts.
- The final score blends: every cheap part times (1 - llm_weight), plus the small model's
  part, llm_weight times its (possibly capped) score.
Parts are rounded to 0.01 and the rounding remainder goes to the largest one, so the stored
parts sum to the stored score exactly.
"""

import itertools
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

MODEL_PART = "small model"


@dataclass(frozen=True)
class Part:
    name: str  # what moved the score
    points: float  # its share of the score (negative: it lowered the score)
    detail: str = ""


def shapley(value: Callable[[frozenset[int]], np.ndarray], players: int) -> list[np.ndarray]:
    """Each player's Shapley value of `value` (a vector per coalition: one entry per row)."""
    worth = {
        frozenset(c): value(frozenset(c))
        for size in range(players + 1)
        for c in itertools.combinations(range(players), size)
    }
    shares = []
    for player in range(players):
        share = np.zeros_like(worth[frozenset()], dtype=float)
        for coalition, base in worth.items():
            if player in coalition:
                continue
            weight = math.factorial(len(coalition)) * math.factorial(players - len(coalition) - 1)
            share = share + weight / math.factorial(players) * (worth[coalition | {player}] - base)
        shares.append(share)
    return shares


def blended(cheap: Sequence[Part], llm_weight: float, model_points: float | None, model_detail: str) -> list[Part]:
    """The final score's parts: the cheap parts, scaled by the blend when the model answered."""
    if model_points is None:
        return list(cheap)
    scale = 1 - llm_weight
    return [
        *(Part(p.name, p.points * scale, p.detail) for p in cheap),
        Part(MODEL_PART, llm_weight * model_points, model_detail),
    ]


def rounded(parts: Sequence[Part], total: float) -> list[Part]:
    """`parts` rounded to 0.01, the remainder to `total` on the largest part."""
    out = [Part(p.name, round(p.points, 2), p.detail) for p in parts]
    if not out:
        return out
    largest = max(range(len(out)), key=lambda i: abs(out[i].points))
    rest = round(total - sum(p.points for p in out), 2)
    out[largest] = Part(out[largest].name, round(out[largest].points + rest, 2), out[largest].detail)
    return out


def explanation_json(
    final_score: float,
    parts: Sequence[Part],
    model: Mapping[str, Any] | None = None,
    intents: Mapping[str, float] | None = None,
) -> str:
    """The stored explanation: score, its parts, the small model's answer, an email's intents."""
    return json.dumps(
        {
            "score": final_score,
            "parts": [{"name": p.name, "points": p.points, "detail": p.detail} for p in rounded(parts, final_score)],
            "model": dict(model) if model else None,
            "intents": dict(intents) if intents else None,
        }
    )


def explanation_text(explanation: Mapping[str, Any] | None) -> str:
    """One line a reader scans: "title head +32.10, keyword rule +8.00, ..." (largest first)."""
    if not explanation:
        return ""
    parts = sorted(explanation.get("parts") or [], key=lambda p: -abs(p["points"]))
    return ", ".join(f"{p['name']} {p['points']:+.2f}" for p in parts)
