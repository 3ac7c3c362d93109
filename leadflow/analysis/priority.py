"""An email's 0-100 priority and business-value estimate (design doc 001's priority score).

    business_value = max over types t of p(t) * lead_value(t), times (1 - p(spam))
    priority = 100 * (0.70 * business_value + 0.10 * reply_expected
                      + 0.10 * money + 0.10 * recency)

- p(t): the type probabilities of `EmailTyper.type_scores`; lead_value(t) from the taxonomy
  (employment and buying intent 1.0, deal / partnership 0.8, document review 0.3, scheduling
  0.25, newsletter and personal 0.05, spam 0): the expected worth of the most valuable reading.
- money: log10(1 + largest US-dollar amount) / 7 clipped to 1 ($10M and more = 1; 0 without one).
- recency: 0.5 ** (age in days / 30) against `as_of` (the run's date); 0 without `as_of`.
- Spam never reaches `nurture`: when p(spam) is at or above its decision cut the priority is
  capped below the `parked` bucket.
"""

import datetime
import math
from dataclasses import dataclass

from leadflow.analysis.rules import RULE_DECISION
from leadflow.analysis.taxonomy import SPAM, TYPES
from leadflow.scoring.cascade import Thresholds

VALUE_WEIGHT = 0.70
REPLY_WEIGHT = 0.10
MONEY_WEIGHT = 0.10
RECENCY_WEIGHT = 0.10
MONEY_FULL_USD_LOG10 = 7.0  # $10M
RECENCY_HALF_LIFE_DAYS = 30.0
SPAM_PRIORITY_CAP = Thresholds().parked - 1  # "filtered": below every bucket a rep looks at
LLM_MIN_PRIORITY = 30  # cheap priority from which the small model extracts entities and requests


@dataclass(frozen=True)
class Priority:
    score: int  # 0-100
    business_value: float  # 0..1
    reasons: tuple[str, ...]


def business_value(type_scores: dict[str, float]) -> tuple[float, str]:
    """The expected lead value of the most valuable type, discounted by spam; and that type."""
    best = max(TYPES, key=lambda t: type_scores.get(t.key, 0.0) * t.lead_value)
    value = type_scores.get(best.key, 0.0) * best.lead_value * (1.0 - type_scores.get(SPAM.key, 0.0))
    return round(value, 4), best.key


def priority(
    type_scores: dict[str, float],
    *,
    reply_expected: bool,
    money_usd: float | None,
    sent: datetime.date | None,
    as_of: datetime.date | None,
) -> Priority:
    value, best = business_value(type_scores)
    money = min(1.0, math.log10(1.0 + money_usd) / MONEY_FULL_USD_LOG10) if money_usd else 0.0
    age = (as_of - sent).days if as_of is not None and sent is not None else None
    recency = 0.5 ** (max(age, 0) / RECENCY_HALF_LIFE_DAYS) if age is not None else 0.0
    raw = VALUE_WEIGHT * value + REPLY_WEIGHT * float(reply_expected) + MONEY_WEIGHT * money + RECENCY_WEIGHT * recency
    score = round(100 * min(max(raw, 0.0), 1.0))
    reasons = [f"{best} {type_scores.get(best, 0.0):.2f}"]
    if reply_expected:
        reasons.append("reply expected")
    if money_usd:
        reasons.append(f"money ${money_usd:,.0f}")
    if type_scores.get(SPAM.key, 0.0) >= RULE_DECISION:
        score = min(score, SPAM_PRIORITY_CAP)
        reasons.append(f"spam {type_scores[SPAM.key]:.2f}: capped")
    return Priority(score, value, tuple(reasons))
