"""The facts a dossier may state, each located in its signal.

Two sources: exact rules (the signal's own fields, headcounts, money amounts, funding words,
whom a role reports to, recruiter wording) and the small model's answers to closed extractive
questions (`prompts/extract_facts.yaml`). A model answer is kept only when it is found in the
signal (`spans.locate`) and looks like an answer to its question; the rest are dropped and
counted. Every fact's value is the signal's own text at its span.
"""

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from leadflow.dossier.companies import domain_label
from leadflow.dossier.lead import LeadInput
from leadflow.dossier.spans import Span, clip, fold, locate, words
from leadflow.llm.budget import BudgetExhausted, TokenBudget
from leadflow.llm.client import LLMClient
from leadflow.llm.metrics import CallRecord
from leadflow.llm.types import LLMError

TEMPLATE = "extract_facts"
FIELDS = ("company", "role", "reports_to", "location", "funding", "size", "offering", "trigger")
RULE_FIELDS = ("agency",)  # only the rules find these
MAX_FACT_WORDS = 8  # a quoted fact stays well under the 12-word copy limit, even next to another
PROFILE_HEAD_CHARS = 600  # where a posting introduces its company
BOSS_CONTEXT_CHARS = 80  # how far before "the CEO" a "reports to" / "work with" may stand
# Which source wins a field; a fact without a span (a bare email domain) comes after all of these.
PRIORITY = {"company": ("field", "rule", "model"), "role": ("field", "model")}
DEFAULT_PRIORITY = ("rule", "model", "field")

