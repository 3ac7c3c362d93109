"""Text in a signal that speaks to the models instead of the reader (prompt injection): found,
cut out before a model or the embedder reads the signal, and never allowed to lift a score.

A signal is data. A posting or an email that says "ignore all previous instructions", carries
the model's own chat markup, or dictates the answer (`"score": 100`, `red_hot`) is steering
the small model, whose score is one term of the blend. Measured on sample twins
(tests/defs/test_prompt_injection.py): the 0.5B model answered 100 to every such form (85 to
the clean twins), which lifted one posting over the dossier threshold.

Three kinds of cue, each narrow enough that none fires on the bundled samples and golden sets
(tests/scoring/test_injection.py):

- markup: chat-template control tokens (`<|im_start|>`, `[INST]`, `<<SYS>>`): the engine reads
  them as turn boundaries, so everything from the first to the last is a forged conversation;
- override: an order to drop the instructions, or a message addressed to the model;
- dictation: the answer itself: a field of the classification with a value, a bucket's own
  name, a score of 100.

A sentence, line or JSON object holding an override or dictation cue is cut whole.
"""

import re

_MARKUP = re.compile(
    r"(?:<\|[A-Za-z_]{2,30}\|>|\[/?INST\]|<</?SYS>>|</?(?:start|end)_of_turn>)"
    r"(?:[ \t]*(?:system|user|assistant|developer|model)\b)?"  # the role a turn marker opens
)
_QUALIFIER = r"(?:previous|prior|above|earlier|preceding|foregoing|original|system|your|all|any)"
_RULES = r"(?:instructions?|prompts?|rules|guidelines|directions|directives)"
_CUES = re.compile(
    "|".join(
        [
            # override
            rf"\b(?:ignore|disregard|forget|override)\s+(?:\w+\s+){{0,2}}?{_QUALIFIER}\s+(?:\w+\s+){{0,2}}?{_RULES}\b",
            rf"\b{_QUALIFIER}\s+(?:\w+\s+)?{_RULES}\s+(?:are|is)\s+(?:now\s+)?"
            r"(?:void|cancel\w*|null|obsolete|revoked|overridden|superseded|no longer valid)\b",
            r"\b(?:system|developer)\s+(?:message|prompt|instructions?|override)\b",
            r"\b(?:instructions?|message|note|orders?)\s+(?:from|by)\s+the\s+(?:administrator|admin|developer|operator)\b",
            r"\b(?:message|note|instructions?)\s+(?:to|for)\s+(?:the\s+)?(?:ai|llm|model|assistant|chatbot|gpt|scorer|"
            r"classifier|bot)\b",
            r"\b(?:output|return|print|emit)\s+(?:exactly\s+|only\s+)?(?:this|that|the following|the above)\s+"
            r"(?:json|answer|output)\b",
            # dictation
            r'"(?:score|final_score|bucket|hiring|role_function|seniority|reasons)"\s*:',
            r"\b(?:red|hot)_(?:hot|lead)\b",
            r"\b(?:bucket|mark|label|classify|flag|tag)\w*\b[^.\n]{0,40}\b(?:red[ -]hot|hot lead)\b",
            r"\b(?:score|rate|rating)\s*(?:[:=]|it|this(?:\s+lead|\s+signal)?)?\s*100\b",
            r"\ba\s+score\s+of\s+100\b",  # "give it a score of 100", not "an index score of 100"
            r"\bhiring\s*[:=]?\s*true\b(?![ \t]+\w)",  # the field's value, not "hiring true believers"
        ]
    ),
    re.IGNORECASE,
)
# A sentence, a line, or up to the end of a JSON object: what a cue takes with it.
_SENTENCE = re.compile(r"[^.!?\n}]*(?:\}[.!?]*|[.!?]+|(?=\n)|$)[ \t]*")


def instruction_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each stretch of `text` addressed to a model, in order, not overlapping."""
    if not _CUES.search(text) and not _MARKUP.search(text):  # one pass settles almost every signal
        return []
    spans, scan = [], text
    markers = list(_MARKUP.finditer(text))
    if markers:
        start, end = markers[0].start(), markers[-1].end()
        spans.append((start, end))
        scan = text[:start] + "\n" * (end - start) + text[end:]  # the forged turns end the sentences around them
    for sentence in _SENTENCE.finditer(scan):
        if sentence.group().strip() and _CUES.search(sentence.group()):
            spans.append(sentence.span())
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def addresses_model(*texts: str) -> bool:
    return any(instruction_spans(text) for text in texts)


def neutralize(text: str) -> str:
    """`text` without what it says to a model, each cut taking the blank space after it (so the
    text reads as if it had never been there); the same string when it says nothing."""
    spans = instruction_spans(text)
    if not spans:
        return text
    kept, last = [], 0
    for start, end in spans:
        if start < last:  # the blank after the previous cut reached into this one
            start = last
        kept.append(text[last:start])
        last = end + len(text[end:]) - len(text[end:].lstrip())
        if kept[-1] and not kept[-1][-1].isspace() and last > end:
            last = end + 1  # one blank keeps the words on either side apart
    kept.append(text[last:])
    return "".join(kept).strip()
