"""One dossier per account: the lead signals of a partition that are about one company.

Signals meet on the account the accounts stage resolved them to (`leadflow.accounts.resolve`:
a master record's key, fuzzy matches included), a normalized company name (the facts' company,
an account row's name) or an email domain's brand label, so "Acme Inc." postings and mail from
acme.com are one account. A signal that names no company is an account of its own.
"""

from dataclasses import dataclass
from functools import cached_property

from leadflow.dossier.companies import company_key, domain_label
from leadflow.dossier.facts import Fact, FactSheet
from leadflow.dossier.lead import LeadInput
from leadflow.dossier.spans import fold

MIN_KEY_CHARS = 2
# Which field keeps a value two fields answer with: the fields the small model answers most
# reliably first, the location last (any capitalized phrase passes for one).
CLAIM_ORDER = ("company", "role", "offering", "reports_to", "funding", "size", "trigger", "location")


@dataclass
class Account:
    key: str
    sheets: list[FactSheet]  # highest final score first: the first lead speaks for the account

    @property
    def lead(self) -> LeadInput:
        return self.sheets[0].lead

    def best(self, name: str) -> Fact | None:
        """The first lead's best fact for `name`, else the next lead's; never a value the account
        already gives an earlier field of `CLAIM_ORDER` (the small model can answer two questions
        with one phrase in two reposts: "Digital Marketing" as one's offering, another's location)."""
        if name in CLAIM_ORDER:
            return self._answers[name]
        return self._first(name, set())

    def _first(self, name: str, claimed: set[str]) -> Fact | None:
        return next(
            (
                fact
                for sheet in self.sheets
                if (fact := sheet.best(name)) is not None and fold(fact.value) not in claimed
            ),
            None,
        )

    @cached_property
    def _answers(self) -> dict[str, Fact | None]:
        claimed: set[str] = set()
        answers: dict[str, Fact | None] = {}
        for name in CLAIM_ORDER:
            fact = answers[name] = self._first(name, claimed)
            if fact is not None:
                claimed.add(fold(fact.value))
        return answers

    def all(self, name: str) -> list[Fact]:
        """Every lead's facts for `name`, one per value."""
        seen: set[str] = set()
        found = []
        for sheet in self.sheets:
            for fact in sheet.facts:
                if fact.field == name and fold(fact.value) not in seen:
                    seen.add(fold(fact.value))
                    found.append(fact)
        return found

    @property
    def signal_ids(self) -> tuple[str, ...]:
        return tuple(sheet.lead.signal_id for sheet in self.sheets)


def account_keys(sheet: FactSheet) -> set[str]:
    """The keys a signal is matched on: its resolved account, its company's name key and its email
    domain's brand (an account id is a name key too: the two meet)."""
    lead = sheet.lead
    keys = {company_key(fact.value) for fact in sheet.facts if fact.field == "company" and fact.span is not None}
    if lead.account_id:
        keys.add(lead.account_id)
    if lead.kind == "account" and lead.company:
        keys.add(company_key(lead.company))
    for address in (lead.company if lead.kind == "email" else "", lead.sender):
        label = domain_label(address) if address else None
        if label:
            keys.add(company_key(label))
    return {key for key in keys if len(key) >= MIN_KEY_CHARS}


def group_accounts(sheets: list[FactSheet]) -> list[Account]:
    """Signals sharing a key, transitively, form one account; accounts by best score first."""
    parent = list(range(len(sheets)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[str, int] = {}
    keys = [account_keys(sheet) for sheet in sheets]
    for index, found in enumerate(keys):
        for key in found:
            if key in owner:
                parent[root(index)] = root(owner[key])
            else:
                owner[key] = index
    groups: dict[int, list[int]] = {}
    for index in range(len(sheets)):
        groups.setdefault(root(index), []).append(index)
    accounts = []
    for members in groups.values():
        members.sort(key=lambda i: (-sheets[i].lead.final_score, sheets[i].lead.signal_id))
        shared = sorted(set().union(*(keys[i] for i in members)))
        key = shared[0] if shared else f"signal:{sheets[members[0]].lead.signal_id}"
        accounts.append(Account(key, [sheets[i] for i in members]))
    accounts.sort(key=lambda a: (-a.lead.final_score, a.key))
    return accounts
