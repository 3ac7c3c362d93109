"""Is a dossier grounded in its signals? The check a sales rep's trust rests on.

Used as the validator of the model-written prose (a failing answer is re-asked once with the
defects, then replaced by composed text) and on every finished dossier (the asset check).
A defect names its kind (DEFECT_KINDS), so rates per kind can go into metadata:

- unsupported_entity: a name (capitalized words, an acronym) that no signal holds;
- unsupported_number: a number that no signal holds (the lead's own score is allowed);
- score_contradiction: `icp_fit` says the opposite of the bucket the score put the lead in;
- copied_run: COPY_RUN_WORDS or more consecutive words copied from a signal;
- icp_echo: ICP_RUN_WORDS consecutive words, or a whole sentence or list item, taken from the
  ICP text (and not from the signal);
- missing_company: the signals name the company and the dossier does not;
- hire_as_decision_maker: the role being hired listed as the one who decides;
- bad_citation: a citation whose offsets do not hold its quote;
- unfinished_sentence: a summary or opener cut off mid-sentence (a length limit hit);
- candidate_voice: an opener written as the hiring company or to a job candidate, not from the
  rep to the company;
- missing_section: a section that is absent or empty.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from leadflow.dossier.spans import WORD, fold, words
from leadflow.scoring.dossier_rules import SECTIONS
from leadflow.scoring.icp import IcpProfile, icp_context

DEFECT_KINDS = (
    "missing_section",
    "unsupported_entity",
    "unsupported_number",
    "score_contradiction",
    "copied_run",
    "icp_echo",
    "missing_company",
    "hire_as_decision_maker",
    "bad_citation",
    "unfinished_sentence",
    "candidate_voice",
)
SENTENCE_SECTIONS = ("company_summary", "suggested_opener")  # whole sentences, never cut off
CITATIONS = "citations"
COPY_RUN_WORDS = 12
ICP_RUN_WORDS = 8
POSITIVE_BUCKETS = ("red_hot", "warm")  # a lead here must not be called a poor fit
NEGATIVE_BUCKETS = ("parked", "filtered")  # nor one here a good fit


def _vocabulary(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Capitalized words that name roles, levels or the dossier's own vocabulary, not an entity.
GENERIC = _vocabulary(
    "ceo cmo cto coo cfo cro founder founders co cofounder head vp vice president director chief officer "
    "managing partner owner board hr manager lead team marketing sales growth brand content digital "
    "social media pr communications demand generation business development operations product "
    "icp b2b b2c saas email posting role company signal score fit strong good possible weak poor "
    "red hot warm nurture parked filtered the a an of and or for to in at on with our your their i "
    "s m re ve ll d t"
)
# Words that open a sentence without naming anything (checked only when the signal lacks them).
COMMON = _vocabulary(
    "i we you they he she it this that these those there here our your their its my his her "
    "a an the and but or so if as at by for from in into of on to with without about after before "
    "since while when where what why how who which would could can will shall may might should "
    "do does did is are was were be been being has have had let lets let's hi hello dear thanks "
    "congratulations congrats saw noticed seeing looks looking great happy glad quick just also "
    "hiring open evidence size funding location sells offers reports risk risks confirm "
    "check ask reach given based posted large small new recent many most some any all no not one "
    "two three first next last sender following follow exciting interested curious wondering only hey"
)
_CANDIDATE_VOICE = re.compile(
    r"\b(?:we(?:'re|\u2019re| are) (?:looking|hiring|seeking)|join (?:our|us)|help us|your experience|"
    r"are you (?:a|an|the|ready) |apply (?:now|today))\b",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"(?<![A-Za-z0-9])\d+(?:[.,]\d+)*")
_CAPITALIZED = re.compile(r"[^\W\d_][\w'\u2019&-]*")
_CONNECTORS = frozenset({"of", "&", "and", "de", "for"})
_SENTENCE_END = re.compile(r"(?:^|[.!?:;\n(\"\u201c\u2014-]|\s-)\s*$")
_PIECES = re.compile(r"[.!?;:,\n()\"\u201c\u201d\u2014]+|\s-\s")
_NEGATIVE = re.compile(
    r"\b(?:not (?:a |an )?(?:good |strong |great |clear |ideal |obvious |icp |real )?(?:fit|match)|"
    r"(?:does not|doesn't|do not|don't|cannot|can't|won't|would not|wouldn't|unlikely to|fails? to|may not)"
    r"(?: \w+){0,2} (?:fit|match)|poor(?:ly)? fit|weak fit|bad fit|no fit|low fit|misfit|mismatch|"
    r"outside (?:the |our )?(?:icp|ideal customer|target)|not (?:an? )?(?:icp|ideal|target)\b)",
    re.IGNORECASE,
)
_STRONG = re.compile(
    r"\b(?:strong|great|excellent|perfect|ideal|very good|clear|high) (?:icp )?fit\b|"
    r"\bfits? (?:the (?:icp|profile) |our (?:icp|profile) )?(?:perfectly|very well|strongly)\b",
    re.IGNORECASE,
)
_POSITIVE = re.compile(
    r"\b(?:good|solid|decent|likely) (?:icp )?fit\b|\bfits\b|\bmatches\b|\baligns?(?: well)? with\b|\bis a fit\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Defect:
    kind: str  # one of DEFECT_KINDS
    section: str
    detail: str

    def __str__(self) -> str:
        return f"{self.section}: {self.detail}"


def icp_text(profiles: list[IcpProfile]) -> str:
    """Everything the ICP says: what a dossier must not echo."""
    return "\n".join([icp_context(profiles), *(prototype for p in profiles for prototype in p.prototypes)])


@dataclass(frozen=True)
class Evidence:
    """What a dossier is checked against: its signals, its score, the company they name, the ICP."""

    signals: dict[str, str]  # signal_id -> text
    names: tuple[str, ...]  # the signals' own fields: titles, company fields, senders
    bucket: str
    scores: tuple[float, ...]
    company: str | None  # the company as the signals name it; None when they do not
    hired_roles: tuple[str, ...]  # the roles the signals hire for
    icp: str

    @cached_property
    def _corpus(self) -> list[str]:
        return words("\n".join([*self.signals.values(), *self.names]))

    @cached_property
    def _joined(self) -> str:
        return f" {' '.join(self._corpus)} "

    @cached_property
    def vocabulary(self) -> frozenset[str]:
        return frozenset(self._corpus)

    @cached_property
    def numbers(self) -> frozenset[str]:
        found = {_plain_number(n) for text in (*self.signals.values(), *self.names) for n in _NUMBER.findall(text)}
        return frozenset(found | {str(round(score)) for score in self.scores})

    @cached_property
    def signal_runs(self) -> frozenset[tuple[str, ...]]:
        return _runs(self._corpus, COPY_RUN_WORDS)

    @cached_property
    def icp_words(self) -> str:
        return f" {' '.join(words(self.icp))} "

    @cached_property
    def icp_runs(self) -> frozenset[tuple[str, ...]]:
        return _runs(words(self.icp), ICP_RUN_WORDS) - _runs(self._corpus, ICP_RUN_WORDS)

    def holds(self, text: str) -> bool:
        """Do the signals hold `text`'s words, in order and adjacent?"""
        found = words(text)
        return bool(found) and f" {' '.join(found)} " in self._joined


