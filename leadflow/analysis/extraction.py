"""Entity and request extraction by the small model (`prompts/analyze_email.yaml`), for
candidate emails only; every item of its answer is located in the email or dropped."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from leadflow.analysis.entities import Entity, ground_model_entities
from leadflow.analysis.mail import Mail
from leadflow.analysis.requests import Request, ground_model_requests
from leadflow.ingest.text import window_text
from leadflow.llm.budget import TokenBudget
from leadflow.llm.client import Completion, LLMClient

TEMPLATE = "analyze_email"
ROLE = "prefilter"
EXTRACT_CHARS = 1200  # of text the small model reads (head and tail): measured best for the 0.5B model


def variables(mail: Mail, max_chars: int = EXTRACT_CHARS) -> dict[str, str]:
    return {"email_subject": mail.subject, "email_text": window_text(mail.text, max_chars)[0]}


def extract(
    client: LLMClient,
    mails: Sequence[Mail],
    max_chars: int = EXTRACT_CHARS,
    on_done: Callable[[int], None] | None = None,
    budget: TokenBudget | None = None,
) -> list[Completion | Exception]:
    """The small model's answer for each mail, in order; a failed call yields its exception, one
    the run's token `budget` refused yields BudgetExhausted (deferred)."""

    def ask(mail: Mail) -> Completion:
        return client.complete_json(ROLE, TEMPLATE, variables(mail, max_chars), budget=budget)

    return client.map_concurrent(ask, mails, role=ROLE, on_done=on_done)


@dataclass(frozen=True)
class Extraction:
    entities: list[Entity]
    requests: list[Request]
    reply_expected: bool
    summary_line: str  # not yet checked against the email (summary.grounded_line does)
    dropped: int  # items of the answer not found in the email


def ground_answer(mail: Mail, answer: dict[str, Any]) -> Extraction:
    entities = ground_model_entities(mail.text, answer)
    requests = ground_model_requests(mail.text, answer.get("requests", []))
    return Extraction(
        entities.entities,
        requests.requests,
        bool(answer.get("reply_expected")),
        str(answer.get("summary", "")),
        entities.dropped + requests.dropped,
    )
