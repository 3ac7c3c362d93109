"""Which company a signal is about: the account CSV rows are the master records, and every
posting, email and account row is matched to one of them, else becomes an account of its own.

A signal is matched on what names its company, strongest first:
1. its web domain equals a master's (an email's sender domain, minus free-mail providers; an
   account row's homepage): confidence 1.0;
2. its normalized name (`company_key`: case, accents, punctuation, legal suffixes) equals a
   master's: 1.0; an email domain's brand label ("mail.acme.co.uk" -> "acme") equals a master's
   name key: BRAND_CONFIDENCE;
3. fuzzy: the rapidfuzz ratio of its key to the nearest master key reaches FUZZY_MIN (a typo,
   a missing word): confidence = ratio / 100, times BRAND_CONFIDENCE for a domain's brand.
A signal that matches no master is an account of its own, keyed like a master would be (so the
next signals naming it meet it); one that names no company has no account, nor does mail from
the user's own domains (`own_domains`: like free mail, a colleague's address names no customer).

rapidfuzz over Splink: the master list is a few thousand rows and each signal carries one name
or domain, so a C++ one-to-many string distance (`process.extractOne`) settles a signal in
microseconds with no training, no DuckDB extension and a confidence that is the similarity
itself; Splink's probabilistic record linkage pays off for many-field person records.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from rapidfuzz import fuzz, process

from leadflow.dossier.companies import company_key, domain_label
from leadflow.ingest.accounts_csv import KIND as ACCOUNT_KIND
from leadflow.ingest.emails import KIND as EMAIL_KIND

# Account-export columns that may hold the company's web address, in order of preference.
URL_ATTRIBUTES = ("domain", "homepage_url", "website", "url", "company_domain")
BRAND_CONFIDENCE = 0.9  # a domain's brand names the company less surely than its name or domain
FUZZY_MIN = 92  # rapidfuzz ratio (0-100) from which two keys are one company: one typo in 7+ letters
FUZZY_MIN_CHARS = 5  # shorter keys match exactly or not at all: "ibm" ~ "ibx" is no evidence
MIN_KEY_CHARS = 2

# How a signal met its account (the match_method column).
MASTER, DOMAIN, NAME, BRAND, FUZZY, OWN = "master", "domain", "name", "domain_brand", "fuzzy", "own"


def web_domain(value: str) -> str:
    """The host of a URL or address ("https://www.Acme.com/about" -> "acme.com"), "" for none
    or for a free-mail provider (which names no company)."""
    value = value.strip().lower().rpartition("@")[2]
    host = (urlsplit(value if "//" in value else f"//{value}").hostname or "").removeprefix("www.")
    return host if domain_label(host) else ""


def signal_domain(kind: str, company: str, attributes: Mapping[str, Any]) -> str:
    """An email's sender domain; another signal's web address among URL_ATTRIBUTES."""
    if kind == EMAIL_KIND:  # an email's company field is its sender's domain
        return web_domain(company)
    return next((d for name in URL_ATTRIBUTES if (d := web_domain(str(attributes.get(name) or "")))), "")


def signal_name(kind: str, company: str) -> str:
    """The company name a signal carries ("" for an email: its company field is a domain)."""
    return "" if kind == EMAIL_KIND else company.strip()


@dataclass(frozen=True)
class Account:
    account_id: str  # the name key of its master (or of the signal it came from)
    name: str
    domain: str  # "" when unknown
    master: bool  # from the account CSV


@dataclass(frozen=True)
class Match:
    account: Account
    method: str
    confidence: float


def _key(value: str) -> str:
    key = company_key(value)
    return key if len(key) >= MIN_KEY_CHARS else ""


class Resolver:
    """Matches signals to the master accounts; accounts of their own are remembered, so the
    signals of one unlisted company meet too."""

    def __init__(self, masters: Iterable[Account], own_domains: frozenset[str] = frozenset()) -> None:
        self.own_domains = own_domains
        self.by_key: dict[str, Account] = {}
        self.by_domain: dict[str, Account] = {}
        for account in masters:
            self.by_key.setdefault(account.account_id, account)
            if account.domain:
                self.by_domain.setdefault(account.domain, account)
        self.master_keys = list(self.by_key)

    def _fuzzy(self, key: str) -> tuple[Account, float] | None:
        if len(key) < FUZZY_MIN_CHARS or not self.master_keys:
            return None
        found = process.extractOne(key, self.master_keys, scorer=fuzz.ratio, score_cutoff=FUZZY_MIN)
        return (self.by_key[found[0]], found[1] / 100) if found else None

    def resolve(self, kind: str, company: str, attributes: Mapping[str, Any]) -> Match | None:
        domain = signal_domain(kind, company, attributes)
        if domain in self.own_domains:
            domain = ""
        name = signal_name(kind, company)
        name_key = _key(name)
        brand_key = _key(domain_label(domain) or "") if domain else ""
        if kind == ACCOUNT_KIND and name_key in self.by_key and self.by_key[name_key].master:
            return Match(self.by_key[name_key], MASTER, 1.0)  # a master record is its own account
        if domain in self.by_domain:
            return Match(self.by_domain[domain], DOMAIN, 1.0)
        if name_key in self.by_key:
            return Match(self.by_key[name_key], NAME, 1.0)
        if brand_key in self.by_key:
            return Match(self.by_key[brand_key], BRAND, BRAND_CONFIDENCE)
        for key, weight in ((name_key, 1.0), (brand_key, BRAND_CONFIDENCE)):
            if key and (near := self._fuzzy(key)):
                return Match(near[0], FUZZY, round(near[1] * weight, 3))
        key = name_key or brand_key
        if not key:
            return None
        own = Account(key, name or domain, domain, master=False)
        self.by_key[key] = own
        if domain:
            self.by_domain[domain] = own
        return Match(own, OWN, 1.0)


def master_accounts(rows: Iterable[Mapping[str, Any]]) -> list[Account]:
    """The master records: one per name key of the account CSV rows (kind, company, attributes)."""
    masters = []
    for row in rows:
        name = signal_name(row["kind"], row["company"] or "")
        if key := _key(name):
            masters.append(Account(key, name, signal_domain(row["kind"], name, row["attributes"]), master=True))
    return masters


def resolve_signals(
    masters: list[Account], signals: Iterable[Mapping[str, Any]], own_domains: frozenset[str] = frozenset()
) -> list[dict[str, Any]]:
    """Per signal (signal_id, kind, company, attributes as a dict): its account columns."""
    resolver = Resolver(masters, own_domains)
    rows = []
    for signal in signals:
        match = resolver.resolve(signal["kind"], signal["company"] or "", signal["attributes"])
        account = match.account if match else None
        rows.append(
            {
                "signal_id": signal["signal_id"],
                "account_id": account.account_id if account else None,
                "account_name": account.name if account else None,
                "account_domain": (account.domain or None) if account else None,
                "account_master": account.master if account else None,
                "match_method": match.method if match else None,
                "match_confidence": match.confidence if match else None,
            }
        )
    return rows