def _plain_number(number: str) -> str:
    return number.replace(",", "").rstrip(".").removesuffix(".0")


def _runs(tokens: list[str], size: int) -> frozenset[tuple[str, ...]]:
    return frozenset(tuple(tokens[i : i + size]) for i in range(len(tokens) - size + 1))


def strings(value: dict[str, Any], sections: tuple[str, ...] = SECTIONS) -> Iterator[tuple[str, str]]:
    """(section, text) for every string of the dossier's sections, list items one by one."""
    for section in sections:
        item = value.get(section)
        for text in item if isinstance(item, list) else [item]:
            if isinstance(text, str) and text.strip():
                yield section, text


def fit_polarity(text: str) -> str:
    """ "negative", "strong", "positive" or "neutral": what an icp_fit text says of the fit."""
    if _NEGATIVE.search(text):
        return "negative"
    if _STRONG.search(text):
        return "strong"
    return "positive" if _POSITIVE.search(text) else "neutral"


def contradicts(polarity: str, bucket: str) -> bool:
    if bucket in POSITIVE_BUCKETS:
        return polarity == "negative"
    if bucket in NEGATIVE_BUCKETS:
        return polarity in ("strong", "positive")
    return polarity == "strong"  # nurture: neither a poor fit nor a strong one is a contradiction of "maybe"


def _entities(text: str) -> Iterator[tuple[str, bool]]:
    """(run of capitalized words, whether it opens a sentence), connectors kept inside a run."""
    run: list[re.Match[str]] = []

    def flush() -> Iterator[tuple[str, bool]]:
        while run and run[-1].group().lower() in _CONNECTORS:
            run.pop()
        if run:
            yield text[run[0].start() : run[-1].end()], bool(_SENTENCE_END.search(text[: run[0].start()]))
        run.clear()

    for match in _CAPITALIZED.finditer(text):
        token = match.group()
        gap = text[run[-1].end() : match.start()] if run else ""
        joins = run and gap.strip() == "" and gap != ""
        if token[0].isupper() or any(c.isupper() for c in token[1:]):
            if not joins:
                yield from flush()
            run.append(match)
        elif joins and token.lower() in _CONNECTORS:
            run.append(match)
        else:
            yield from flush()
    yield from flush()


