"""The entry point the dossiers asset calls: facts per lead, one account per company, one
grounded dossier per account.

Extraction runs on the extract template's role (the small model: closed, extractive
questions); the summary and opener are composed from the facts by default, or written from the
facts by the model `prose` names (the small or the dossier model). Measured in
`bench.dossier_quality` on unseen postings: model prose cost a third of a dossier's time and
failed the grounding check in 4 of 11 dossiers on the small model (replaced by the composed
text after its repair also failed), so it is opt-in. The dossier with the model's prose is checked for
grounding; a failing one is asked again once with its defects, and if that fails too the
summary and opener are composed from the facts: a dossier that fails is never returned as it
came. (The repair is ours rather than the client's validator re-ask, so a failing answer does
not also go down the model fallback chain: the composed text is the fallback.)
"""

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, cast

from leadflow.dossier.accounts import Account, group_accounts
from leadflow.dossier.compose import PROSE_SECTIONS, compose, evidence, prose_facts
from leadflow.dossier.facts import TEMPLATE as EXTRACT_TEMPLATE
from leadflow.dossier.facts import FactSheet, read_facts, rule_facts
from leadflow.dossier.grounding import Defect, Evidence, check_dossier, icp_text
from leadflow.dossier.lead import LeadInput
from leadflow.llm.budget import BudgetExhausted, TokenBudget
from leadflow.llm.client import LLMClient
from leadflow.llm.metrics import CallRecord
from leadflow.llm.types import LLMError
from leadflow.scoring.icp import IcpProfile

PROSE_TEMPLATE = "write_opener"
# Who writes a dossier's summary and opener: setting value -> model role (None: rules only).
PROSE_ROLES: dict[str, str | None] = {"small": "prefilter", "dossier": "dossier", "composed": None}
DEFAULT_PROSE = "composed"
PROSE_ATTEMPTS = 2  # the first answer and one repair; then the composed text


@dataclass
class DossierResult:
    """One account's dossier and how it was obtained."""

    account: str  # the account key (normalized company name or domain brand)
    signal_ids: tuple[str, ...]  # every lead the dossier covers, highest score first
    value: dict[str, Any]  # the six sections and `citations`
    defects: list[Defect]  # of `value`: empty unless even the composed dossier fails the check
    draft_defects: list[Defect]  # found in the model's prose before a repair or the fallback
    repaired: bool  # the model's first prose failed the check and the second answer passed
    fallback: bool  # the summary and opener are composed, not the model's
    facts_kept: int
    facts_dropped: Counter[str]  # model answers dropped, by why ("not_found", "implausible")
    located: Counter[str]  # model answers kept, by how they were found (spans.MATCH_KINDS)
    evidence: Evidence  # what it was checked against (the located company among it)
    records: list[CallRecord] = field(default_factory=list)  # extraction per lead, then the prose

    def cost(self) -> CallRecord:
        """The records summed into one, for the per-row accounting columns (schema.llm_cost)."""
        records = self.records
        tiers = {r.cache_tier for r in records}
        prose = next((r for r in records if r.template.startswith(f"{PROSE_TEMPLATE}@")), None)
        return CallRecord(
            role=prose.role if prose else "dossier",
            template="+".join(dict.fromkeys(r.template for r in records)),
            model=(prose or (records[0] if records else CallRecord("", "", ""))).model,
            cache_tier=tiers.pop() if len(tiers) == 1 else None,
            latency_s=sum(r.latency_s for r in records),
            prompt_tokens=sum(r.prompt_tokens for r in records),
            cached_prompt_tokens=sum(r.cached_prompt_tokens for r in records),
            completion_tokens=sum(r.completion_tokens for r in records),
            engine_calls=sum(r.engine_calls for r in records),
            invalid=sum(r.invalid for r in records),
            repaired=self.repaired or any(r.repaired for r in records),
            fallback=self.fallback,
        )


def _feedback(value: dict[str, Any], defects: list[Defect]) -> str:
    problems = "; ".join(str(d) for d in defects)
    return f"Your answer {json.dumps(value, ensure_ascii=False)} has these problems: {problems}. Write both texts again without them."


def _prose(
    client: LLMClient, role: str, facts: str, feedback: str, budget: TokenBudget | None
) -> tuple[dict[str, Any] | None, CallRecord | None]:
    variables = {"facts_json": facts, "feedback": feedback}
    try:
        completion = client.complete_json(role, PROSE_TEMPLATE, variables, budget=budget)
    except BudgetExhausted:
        raise  # deferred: the account gets no dossier this run, never the composed fallback
    except LLMError:
        return None, None
    return completion.value, completion.record


