"""A signal's text cut into segments at its dossier's citations, so a page can mark what each
section rests on (the templates escape every segment; nothing here is HTML)."""

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Segment:
    text: str
    sections: tuple[str, ...]  # the dossier sections citing this stretch ("" = not cited)


@dataclass(frozen=True)
class Citation:
    section: str
    signal_id: str
    start: int
    end: int
    quote: str
    placed: bool  # the quote stands at its offsets in this signal's text (else listed, not marked)


def citations(dossier: Mapping[str, Any] | None, signal_id: str, text: str) -> list[Citation]:
    """Every citation of a dossier (its `citations`: section -> spans), each checked against
    `text`: a span of another signal of the account, or one whose offsets no longer hold its
    quote, is not placed."""
    found: list[Citation] = []
    for section, spans in ((dossier or {}).get("citations") or {}).items():
        for span in spans or ():
            start, end, quote = int(span.get("start", 0)), int(span.get("end", 0)), str(span.get("quote", ""))
            cited = str(span.get("signal_id", ""))
            placed = cited == signal_id and 0 <= start < end <= len(text) and text[start:end] == quote
            found.append(Citation(section, cited, start, end, quote, placed))
    return found


def segments(text: str, cited: Iterable[Citation]) -> list[Segment]:
    """`text` in order, cut wherever a placed citation starts or ends (overlaps keep every section)."""
    placed = [c for c in cited if c.placed]
    cuts = sorted({0, len(text), *(c.start for c in placed), *(c.end for c in placed)})
    out: list[Segment] = []
    for start, end in itertools.pairwise(cuts):
        sections = tuple(dict.fromkeys(c.section for c in placed if c.start <= start and end <= c.end))
        out.append(Segment(text[start:end], sections))
    return out