def _entity_defects(section: str, text: str, evidence: Evidence) -> Iterator[Defect]:
    for entity, opens_sentence in _entities(text):
        if evidence.holds(entity):
            continue
        tokens = [t for t in words(entity) if t not in GENERIC]
        if opens_sentence and tokens and tokens[0] in COMMON:
            tokens = tokens[1:]
        missing = [t for t in tokens if t not in evidence.vocabulary and not t.isdigit()]
        if missing:
            yield Defect("unsupported_entity", section, f"names {entity!r}, which the signal does not")


def _text_defects(section: str, text: str, evidence: Evidence) -> Iterator[Defect]:
    yield from _entity_defects(section, text, evidence)
    for number in _NUMBER.findall(text):
        if _plain_number(number) not in evidence.numbers:
            yield Defect("unsupported_number", section, f"states the number {number}, which the signal does not")
    tokens = [m.group() for m in WORD.finditer(fold(text))]
    for size, runs, kind, source in (
        (COPY_RUN_WORDS, evidence.signal_runs, "copied_run", "the signal"),
        (ICP_RUN_WORDS, evidence.icp_runs, "icp_echo", "the ICP"),
    ):
        copied = next(
            (tokens[i : i + size] for i in range(len(tokens) - size + 1) if tuple(tokens[i : i + size]) in runs), None
        )
        if copied:
            yield Defect(kind, section, f"copies {size}+ words from {source}: {' '.join(copied)!r}")
    for piece in _PIECES.split(text):
        found = words(piece)
        if len(found) >= 2 and f" {' '.join(found)} " in evidence.icp_words and not evidence.holds(piece):
            yield Defect("icp_echo", section, f"takes {piece.strip()!r} from the ICP text")


def check_dossier(value: dict[str, Any], evidence: Evidence, sections: tuple[str, ...] = SECTIONS) -> list[Defect]:
    """Every defect of `value`'s `sections` (all six by default) against `evidence`."""
    defects = [Defect("missing_section", s, "is missing or empty") for s in sections if not value.get(s)]
    for section, text in strings(value, sections):
        defects.extend(_text_defects(section, text, evidence))
    for section, text in strings(value, tuple(s for s in SENTENCE_SECTIONS if s in sections)):
        if not re.search(r"[.!?][\"')\u201d]*\s*$", text):
            defects.append(Defect("unfinished_sentence", section, "stops mid-sentence"))
    opener = value.get("suggested_opener")
    if "suggested_opener" in sections and isinstance(opener, str) and _CANDIDATE_VOICE.search(opener):
        defects.append(Defect("candidate_voice", "suggested_opener", "speaks as the hiring company or to a candidate"))
    fit = value.get("icp_fit")
    if "icp_fit" in sections and isinstance(fit, str):
        polarity = fit_polarity(fit)
        if contradicts(polarity, evidence.bucket):
            defects.append(
                Defect("score_contradiction", "icp_fit", f"calls the fit {polarity} for a {evidence.bucket} lead")
            )
    if "decision_makers" in sections:
        hired = {" ".join(words(role)) for role in evidence.hired_roles}
        for _, item in strings(value, ("decision_makers",)):
            item_words = " ".join(words(item))
            if item_words and any(item_words == role or f" {item_words} " in f" {role} " for role in hired):
                defects.append(Defect("hire_as_decision_maker", "decision_makers", f"{item!r} is the role being hired"))
    if evidence.company and not any(_names(text, evidence.company) for _, text in strings(value, sections)):
        defects.append(Defect("missing_company", sections[0], f"does not name the company, {evidence.company!r}"))
    defects.extend(_citation_defects(value.get(CITATIONS), evidence))
    return defects


def _names(text: str, company: str) -> bool:
    return f" {' '.join(words(company))} " in f" {' '.join(words(text))} "


def _citation_defects(citations: Any, evidence: Evidence) -> Iterator[Defect]:
    for section, spans in (citations or {}).items():
        for span in spans:
            source = evidence.signals.get(span.get("signal_id", ""))
            if source is None or source[span["start"] : span["end"]] != span["quote"]:
                yield Defect("bad_citation", section, f"cites {span.get('quote')!r} at offsets that do not hold it")