def write_account(
    client: LLMClient, account: Account, icp: str, prose_role: str | None, budget: TokenBudget | None = None
) -> DossierResult:
    """The account's dossier: the model's prose if it is grounded (asked again once, with its
    defects, when it is not), composed text otherwise (and always when `prose_role` is None).
    Each answer is cached as it came, so a re-run repeats the same decisions without an LLM call.
    Raises BudgetExhausted when the run's token `budget` refuses a prose request."""
    checked = evidence(account, icp)
    records = [sheet.record for sheet in account.sheets if sheet.record is not None]
    facts = prose_facts(account)
    draft_defects: list[Defect] = []
    repaired, value, defects = False, None, []
    feedback = ""
    roles = [prose_role] * PROSE_ATTEMPTS if prose_role is not None else []
    for attempt, role in enumerate(roles):
        prose, record = _prose(client, role, facts, feedback, budget)
        if record is not None:
            records.append(record)
        if prose is None:
            break
        value = compose(account, checked, prose)
        defects = check_dossier(value, checked)
        if not defects:
            repaired = attempt > 0
            break
        draft_defects.extend(defects)
        feedback, value = _feedback({s: prose[s] for s in PROSE_SECTIONS}, defects), None
    fallback = value is None and prose_role is not None
    if value is None:
        value = compose(account, checked)
        defects = check_dossier(value, checked)
    return DossierResult(
        account=account.key,
        signal_ids=account.signal_ids,
        value=value,
        defects=defects,
        draft_defects=draft_defects,
        repaired=repaired,
        fallback=fallback,
        facts_kept=sum(1 for sheet in account.sheets for f in sheet.facts),
        facts_dropped=Counter(why for sheet in account.sheets for _, _, why in sheet.dropped),
        located=sum((sheet.located for sheet in account.sheets), Counter()),
        evidence=checked,
        records=records,
    )


def write_dossiers(
    client: LLMClient,
    leads: list[LeadInput],
    icp_profiles: list[IcpProfile],
    max_chars: int,
    prose: str = DEFAULT_PROSE,
    budget: TokenBudget | None = None,
) -> list[DossierResult]:
    """One dossier per account among `leads` (`max_chars` of each signal go to the model), the
    prose written as `prose` says (a key of `PROSE_ROLES`).

    `budget`: once the run's token budget is spent, an account whose extraction or prose still
    needs the engine is deferred: it gets no dossier (never one written without the model's facts
    or with the composed fallback as if complete), and the next run writes it, with what this run
    finished from the cache. A lead whose extraction was deferred is grouped on its rule facts, so
    the account it would have joined is deferred with it. The deferred leads are those of `leads`
    that no returned dossier covers."""
    if prose not in PROSE_ROLES:
        raise ValueError(f"dossier prose {prose!r}: expected one of {', '.join(PROSE_ROLES)}")
    prose_role = PROSE_ROLES[prose]
    if not leads:
        return []
    role = client.prompts.get(EXTRACT_TEMPLATE).role
    read = client.map_concurrent(lambda lead: read_facts(client, lead, max_chars, budget), leads, role=role)
    deferred = {lead.signal_id for lead, sheet in zip(leads, read, strict=True) if isinstance(sheet, BudgetExhausted)}
    sheets = [
        FactSheet(lead, rule_facts(lead)) if isinstance(sheet, BudgetExhausted) else cast(FactSheet, sheet)
        for lead, sheet in zip(leads, read, strict=True)
    ]
    icp = icp_text(icp_profiles)
    accounts = [account for account in group_accounts(sheets) if deferred.isdisjoint(account.signal_ids)]
    written = client.map_concurrent(
        lambda account: write_account(client, account, icp, prose_role, budget), accounts, role=prose_role or role
    )
    return [cast(DossierResult, result) for result in written if not isinstance(result, BudgetExhausted)]


def defect_rates(results: list[DossierResult]) -> dict[str, Any]:
    """Figures for metadata: defect-free share, defects by kind (final and in drafts), repairs,
    fallbacks and what happened to the model's extracted answers."""
    count = len(results)
    final = Counter(d.kind for r in results for d in r.defects)
    drafts = Counter(d.kind for r in results for d in r.draft_defects)
    dropped = sum((r.facts_dropped for r in results), Counter())
    located = sum((r.located for r in results), Counter())
    answers = sum(located.values()) + sum(dropped.values())
    return {
        "dossiers": count,
        "defect_free_rate": round(sum(1 for r in results if not r.defects) / count, 4) if count else None,
        "defects": dict(final),
        "draft_defects": dict(drafts),
        "draft_defect_rate": round(sum(1 for r in results if r.draft_defects) / count, 4) if count else None,
        "repaired": sum(1 for r in results if r.repaired),
        "fallbacks": sum(1 for r in results if r.fallback),
        "facts_located": dict(located),
        "facts_dropped": dict(dropped),
        "facts_drop_rate": round(sum(dropped.values()) / answers, 4) if answers else None,
    }