_NAME = r"[A-Z0-9][\w\u2019'&.-]*(?:[ ](?:of[ ]|&[ ]|and[ ]|de[ ])?[A-Z0-9][\w\u2019'&.-]*){0,4}(?:,?[ ](?:Inc|LLC|Ltd|GmbH|Co|Corp|plc|AG|SA|BV)\.?)?"
_COMPANY = (
    re.compile(
        rf"(?:^|[.!?]\s+|\n\s*)(?P<name>{_NAME})\s(?:is|was|are|has|helps|builds|provides|offers|exists|delivers|"
        r"creates|develops|makes|specializes|specialises|connects|powers|enables)\b"
    ),
    re.compile(rf"\b(?:Founded|Created|Established|Launched|Started)\s(?:in\s)?\d{{4}},\s(?P<name>{_NAME})"),
    re.compile(rf"\b(?:At|Join)\s(?P<name>{_NAME}),?\s(?:we|our|you)\b"),
)
_NOT_A_NAME = frozenset(
    {
        "we",
        "our",
        "us",
        "you",
        "they",
        "it",
        "its",
        "this",
        "that",
        "these",
        "the",
        "a",
        "an",
        "there",
        "here",
        "join",
        "working",
        "about",
        "who",
        "what",
        "why",
        "how",
        "company",
        "team",
        "client",
        "job",
        "position",
        "role",
        "null",
        "none",
        "unknown",
    }
)
HEADCOUNT = re.compile(
    r"\b(?:over |more than |around |about |nearly |almost )?\d{1,3}(?:,\d{3})*\+? ?(?:employees|people|staff|"
    r"team members|colleagues|associates|professionals|engineers|consultants|workers)\b|\bteam of (?:over |about )?"
    r"\d+\b|\b\d+[- ]person\b",
    re.IGNORECASE,
)
LARGE = re.compile(
    r"\b(?:largest|global leader|multinational|world['\u2019]s leading|offices (?:in|across) (?:over |more "
    r"than )?\d+ countries|publicly traded)\b",
    re.IGNORECASE,
)
SMALL = re.compile(
    r"\b(?:start-?up|small (?:team|company|business)|early[- ]stage|tight[- ]knit team|fast[- ]growing|growing team)\b",
    re.IGNORECASE,
)
_MONEY = re.compile(
    r"[$£€] ?\d[\d,.]*(?: ?(?:[kKmMbB]n?|million|billion)\b)?|\b\d[\d,.]* ?(?:million|billion)\b|\b\d[\d,.]* (?:USD|EUR|GBP)\b"
)
_FUNDING_WORD = re.compile(
    r"\b(?:raised|raising|funding|funded|investors?|investment round|series [a-e]|seed|backed|venture capital)\b", re.I
)
_FUNDING = re.compile(
    r"\b(?:Series [A-E](?: round| funding)?|seed (?:round|funding|stage)|(?:venture|VC)[- ]backed|"
    r"backed by(?: [\w\u2019'&.-]+){1,5})",
    re.IGNORECASE,
)
BOSS = re.compile(
    r"\b(?:Chief \w+ Officer|Vice President of [A-Z]?\w+|(?:Head|VP|Director) of [A-Z]?\w+|Managing Director|"
    r"General Manager|Co-?[Ff]ounders?|[Ff]ounders?|CEO|CMO|COO|CTO|CFO|President|Owner)\b"
)
_REPORTS = re.compile(r"\b(?:report\w*|work\w*|collaborat\w*|partner\w*|directly|alongside|under)\b", re.I)
_AGENCY = re.compile(
    r"\b(?:our client|on behalf of (?:our|a) client|recruitment (?:agency|consultancy|firm)|staffing (?:agency|firm|"
    r"company)|headhunt\w*|we are recruiting for|executive search)\b",
    re.IGNORECASE,
)
_FUNDED = re.compile(r"\b(?:raised|raising|funded|investors?|investment|series [a-e]|seed|backed|venture)\b", re.I)
_TRIGGER_WORD = re.compile(
    r"\b(?:new|first|launch\w*|grow\w*|expan\w*|build\w*|rais\w*|fund\w*|open\w*|start\w*|scal\w*|recent\w*|now|"
    r"just|looking for|hiring|join\w*|seek\w*)\b",
    re.IGNORECASE,
)
_SIZE_WORD = re.compile(
    r"\d+ (?:employees|people|staff|offices|countries)|\b(?:employ\w*|people|staff|team|start-?up|found\w*|"
    r"establish\w*|since|small|large\w*|global|person|grow\w*)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Fact:
    field: str  # one of FIELDS or RULE_FIELDS
    value: str  # the signal's own text at `span` (or the signal field's value)
    signal_id: str
    span: Span | None  # None for a value from a signal field the text does not hold (an email domain)
    source: str  # "field" | "rule" | "model"

    def citation(self) -> dict[str, str | int] | None:
        return self.span.citation(self.signal_id) if self.span else None


@dataclass
class FactSheet:
    """One signal's facts, and what happened to the model's answers."""

    lead: LeadInput
    facts: list[Fact]
    located: Counter[str] = field(default_factory=Counter)  # answers found, by how (spans.MATCH_KINDS)
    # (field, answer, why): "not_found", "implausible" or "outvoted" (the rule's company won)
    dropped: list[tuple[str, str, str]] = field(default_factory=list)
    record: CallRecord | None = None
    error: str | None = None  # the extraction call failed: rule facts only

    def best(self, name: str) -> Fact | None:
        """The fact that answers `name`: by source priority, a fact with a span first."""
        order = PRIORITY.get(name, DEFAULT_PRIORITY)
        candidates = [f for f in self.facts if f.field == name]
        return min(candidates, key=lambda f: (f.span is None, order.index(f.source)), default=None)


def _fact(lead: LeadInput, name: str, span: Span, source: str) -> Fact:
    span = clip(span, MAX_FACT_WORDS)
    return Fact(name, span.text, lead.signal_id, span, source)


_STOPS = (".", "\n", "!", "?")


def _span(match: re.Match[str], group: int | str = 0) -> Span:
    return Span(match.start(group), match.end(group), match.group(group))


def _sentence(text: str, start: int, end: int) -> tuple[int, int]:
    """The bounds of the sentence around [start, end): the context of a money amount or a boss."""
    left = max(text.rfind(stop, 0, start) for stop in _STOPS) + 1
    right = min((i for i in (text.find(stop, end) for stop in _STOPS) if i >= 0), default=len(text))
    return left, right


def plausible_name(value: str, title: str) -> bool:
    tokens = value.split()
    return (
        bool(tokens)
        and (value[0].isupper() or value[0].isdigit())
        and len(tokens) <= 6
        and tokens[0].lower().strip("\u2019'") not in _NOT_A_NAME
        and not (title and f" {' '.join(words(value))} " in f" {' '.join(words(title))} ")  # not the job title
    )


def rule_facts(lead: LeadInput) -> list[Fact]:
    """Facts the signal states in a form a rule reads exactly."""
    text = lead.text
    facts: list[Fact] = []
    title = locate(text, lead.title) if lead.title and lead.is_hire else None
    if title is not None:
        facts.append(_fact(lead, "role", title[0], "field"))
    if lead.company:
        facts.extend(_company_field(lead))
    elif lead.kind == "job_posting":
        head_start = len(lead.title) if title else 0
        head = text[: head_start + PROFILE_HEAD_CHARS]
        for pattern in _COMPANY:
            match = pattern.search(head, head_start)
            if match and plausible_name(match.group("name"), lead.title):
                facts.append(_fact(lead, "company", _span(match, "name"), "rule"))
                break
    for pattern, name in ((HEADCOUNT, "size"), (LARGE, "size"), (SMALL, "size"), (_FUNDING, "funding")):
        facts.extend(_fact(lead, name, _span(m), "rule") for m in pattern.finditer(text))
    for match in _MONEY.finditer(text):
        left, right = _sentence(text, match.start(), match.end())
        if _FUNDING_WORD.search(text[left:right]):
            facts.append(_fact(lead, "funding", _span(match), "rule"))
    for match in BOSS.finditer(text):  # "reports to the CEO", "work closely with our founders"
        left, _ = _sentence(text, match.start(), match.end())
        if _REPORTS.search(text[max(left, match.start() - BOSS_CONTEXT_CHARS) : match.start()]):
            facts.append(_fact(lead, "reports_to", _span(match), "rule"))
    facts.extend(_fact(lead, "agency", _span(m), "rule") for m in _AGENCY.finditer(text))
    return facts


def _company_field(lead: LeadInput) -> list[Fact]:
    """An account's name, or an email sender's domain and the brand it names in the text."""
    if lead.kind != "email":
        found = locate(lead.text, lead.company)
        return [Fact("company", lead.company, lead.signal_id, found[0] if found else None, "field")]
    label = domain_label(lead.company)
    if label is None:
        return []
    facts = [Fact("company", lead.company, lead.signal_id, None, "field")]
    match = re.search(rf"\b{re.escape(label)}\b", lead.text, re.IGNORECASE)
    if match and match.group()[0].isupper():
        facts.append(_fact(lead, "company", _span(match), "rule"))
    return facts


def _plausible(name: str, value: str, lead: LeadInput) -> bool:
    """Does a located answer answer its question? (The small model sometimes fills a field
    with another field's answer, or with the question's own words.)"""
    if not words(value) or fold(value) in _NOT_A_NAME:
        return False
    if name == "company":
        return plausible_name(value, lead.title)
    if name == "location":
        return any(c.isupper() for c in value) and len(value.split()) <= 6
    if name == "funding":
        return bool(_FUNDED.search(value) or _MONEY.search(value))
    if name == "trigger":
        return bool(_TRIGGER_WORD.search(value))
    if name == "size":
        return bool(_SIZE_WORD.search(value))
    if name == "offering" and _overlaps(value, lead.title):
        return False
    if name == "reports_to":
        return bool(BOSS.search(value) or re.search(r"\b(?:ceo|cmo|founders?|director|head|vp|manager)\b", value, re.I))
    return True


def _overlaps(value: str, title: str) -> bool:
    """One is the other, or inside it (an offering answered with the job title)."""
    a, b = f" {' '.join(words(value))} ", f" {' '.join(words(title))} "
    return a.strip() != "" and (a in b or b in a)


def model_facts(lead: LeadInput, answer: dict[str, Any]) -> FactSheet:
    """The model's located, plausible answers; one value per field, each field's value used once."""
    sheet = FactSheet(lead, [])
    seen: set[str] = set()
    for name in FIELDS:
        value = answer.get(name)
        if not isinstance(value, str) or not value.strip():
            continue
        found = locate(lead.text, value)
        if found is None:
            sheet.dropped.append((name, value, "not_found"))
            continue
        span, how = found
        if not _plausible(name, span.text, lead) or fold(span.text) in seen:
            sheet.dropped.append((name, value, "implausible"))
            continue
        seen.add(fold(span.text))
        sheet.located[how] += 1
        sheet.facts.append(_fact(lead, name, span, "model"))
    return sheet


def read_facts(client: LLMClient, lead: LeadInput, max_chars: int, budget: TokenBudget | None = None) -> FactSheet:
    """Rule facts plus the small model's located answers (rule facts alone if the call fails).
    A call the run's token `budget` refuses raises BudgetExhausted: deferred, not failed."""
    template = client.prompts.get(TEMPLATE)
    variables = {"signal_kind": lead.kind, "signal_title": lead.title, "signal_text": lead.text[:max_chars]}
    try:
        completion = client.complete_json(template.role, TEMPLATE, variables, budget=budget)
    except BudgetExhausted:
        raise
    except LLMError as exc:
        return FactSheet(lead, rule_facts(lead), error=str(exc))
    sheet = model_facts(lead, completion.value)
    sheet.facts = rule_facts(lead) + sheet.facts
    sheet.record = completion.record
    _settle_company(sheet)
    return sheet


def _mentions(text: str, name: str) -> int:
    return len(re.findall(rf"(?<!\w){re.escape(name)}(?!\w)", text, re.IGNORECASE))


def _settle_company(sheet: FactSheet) -> None:
    """When the rule and the model name different companies, the name the signal repeats more
    often stays (a tie keeps the rule's); the model's loser counts as dropped."""
    rule = next((f for f in sheet.facts if f.field == "company" and f.source == "rule"), None)
    model = next((f for f in sheet.facts if f.field == "company" and f.source == "model"), None)
    if rule is None or model is None or fold(rule.value) == fold(model.value):
        return
    text = sheet.lead.text
    loser = rule if _mentions(text, model.value) > _mentions(text, rule.value) else model
    sheet.facts.remove(loser)
    if loser is model:
        sheet.dropped.append(("company", model.value, "outvoted"))
