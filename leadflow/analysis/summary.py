"""The one-line summary for a rep: the type, then the small model's line when it is grounded,
else the subject, then the grounded people (with roles), organizations, money and dates.

A model line is grounded when every name-like or numeric word in it (a capitalized word that
does not start the line, anything with a digit) occurs in the subject or the text: a line
that invents a company, a person or an amount is not shown.
"""

import re
from collections.abc import Sequence

from leadflow.analysis.entities import Entity
from leadflow.analysis.mail import Mail
from leadflow.analysis.taxonomy import TYPE_BY_KEY

MAX_SUMMARY_CHARS = 200
SUBJECT_CHARS = 80
_TOKEN = re.compile(r"[A-Za-z][\w'&-]*|\d[\d,.:/]*")
_ENTITY_ORDER = ("person", "organization", "money", "date", "product")
_ENTITY_LABEL = {"person": "people", "organization": "orgs", "money": "money", "date": "dates", "product": "products"}


def grounded_line(line: str, mail: Mail) -> bool:
    haystack = f"{mail.subject}\n{mail.text}".lower()
    tokens = _TOKEN.findall(line)
    checked = [t for i, t in enumerate(tokens) if any(c.isdigit() for c in t) or (i > 0 and t[0].isupper())]
    return bool(line.strip()) and all(t.lower().rstrip(".,:") in haystack for t in checked)


def _entity_text(entity: Entity) -> str:
    return f"{entity.text} ({entity.role})" if entity.role else entity.text


def compose_summary(
    mail: Mail, types: Sequence[str], entities: Sequence[Entity], reply_expected: bool, model_line: str = ""
) -> str:
    label = TYPE_BY_KEY[types[0]].label if types else "Unclassified"
    head = model_line.strip() if model_line and grounded_line(model_line, mail) else ""
    if not head:
        head = f'"{mail.subject[:SUBJECT_CHARS]}"' if mail.subject else "(no subject)"
    parts = [f"{label}: {head}"]
    for kind in _ENTITY_ORDER:
        names = list(dict.fromkeys(_entity_text(e) for e in entities if e.type == kind))[:3]
        if names:
            parts.append(f"{_ENTITY_LABEL[kind]}: {', '.join(names)}")
    if reply_expected:
        parts.append("reply expected")
    line = " | ".join(parts)
    return line if len(line) <= MAX_SUMMARY_CHARS else line[: MAX_SUMMARY_CHARS - 3].rstrip() + "..."
