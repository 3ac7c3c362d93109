"""The whole analysis of a batch of emails, cheap first: types, rule entities, requests and a
priority for every email; then the small model for the candidates (priority from
`llm_min_priority` and a lead type strong enough for `nurture`, highest priority first), whose
grounded entities and requests are merged in, whose reply_expected can add a reply the cues
missed, and whose summary line is used when grounded.
"""

import datetime
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from leadflow.analysis.classifier import EmailTyper, TypeScores
from leadflow.analysis.entities import Entity, cheap_entities, largest_usd, merge
from leadflow.analysis.extraction import EXTRACT_CHARS, extract, ground_answer
from leadflow.analysis.features import email_vectors
from leadflow.analysis.mail import Mail
from leadflow.analysis.priority import LLM_MIN_PRIORITY, priority
from leadflow.analysis.requests import Request, cheap_requests, merge_requests
from leadflow.analysis.summary import compose_summary
from leadflow.llm.budget import BudgetExhausted, TokenBudget
from leadflow.llm.client import Completion, LLMClient
from leadflow.llm.metrics import CallRecord
from leadflow.scoring.cascade import Thresholds
from leadflow.scoring.email_leads import lead_ceiling


@dataclass(frozen=True)
class EmailAnalysis:
    type_scores: TypeScores  # every type of the taxonomy -> probability
    types: tuple[str, ...]  # the decided types, most probable first
    entities: tuple[Entity, ...]
    requests: tuple[Request, ...]
    reply_expected: bool
    priority: int  # 0-100
    business_value: float  # 0..1
    money_usd: float | None  # the largest US-dollar amount mentioned
    summary: str
    reasons: tuple[str, ...]
    dropped_entities: int  # model items not found in the email
    llm: Completion | Exception | None = None  # the small model's answer, when it was asked

    @property
    def deferred(self) -> bool:
        """The run's token budget deferred the model's extraction: this analysis is the cheap
        one (rule entities and requests, composed summary) until a later run completes it."""
        return isinstance(self.llm, BudgetExhausted)

    @property
    def record(self) -> CallRecord | None:
        """The small model's call record (cost, cache tier), None when it was not asked or failed."""
        return self.llm.record if isinstance(self.llm, Completion) else None

    def as_row(self) -> dict[str, Any]:
        """Plain columns (JSON text for the nested ones) for a table row."""
        completion = self.llm if isinstance(self.llm, Completion) else None
        return {
            "type_scores": json.dumps(self.type_scores),
            "types": json.dumps(list(self.types)),
            "entities": json.dumps([e.as_dict() for e in self.entities]),
            "requests": json.dumps([r.as_dict() for r in self.requests]),
            "reply_expected": self.reply_expected,
            "priority": self.priority,
            "business_value": self.business_value,
            "money_usd": self.money_usd,
            "summary": self.summary,
            "reasons": json.dumps(list(self.reasons)),
            "dropped_entities": self.dropped_entities,
            "llm_used": completion is not None,
            "llm_deferred": self.deferred,
            "model": completion.model if completion else None,
            "prompt_version": completion.template if completion else None,
            "llm_error": str(self.llm) if isinstance(self.llm, Exception) and not self.deferred else None,
        }


def _analysis(
    mail: Mail,
    scores: TypeScores,
    types: list[str],
    as_of: datetime.date | None,
    llm: Completion | Exception | None = None,
) -> EmailAnalysis:
    entities = cheap_entities(mail.text)
    requests = cheap_requests(mail.text)
    reply, line, dropped = bool(requests), "", 0
    if isinstance(llm, Completion):
        answer = ground_answer(mail, llm.value)
        entities = merge([*entities, *answer.entities])
        requests = merge_requests(requests, answer.requests)
        reply, line, dropped = reply or answer.reply_expected, answer.summary_line, answer.dropped
    money = largest_usd(entities)
    rank = priority(scores, reply_expected=reply, money_usd=money, sent=mail.sent, as_of=as_of)
    return EmailAnalysis(
        type_scores=scores,
        types=tuple(types),
        entities=tuple(entities),
        requests=tuple(requests),
        reply_expected=reply,
        priority=rank.score,
        business_value=rank.business_value,
        money_usd=money,
        summary=compose_summary(mail, types, entities, reply, line),
        reasons=rank.reasons,
        dropped_entities=dropped,
        llm=llm,
    )


def analyze_mails(
    client: LLMClient,
    typer: EmailTyper,
    mails: Sequence[Mail],
    *,
    as_of: datetime.date | None = None,
    llm_min_priority: float = LLM_MIN_PRIORITY,
    thresholds: Thresholds | None = None,
    max_chars: int = EXTRACT_CHARS,
    on_total: Callable[[int], None] | None = None,
    on_done: Callable[[int], None] | None = None,
    budget: TokenBudget | None = None,
) -> list[EmailAnalysis]:
    """One analysis per mail, in order. The small model is asked about the candidates: a priority
    from `llm_min_priority` and types that can make a lead of `nurture` or above
    (`lead_ceiling`), so no model time goes to mail that ends below what a rep looks at. For
    progress logs, `on_total(n)` gets the number of candidates before the small model is asked,
    and `on_done(i)` is called as each candidate's extraction finishes (the i-th candidate,
    highest priority first). Once the run's token `budget` is spent, the candidates still needing
    the engine keep their cheap analysis, marked `deferred` (a later run completes them, taking
    what this one finished from the cache); their types, what the lead scores read, never depend
    on the model."""
    all_scores = typer.type_scores(mails, email_vectors(client, mails))
    all_types = [typer.decided(s) for s in all_scores]
    cheap = [_analysis(m, s, t, as_of) for m, s, t in zip(mails, all_scores, all_types, strict=True)]
    cuts, thresholds = typer.lead_cuts, thresholds or Thresholds()
    todo = sorted(
        (
            i
            for i, a in enumerate(cheap)
            if a.priority >= llm_min_priority and lead_ceiling(a.type_scores, cuts, thresholds) >= thresholds.nurture
        ),
        key=lambda i: -cheap[i].priority,
    )
    if on_total is not None:
        on_total(len(todo))
    answers = extract(client, [mails[i] for i in todo], max_chars, on_done, budget)
    out = list(cheap)
    for i, answer in zip(todo, answers, strict=True):
        out[i] = _analysis(mails[i], all_scores[i], all_types[i], as_of, answer)
    return out
