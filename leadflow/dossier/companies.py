"""What names a company: a name reduced to a matching key, and the brand in an email domain.

"Acme, Inc.", "ACME Inc" and "acme.com" must meet as one account, while two senders on a
free-mail provider must not.
"""

import re
import unicodedata

LEGAL_SUFFIXES = frozenset(
    {
        "inc",
        "incorporated",
        "llc",
        "llp",
        "ltd",
        "limited",
        "gmbh",
        "ag",
        "sa",
        "sas",
        "sarl",
        "srl",
        "spa",
        "bv",
        "nv",
        "plc",
        "corp",
        "corporation",
        "co",
        "company",
        "pty",
        "pte",
        "oy",
        "ab",
        "as",
        "kk",
        "kg",
        "lp",
    }
)
FREE_MAIL = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "yahoo.com",
        "hotmail.com",
        "outlook.com",
        "live.com",
        "msn.com",
        "aol.com",
        "icloud.com",
        "me.com",
        "mail.com",
        "gmx.com",
        "gmx.de",
        "web.de",
        "protonmail.com",
        "proton.me",
        "yandex.com",
        "zoho.com",
        "comcast.net",
    }
)
_SECOND_LEVEL = frozenset({"co", "com", "org", "net", "ac", "gov", "edu"})  # acme.co.uk: the brand is one label further


def company_key(name: str) -> str:
    """Case, accents, punctuation, spacing and legal suffixes removed: "Acme, Inc." -> "acme"."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    plain = re.sub(r"['\u2019]", "", plain)
    tokens = re.findall(r"[a-z0-9]+", plain)
    while len(tokens) > 1 and tokens[-1] in LEGAL_SUFFIXES:
        tokens.pop()
    return "".join(tokens)


def domain_label(domain: str) -> str | None:
    """The brand label of an email domain ("mail.acme.co.uk" -> "acme"); None for free mail."""
    domain = domain.strip().lower().rpartition("@")[2]
    if not domain or domain in FREE_MAIL or "." not in domain:
        return None
    labels = domain.split(".")
    if len(labels) >= 3 and labels[-2] in _SECOND_LEVEL and len(labels[-1]) == 2:
        return labels[-3]
    return labels[-2]
