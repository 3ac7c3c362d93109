"""Lead scores for emails, from their analysis (issue 9): intent x ICP fit, with the reasons.

    intent  = max over lead types t of lead_value(t) * calibrated(p(t), cut(t))
    icp_fit = 0.5 * marketing_role + 0.5 * company_fit
    score   = intent * (ICP_FLOOR + (1 - ICP_FLOOR) * icp_fit)

- p(t), cut(t): the email typer's probability and its cross-validated decision cut per type;
  `calibrated` maps p = cut to the `warm` boundary (as the job head's score does), p = 0 to 0
  and p = 1 to 100, linearly in between.
- lead types: employment, buying intent, deal / partnership (their `lead_value` from the
  taxonomy); every other type is not a lead on its own.
- marketing_role: 1 when the email names a marketing, advertising or PR role (the ICP's hire).
- company_fit: the email's ICP similarity scaled between the golden postings' negative and
  positive medians (the fitted scorer's `sim_low` / `sim_high`), clipped to 0..1.
- An email decided to be spam is capped below `parked`: bulk mail never reaches a rep.

So a decided hiring email reaches `nurture` on intent alone and `warm` or `red_hot` with the ICP
(a marketing or PR hire at a company like the ICP's); a newsletter or a meeting note does not.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from leadflow.analysis.taxonomy import SPAM, TYPE_BY_KEY
from leadflow.scoring.cascade import CLIP_PART, IcpScorer, Thresholds
from leadflow.scoring.explanation import Part

LEAD_TYPES = ("employment", "buying_intent", "deal_partnership")
NO_LEAD_TYPE = "no lead type"  # the intent's name when the typer decides none well enough
ICP_FLOOR = 0.75  # share of the intent an email keeps with no ICP evidence at all
MARKETING_ROLE = re.compile(
    r"\b(?:marketing|advertising|public relations|pr|communications|brand|content|social media|"
    r"growth|demand generation)\s+(?:\w+\s+)?(?:manager|director|lead|head|coordinator|specialist|"
    r"associate|assistant|executive|person|hire|position|role|vp|officer)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class EmailLead:
    score: float  # 0-100
    reasons: tuple[str, ...]
    parts: tuple[Part, ...]  # intent, role and company fit (and a spam cap): they sum to `score`
    intents: dict[str, float]  # the typer's probability of each lead type


def calibrated(proba: float, cut: float, warm: float) -> float:
    """p = cut -> warm, linear below and above (0 -> 0, 1 -> 100)."""
    cut = min(max(cut, 1e-6), 1 - 1e-6)
    if proba < cut:
        return warm * proba / cut
    return warm + (100 - warm) * (proba - cut) / (1 - cut)


def lead_intents(type_scores: Mapping[str, float], cuts: Mapping[str, float], warm: float) -> dict[str, float]:
    """Each lead type's intent: its lead value times its calibrated probability (0-100). Only
    the lead types with a cut in `cuts` count (the typer's `lead_cuts` leaves out a type its
    golden set cannot decide well enough); none at all gives 0."""
    return {
        key: TYPE_BY_KEY[key].lead_value * calibrated(type_scores.get(key, 0.0), cuts[key], warm)
        for key in LEAD_TYPES
        if key in cuts
    } or {NO_LEAD_TYPE: 0.0}


def lead_ceiling(type_scores: Mapping[str, float], cuts: Mapping[str, float], thresholds: Thresholds) -> float:
    """The highest lead score the email can reach (a full ICP fit), from its types alone: what
    the analysis knows before the ICP stage, to spend the small model only on emails that can
    become a lead a rep sees. Decided spam is capped as in `email_lead`."""
    if type_scores.get(SPAM.key, 0.0) >= cuts[SPAM.key]:
        return float(thresholds.parked - 1)
    return max(lead_intents(type_scores, cuts, thresholds.warm).values())


def company_fit(scorer: IcpScorer, icp_similarity: float) -> float:
    span = max(scorer.sim_high - scorer.sim_low, 1e-6)
    return float(np.clip((icp_similarity - scorer.sim_low) / span, 0.0, 1.0))


def email_lead(
    scorer: IcpScorer,
    type_scores: Mapping[str, float],
    cuts: Mapping[str, float],
    text: str,
    icp_similarity: float,
) -> EmailLead:
    """The email's lead score and the reasons a rep reads beside it."""
    intents = lead_intents(type_scores, cuts, scorer.thresholds.warm)
    best = max(intents, key=lambda key: intents[key])
    role = MARKETING_ROLE.search(text)
    fit = company_fit(scorer, icp_similarity)
    share = (1 - ICP_FLOOR) * 0.5 * intents[best]  # what each of role and company fit may add
    label = best.replace("_", " ")
    parts = [
        Part(f"intent ({label})", ICP_FLOOR * intents[best], f"p={type_scores.get(best, 0.0):.2f}"),
        Part("marketing/PR role", share * float(role is not None), repr(role.group(0)) if role else "none named"),
        Part("company fit", share * fit, f"ICP similarity {icp_similarity:.2f}"),
    ]
    score = sum(part.points for part in parts)
    reasons = [
        f"{label}: p={type_scores.get(best, 0.0):.2f} (decided from {cuts[best]:.2f})" if best in cuts else label,
        f"names a marketing/PR role: {role.group(0)!r}" if role else "names no marketing/PR role",
        f"ICP similarity {icp_similarity:.2f} (company fit {fit:.2f})",
    ]
    final = float(np.clip(score, 0, 100))
    if type_scores.get(SPAM.key, 0.0) >= cuts[SPAM.key]:
        final = min(final, scorer.thresholds.parked - 1)
        reasons.append("decided bulk/spam: kept below parked")
        parts.append(Part("bulk/spam cap", final - score, "kept below parked"))
    elif final != score:
        parts.append(Part(CLIP_PART, final - score))
    return EmailLead(
        round(final, 2),
        tuple(reasons),
        tuple(parts),
        {key: round(float(type_scores.get(key, 0.0)), 3) for key in LEAD_TYPES},
    )
