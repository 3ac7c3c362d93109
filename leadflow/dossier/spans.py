"""Where a phrase sits in a signal's text: the offsets every fact and citation carries.

A model copying a phrase changes it in small ways (curly quotes, case, spacing, a dropped
"the" or "and"), so a phrase is looked for exactly, then case/punctuation/whitespace-folded,
then word by word allowing a few words of the signal between the phrase's words. The span is
always the signal's own text: a located fact quotes the signal, never the model.
"""

import re
from dataclasses import dataclass

WORD = re.compile(r"\w+")
_FOLD = str.maketrans(
    {"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-", "\u00a0": " "}
)
MAX_GAP = 2  # signal words allowed between two consecutive words of a phrase
MATCH_KINDS = ("exact", "folded", "gapped")


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    text: str  # == signal text[start:end]

    def citation(self, signal_id: str) -> dict[str, str | int]:
        return {"signal_id": signal_id, "start": self.start, "end": self.end, "quote": self.text}


def fold(text: str) -> str:
    """Lower case, straight quotes and dashes: what two spellings of one phrase share."""
    return text.translate(_FOLD).lower()


def words(text: str) -> list[str]:
    """The folded words of a text, the unit of every run and containment test."""
    return WORD.findall(fold(text))


def _folded_with_index(text: str) -> tuple[str, list[int]]:
    """`text` folded with runs of whitespace collapsed, and each folded character's offset in `text`."""
    out: list[str] = []
    index: list[int] = []
    space = True
    for i, char in enumerate(text):
        folded = fold(char)
        if folded.isspace():
            if space:
                continue
            folded, space = " ", True
        else:
            space = False
        out.extend(folded)
        index.extend([i] * len(folded))
    return "".join(out), index


def _gapped(text: str, phrase: str) -> Span | None:
    """The shortest run of the signal holding every word of `phrase` in order, at most MAX_GAP
    signal words between two of them (a phrase of one word is not matched this way)."""
    needle = words(phrase)
    if len(needle) < 2:
        return None
    tokens = [(fold(m.group()), m.start(), m.end()) for m in WORD.finditer(text)]
    best: tuple[int, int, int] | None = None  # (extra words, start token, end token)
    for first, (token, _, _) in enumerate(tokens):
        if token != needle[0]:
            continue
        position, extra = first, 0
        for word in needle[1:]:
            for step in range(1, MAX_GAP + 2):
                if position + step < len(tokens) and tokens[position + step][0] == word:
                    extra += step - 1
                    position += step
                    break
            else:
                break
        else:
            if best is None or extra < best[0]:
                best = (extra, first, position)
    if best is None or best[0] > len(needle) // 2:
        return None
    start, end = tokens[best[1]][1], tokens[best[2]][2]
    return Span(start, end, text[start:end])


def _find_whole(text: str, needle: str) -> int:
    """The first occurrence of `needle` that does not cut a word of `text` ("Mark" is not found
    in "Marketing"), or -1."""
    start = text.find(needle)
    while start >= 0:
        end = start + len(needle)
        cuts_left = start > 0 and text[start - 1].isalnum() and needle[0].isalnum()
        cuts_right = end < len(text) and text[end].isalnum() and needle[-1].isalnum()
        if not (cuts_left or cuts_right):
            return start
        start = text.find(needle, start + 1)
    return -1


def locate(text: str, phrase: str) -> tuple[Span, str] | None:
    """(span, how it matched: one of MATCH_KINDS), or None when the signal does not hold it."""
    phrase = phrase.strip()
    if not phrase:
        return None
    start = _find_whole(text, phrase)
    if start >= 0:
        return Span(start, start + len(phrase), phrase), "exact"
    folded, index = _folded_with_index(text)
    needle = _folded_with_index(phrase)[0].strip()
    found = _find_whole(folded, needle)
    if found >= 0:
        start, end = index[found], index[found + len(needle) - 1] + 1
        return Span(start, end, text[start:end]), "folded"
    span = _gapped(text, phrase)
    return (span, "gapped") if span is not None else None


def clip(span: Span, max_words: int) -> Span:
    """The span cut after its first `max_words` words (still the signal's own text)."""
    found = list(WORD.finditer(span.text))
    if len(found) <= max_words:
        return span
    end = found[max_words - 1].end()
    return Span(span.start, span.start + end, span.text[:end])
