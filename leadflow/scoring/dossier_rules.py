"""What makes a dossier acceptable: every section present, long enough, and not a copy of the input.

Used twice: by the LLM client's validator (an unacceptable dossier is re-asked once, then
handed to the fallback model, and never cached) and by the dossier asset check.
"""

import re

SECTIONS = ("company_summary", "trigger", "icp_fit", "decision_makers", "suggested_opener", "risks")
MIN_CHARS = 160
MAX_COPIED_SHARE = 0.6  # an echo copies ~all of its runs; a faithful summary may reuse some phrases
SHINGLE = 6


def _shingles(text: str) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+", text.lower())
    return {tuple(words[i : i + SHINGLE]) for i in range(len(words) - SHINGLE + 1)}


def section_text(value: dict, section: str) -> str:
    """One section as text (a list section, such as decision makers, joined by spaces)."""
    item = value.get(section)
    return " ".join(item) if isinstance(item, list) else str(item or "")


def dossier_text(value: dict) -> str:
    return "\n".join(section_text(value, section) for section in SECTIONS)


def copied_share(value: dict, source_text: str) -> float:
    """Share of the dossier's 6-word runs that appear verbatim in the signal."""
    own = _shingles(dossier_text(value))
    return len(own & _shingles(source_text)) / len(own) if own else 0.0


def dossier_problems(value: dict, source_text: str) -> list[str]:
    problems = [f"missing section {s}" for s in SECTIONS if not value.get(s)]
    chars = len(dossier_text(value))
    if chars < MIN_CHARS:
        problems.append(f"too short ({chars} < {MIN_CHARS} characters)")
    share = copied_share(value, source_text)
    if share > MAX_COPIED_SHARE:
        problems.append(f"copies the signal ({share:.0%} of its 6-word runs appear verbatim)")
    return problems
