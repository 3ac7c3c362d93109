"""Grounded entities of an email: organizations, people (with the role or title the email
states), money amounts, dates and products, each with its `start`/`end` offsets into the signal
text, so that `text[start:end] == entity.text` always holds.

Money, dates and people named in greetings, signatures, forwarded headers or "Name, Title"
phrases come from cheap patterns on every email. Organizations, products and the people and
roles the patterns miss come from the small model for candidate emails only; every item it
names is located in the text (exactly, then ignoring case and line breaks) and dropped, and
counted, when it is not there.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

ENTITY_TYPES = ("organization", "person", "money", "date", "product")
SIGNATURE_LINES = 6  # a signature sits in the last lines of the sender's text


@dataclass(frozen=True)
class Entity:
    type: str  # one of ENTITY_TYPES
    text: str  # exactly text[start:end] of the signal text
    start: int
    end: int
    role: str = ""  # a person's role or title, as the text states it
    source: str = "rule"  # "rule" (a pattern) or "model" (the small model, located in the text)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "text": self.text, "start": self.start, "end": self.end}
        if self.role:
            out["role"] = self.role
        out["source"] = self.source
        return out


def locate(text: str, needle: str) -> tuple[int, int] | None:
    """Where `needle` occurs in `text`: exactly, else ignoring case and whitespace runs (a model
    copies "Frank A.\\nWolak" as "Frank A. Wolak"); None when it does not occur."""
    needle = needle.strip()
    if len(needle) < 2:
        return None
    start = text.find(needle)
    if start >= 0:
        return start, start + len(needle)
    pattern = r"\s+".join(re.escape(word) for word in needle.split())
    match = re.search(pattern, text, re.IGNORECASE)
    return (match.start(), match.end()) if match else None


# ---- money ---------------------------------------------------------------------------------

_AMOUNT = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_SCALE_WORD = r"thousand|million|billion|trillion"
_MONEY = re.compile(
    rf"(?:(?:US\s?)?\$|\bUSD\s?|\bEUR\s?|€|£)\s?(?:{_AMOUNT})(?:\s?(?:{_SCALE_WORD})\b|(?:mm|bn|k|m|b)\b)?"
    rf"|\b(?:{_AMOUNT})\s?(?:(?:{_SCALE_WORD})\s)?(?:dollars|euros?|pounds sterling)\b",
    re.IGNORECASE,
)
_SCALES = {
    "thousand": 1e3,
    "k": 1e3,
    "million": 1e6,
    "m": 1e6,
    "mm": 1e6,
    "billion": 1e9,
    "bn": 1e9,
    "b": 1e9,
    "trillion": 1e12,
}


def money_entities(text: str) -> list[Entity]:
    return [Entity("money", m.group(), m.start(), m.end()) for m in _MONEY.finditer(text)]


def usd_value(money: str) -> float | None:
    """The amount in US dollars of a money mention, None for another currency."""
    lowered = money.lower()
    if not ("$" in lowered or "usd" in lowered or "dollar" in lowered):
        return None
    number = re.search(_AMOUNT, lowered)
    if number is None:
        return None
    scale = re.search(rf"\d\s?({_SCALE_WORD}|mm|bn|k|m|b)\b", lowered)
    return float(number.group().replace(",", "")) * (_SCALES[scale.group(1)] if scale else 1.0)


def largest_usd(entities: Iterable[Entity]) -> float | None:
    values = [v for e in entities if e.type == "money" and (v := usd_value(e.text)) is not None]
    return max(values) if values else None


# ---- dates ---------------------------------------------------------------------------------

_MONTH = r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
_WEEKDAY = r"(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day"
_DATE = re.compile(
    rf"\b(?:{_WEEKDAY},?\s+)?{_MONTH}\s+{_DAY}(?:,?\s+\d{{4}})?\b"  # (Monday,) June 4(th)(, 2001)
    rf"|\b(?:{_WEEKDAY},?\s+)?{_DAY}\s+(?:of\s+)?{_MONTH}(?:,?\s+\d{{4}})?\b"  # 4 June 2001
    rf"|\b{_MONTH}\s+\d{{4}}\b"  # June 2001
    r"|\b\d{1,2}/\d{1,2}/(?:\d{4}|\d{2})\b"  # 06/04/2001
    r"|\b\d{4}-\d{2}-\d{2}\b"  # 2001-06-04
    rf"|\b{_WEEKDAY}\b"
)


def date_entities(text: str) -> list[Entity]:
    return [Entity("date", m.group(), m.start(), m.end()) for m in _DATE.finditer(text)]


# ---- people --------------------------------------------------------------------------------

_WORD = r"[A-Z][a-z]+(?:[-'][A-Z][a-z]+)?"
_NAME = rf"{_WORD}(?: [A-Z]\.)?(?: {_WORD}){{1,2}}"  # first (middle initial) last, on one line
_TITLE = (
    r"(?:(?:Senior|Sr\.|Junior|Jr\.|Executive|Managing|Assistant|Associate|Vice|General|Chief|Deputy|Regional)\s)*"
    r"(?:President|VP|CEO|CFO|COO|CTO|Chairman|Director|Manager|Analyst|Associate|Counsel|Attorney|Engineer|"
    r"Coordinator|Specialist|Assistant|Professor|Consultant|Trader|Partner|Recruiter|Representative|Officer|"
    r"Administrator|Supervisor|Secretary|Economist|Scientist|Head)"
    r"(?:\s(?:of|for)\s(?:the\s)?[A-Z][\w&]*(?:\s[A-Z&][\w&]*){0,3})?"
)
_NAME_THEN_TITLE = re.compile(rf"\b(?P<name>{_NAME})(?:,\s|\s\(|\s-\s)(?P<role>{_TITLE})\b")
_TITLE_THEN_NAME = re.compile(rf"\b(?P<role>(?:Professor|Dr\.|President|Director|Chairman)) (?P<name>{_NAME})\b")
_FROM_LINE = re.compile(rf"^\s*From:\s+\"?(?P<name>{_NAME})\b", re.MULTILINE)
_GREETINGS = (  # "Hi Molly" / "Molly,": a name alone on the first line needs its comma
    re.compile(rf"^\s*(?:Hi|Hello|Dear|Hey) (?P<name>{_WORD}(?: {_WORD})?)\s*[,:!]?\s*$"),
    re.compile(rf"^\s*(?P<name>{_WORD}(?: {_WORD})?)\s*[,:]\s*$"),
)
_SIGNATURE_NAME = re.compile(rf"^\s*-*\s*(?P<name>{_WORD}(?: [A-Z]\.)?(?: {_WORD}){{0,2}})\s*$")
_TITLE_LINE = re.compile(rf"^\s*(?P<role>{_TITLE})\s*$")
# Words that make a capitalized line a sign-off, a heading or an organization, not a name.
_NOT_NAMES = frozenset(
    {
        *("thanks", "thank", "regards", "best", "cheers", "sincerely", "hi", "hello", "dear", "all", "team"),
        *("everyone", "folks", "fyi", "yes", "no", "ok", "okay", "sorry", "congratulations", "attached"),
        *("please", "note", "hope", "great", "good", "morning", "afternoon", "evening", "love", "calendar"),
        *("confidential", "importance", "urgent", "agenda", "inc", "corp", "corporation", "llc", "ltd"),
        *("company", "group", "partners", "university", "department"),
    }
)


def _is_name(name: str) -> bool:
    return not any(word.lower().strip(".") in _NOT_NAMES for word in name.split())


def _line_spans(text: str) -> list[tuple[int, str]]:
    spans, offset = [], 0
    for line in text.split("\n"):
        spans.append((offset, line))
        offset += len(line) + 1
    return spans


def people_entities(text: str) -> list[Entity]:
    """People the text names in a way patterns can trust: "Name, Title", "Professor Name",
    forwarded "From: Name" headers, a greeting line, a signature (with the title line under it)."""
    found: list[Entity] = []
    for pattern in (_NAME_THEN_TITLE, _TITLE_THEN_NAME):
        for m in pattern.finditer(text):
            if _is_name(m.group("name")):
                found.append(Entity("person", m.group("name"), m.start("name"), m.end("name"), role=m.group("role")))
    found += [
        Entity("person", m.group("name"), m.start("name"), m.end("name"))
        for m in _FROM_LINE.finditer(text)
        if _is_name(m.group("name"))
    ]
    lines = [(start, line) for start, line in _line_spans(text) if line.strip()]
    greeting = next((g for p in _GREETINGS if lines and (g := p.match(lines[0][1]))), None)
    if greeting and _is_name(greeting.group("name")):
        start = lines[0][0]
        found.append(
            Entity("person", greeting.group("name"), start + greeting.start("name"), start + greeting.end("name"))
        )
    tail = lines[-SIGNATURE_LINES:] if len(lines) > 1 else []
    for i, (start, line) in enumerate(tail):
        sign = _SIGNATURE_NAME.match(line)
        if sign is None or not _is_name(sign.group("name")) or _TITLE_LINE.match(line):
            continue
        title = _TITLE_LINE.match(tail[i + 1][1]) if i + 1 < len(tail) else None
        role = title.group("role") if title else ""
        found.append(Entity("person", sign.group("name"), start + sign.start("name"), start + sign.end("name"), role))
    return found


def cheap_entities(text: str) -> list[Entity]:
    return merge([*people_entities(text), *money_entities(text), *date_entities(text)])


def merge(entities: Iterable[Entity]) -> list[Entity]:
    """One entity per span, in text order: of overlapping spans of one type the longer is kept
    (a person's role kept from whichever mention states one)."""
    kept: list[Entity] = []
    for entity in sorted(entities, key=lambda e: (e.start, -(e.end - e.start))):
        clash = next((k for k in kept if k.type == entity.type and entity.start < k.end and k.start < entity.end), None)
        if clash is None:
            kept.append(entity)
        elif entity.role and not clash.role:
            kept[kept.index(clash)] = Entity(clash.type, clash.text, clash.start, clash.end, entity.role, clash.source)
    return sorted(kept, key=lambda e: (e.start, e.type))


@dataclass(frozen=True)
class Grounded:
    entities: list[Entity]
    dropped: int  # model items (entities, roles) not found in the text


def ground_model_entities(text: str, answer: dict[str, Any]) -> Grounded:
    """The small model's organizations, people (with roles) and products, each located in
    `text`; what is not found is dropped and counted (a role not found is dropped alone)."""
    entities: list[Entity] = []
    dropped = 0
    named = [("organization", name, "") for name in answer.get("organizations", [])]
    named += [("person", p.get("name", ""), p.get("role", "")) for p in answer.get("people", [])]
    named += [("product", name, "") for name in answer.get("products", [])]
    for kind, name, role in named:
        span = locate(text, name)
        if span is None:
            dropped += 1
            continue
        role_span = locate(text, role) if role.strip() else None
        if role.strip() and role_span is None:
            dropped += 1
        role_text = text[role_span[0] : role_span[1]] if role_span else ""
        entities.append(Entity(kind, text[span[0] : span[1]], span[0], span[1], role_text, "model"))
    return Grounded(entities, dropped)
