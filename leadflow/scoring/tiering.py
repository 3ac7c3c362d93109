"""Tiered model selection for the prefilter classification (design doc 004 routes by message
complexity; leadflow also routes by confidence): a short, simple signal goes to the small model,
a complex one to the bigger model, and a small-model answer escalates to the bigger model when
it is uncertain (a score in the undecided band) or contradicts the cheap stage (the two put the
signal on different sides of the `warm` cut). `bench.semantic_tiering` measures the calls it
saves and the golden-set F1 with and without it; it is off by default.
"""

from dataclasses import dataclass

BIG_ROLE = "dossier"  # the catalog tier whose model is the bigger one


@dataclass(frozen=True)
class TierPolicy:
    simple_words: int = 120  # a signal of at most this many words (and one question) is simple
    uncertain_low: int = 40  # a small-model score in [uncertain_low, uncertain_high] is undecided
    uncertain_high: int = 60

    def is_complex(self, text: str) -> bool:
        return len(text.split()) > self.simple_words or text.count("?") > 1

    def escalation(self, llm_score: float | None, cheap_score: float, warm: float) -> str | None:
        """Why the small model's answer goes to the bigger model (None: it stands)."""
        if llm_score is None:
            return None
        if self.uncertain_low <= llm_score <= self.uncertain_high:
            return "uncertain"
        if (llm_score >= warm) != (cheap_score >= warm):
            return "contradicts the cheap stage"
        return None
