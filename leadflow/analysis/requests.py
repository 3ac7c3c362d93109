"""Requests / action items in an email and whether a reply is expected.

Cheap for every email: a sentence of the sender's own text (before the first forwarded or
quoted block) that asks something ("please ...", "could you ...", "let me know ...", a
question) is a request, and any request means a reply is expected. For candidate emails the
small model's requests, located in the text, are added, and a reply is expected when either
the cues or the model say so.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from leadflow.analysis.entities import locate

MAX_REQUESTS = 3
OWN_TEXT_CHARS = 1500  # the sender's own words come first; forwarded or quoted text follows
_REQUEST = re.compile(
    r"\b(?:please|pls|kindly|could you|can you|would you|will you|let me know|let us know|get back to me|"
    r"call me|give me a call|send me|rsvp|your thoughts|what do you think|i need you to|we need you to)\b"
    r"|\?\s*$",
    re.IGNORECASE,
)
_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+|$)", re.MULTILINE)
_QUOTE_START = re.compile(r"^\s*(?:-{2,}|_{5,}|>|From:|Sent:|To:)", re.MULTILINE)


@dataclass(frozen=True)
class Request:
    text: str  # exactly text[start:end]
    start: int
    end: int
    source: str = "rule"

    def as_dict(self) -> dict[str, Any]:
        return {"text": self.text, "start": self.start, "end": self.end, "source": self.source}


def own_text_end(text: str) -> int:
    """Where the sender's own words stop: the first quote or forward marker, at most OWN_TEXT_CHARS."""
    match = _QUOTE_START.search(text, 1)
    return min(match.start() if match else len(text), OWN_TEXT_CHARS)


def cheap_requests(text: str) -> list[Request]:
    own = text[: own_text_end(text)]
    found = []
    for m in _SENTENCE.finditer(own):
        sentence = m.group().strip()
        if len(sentence) >= 8 and _REQUEST.search(sentence):
            start = m.start() + m.group().index(sentence)
            found.append(Request(sentence, start, start + len(sentence)))
    return found[:MAX_REQUESTS]


@dataclass(frozen=True)
class GroundedRequests:
    requests: list[Request]
    dropped: int  # model requests not found in the text


def ground_model_requests(text: str, requests: Iterable[str]) -> GroundedRequests:
    found, dropped = [], 0
    for request in requests:
        span = locate(text, request)
        if span is None:
            dropped += 1
        else:
            found.append(Request(text[span[0] : span[1]], span[0], span[1], "model"))
    return GroundedRequests(found, dropped)


def merge_requests(*groups: Iterable[Request]) -> list[Request]:
    """Requests in text order, one per overlapping span, at most MAX_REQUESTS."""
    kept: list[Request] = []
    for request in sorted((r for g in groups for r in g), key=lambda r: (r.start, -(r.end - r.start))):
        if not any(request.start < k.end and k.start < request.end for k in kept):
            kept.append(request)
    return kept[:MAX_REQUESTS]
