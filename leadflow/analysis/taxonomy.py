"""The email taxonomy: the types an email can carry (several at once), what each is worth as a
lead, and where each type's evidence comes from.

Six types are *trained*: the Berkeley Enron annotation codes of the bundled golden set label
them (`codes`), and a head on embeddings + cue counts learns them (`leadflow.analysis.heads`).
Two types have no Berkeley label and are *rule-decided* (`codes` empty): buying intent (inquiry,
RFP, quote or pricing request) and spam (bulk mail). Their probability is a stated rule, not a
fit: each distinct cue group found is one point, and `p = 1 - (1 - rule_strength) ** points`
(`leadflow.analysis.rules`). The Enron mail has no spam or buyer labels, so these two cannot be
measured here; the benchmark reports how often they fire.

Cue groups are regular expressions written from the type's definition (the Berkeley legend,
the issue's brief), not from the labelled emails. For trained types each group is a feature
(its count in the subject and in the text); for rule-decided types each matching group is a
point. `prototypes` are sentences whose cosine to an email is a zero-shot feature of the heads.
"""

import re
from dataclasses import dataclass


def cue(*alternatives: str) -> re.Pattern[str]:
    """One cue group: whole-word alternatives, case-insensitive."""
    return re.compile(r"\b(?:" + "|".join(alternatives) + r")\b", re.IGNORECASE)


@dataclass(frozen=True)
class EmailType:
    key: str
    label: str  # for a rep
    lead_value: float  # 0..1: what an email of this type is worth as a sales lead (priority weight)
    codes: frozenset[str]  # Berkeley codes that label an email with this type; empty = rule-decided
    cues: tuple[re.Pattern[str], ...]
    prototypes: tuple[str, ...] = ()
    rule_strength: float = 0.0  # rule-decided types: the probability one cue group gives

    @property
    def trained(self) -> bool:
        return bool(self.codes)


EMPLOYMENT = EmailType(
    key="employment",
    label="Hiring / employment",
    lead_value=1.0,
    codes=frozenset({"1.5"}),  # employment arrangements: job seeking, hiring, recommendations
    cues=(
        cue(r"r[eé]sum[eé]s?", "cv", r"interview\w*", "candidates?", "applicants?", "applications?", r"recruit\w*"),
        cue("jobs?", "positions?", "openings?", "roles?", r"vacanc\w+", "careers?", "intern(?:s|ship)?"),
        cue("hir(?:e|ed|es|ing)", "offer letter", "job offer", "start date", "new hires?", "join(?:ing)? (?:us|our)"),
        cue(r"employ\w*", "personnel", "human resources", r"promot\w*", "salary", "compensation", "performance review"),
        cue("references?", r"recommend\w*", r"referr\w*", r"resign\w*", "retire(?:s|d|ment)?", "headhunters?"),
    ),
    prototypes=(
        "a job candidate's resume for an open position",
        "scheduling an interview with a job applicant",
        "we are hiring and recruiting for this role",
        "a job offer, salary and start date for a new hire",
        "a recommendation or reference for someone looking for a job",
        "promotion, performance review and compensation of an employee",
    ),
)
BUYING_INTENT = EmailType(
    key="buying_intent",
    label="Buying intent / inquiry",
    lead_value=1.0,
    codes=frozenset(),  # no Berkeley label: decided by the cues below
    cues=(
        cue("request for (?:proposals?|quotes?|quotations?|information)", "rfp", "rfq", "rfi"),
        cue(
            "(?:price|pricing) (?:quote|list|information|sheet)",
            "quote (?:for|on)",
            "(?:send|give|provide) (?:me|us) (?:a |your )?(?:quote|quotation|proposal|pricing|price list)",
            "how much (?:does|do|would|will) (?:it|this|that|they|you) (?:cost|charge)",
        ),
        cue(
            "interested in (?:purchasing|buying|licensing|your (?:products?|services?|software|solution))",
            "looking for a (?:vendor|supplier|provider)",
            "purchase order",
        ),
        cue("(?:schedule|set up|arrange|book) a demo", "(?:a |product )demo of"),
    ),
    rule_strength=0.6,  # one explicit RFP / quote / purchase phrase decides the type
)
DEAL_PARTNERSHIP = EmailType(
    key="deal_partnership",
    label="Deal / partnership",
    lead_value=0.8,
    codes=frozenset({"3.9"}),  # alliances / partnerships
    cues=(
        cue("partners?", "partnerships?", "alliances?", "joint ventures?", "jv", "consortium"),
        cue("deals?", "term sheets?", "letters? of intent", "loi", "mou", "memorandum of understanding"),
        cue(r"acqui\w+", "mergers?", "investments?", "invest(?:ing|ed)?", "stakes?", r"negotiat\w*"),
    ),
    prototypes=(
        "a proposed partnership or alliance between our two companies",
        "negotiating the terms of a joint venture deal",
        "a letter of intent for an acquisition or investment",
    ),
)
SCHEDULING = EmailType(
    key="scheduling",
    label="Scheduling / logistics",
    lead_value=0.25,
    codes=frozenset({"1.4"}),  # logistic arrangements: meetings, technical support
    cues=(
        cue("meet(?:ing|ings)?", "conference call", "call", "calendar", "schedul\\w*", "agenda", r"reschedul\w*"),
        cue("tomorrow", "today", "tonight", "next week", "this week", "[ap]\\.?m\\.?", r"\d{1,2}:\d{2}"),
        cue("rooms?", "flights?", "hotel", "travel", "lunch", "dinner", "available", "availability"),
        cue("password", "access", "log ?in", "laptop", "printer", "technical support", "help ?desk"),
    ),
    prototypes=(
        "can we schedule a meeting next week",
        "the conference call is moved to 2 pm tomorrow",
        "travel arrangements, flight and hotel for the trip",
        "please fix my computer access and password",
    ),
)
DOCUMENT_REVIEW = EmailType(
    key="document_review",
    label="Document review",
    lead_value=0.3,
    codes=frozenset({"1.6"}),  # document editing / checking
    cues=(
        cue("drafts?", "attached", "attachments?", "enclosed", "versions?", "redlines?", "mark-?up"),
        cue("comments?", r"revis\w*", r"edit\w*", "changes", "review", "take a look", "look over", "proofread"),
        cue("documents?", "memos?", "presentations?", "spreadsheets?", "slides", "letter", "filing"),
    ),
    prototypes=(
        "please review the attached draft and send me your comments",
        "here is the revised version of the document with my edits",
        "take a look at this memo before we send it out",
    ),
)
NEWSLETTER = EmailType(
    key="newsletter",
    label="Newsletter / news / announcement",
    lead_value=0.05,
    codes=frozenset({"2.4", "2.7", "2.10"}),  # news articles, press releases, newsletters
    cues=(
        cue("news", "newsletters?", "press releases?", "for immediate release", r"announc\w*", "bulletin"),
        cue("reuters", "associated press", "dow jones", "bloomberg", "wall street journal", "new york times"),
        cue("said", "according to", "reported", "spokes(?:man|woman|person)", "analysts said"),
        cue("copyright", "all rights reserved", "subscribe", "subscription", "edition", "issue"),
    ),
    prototypes=(
        "a news article reporting what officials said yesterday",
        "press release: the company announced today",
        "this week's newsletter with industry news and headlines",
    ),
)
PERSONAL = EmailType(
    key="personal",
    label="Personal",
    lead_value=0.05,
    codes=frozenset({"1.2", "1.3"}),  # purely personal; personal in a professional context
    cues=(
        cue("family", "wife", "husband", "kids", "children", "baby", "mom", "dad", "daughter", "son"),
        cue("birthday", "wedding", "party", "vacation", "holidays?", "weekend", "golf", "game", "church"),
        cue("congratulations", "congrats", "thank you", "thanks", "love", "miss you", "happy", "sorry"),
    ),
    prototypes=(
        "how was your weekend with the family",
        "congratulations on the baby, we are so happy for you",
        "let's get together for dinner or golf sometime",
    ),
)
SPAM = EmailType(
    key="spam",
    label="Spam / bulk",
    lead_value=0.0,
    codes=frozenset(),  # no Berkeley label: decided by bulk markers (cues below and the sender address)
    cues=(
        cue(
            "unsubscribe",
            "opt[- ]?out",
            "to be removed from",
            "remove me from",
            "you are receiving this",
            "this (?:e-?mail|message) was sent to",
            "manage (?:your )?(?:email )?preferences",
        ),
        cue(
            "special offer",
            "act now",
            "limited time",
            "free (?:gift|trial)",
            "100% free",
            "risk[- ]free",
            "buy now",
            "order now",
            r"\d+% off",
            "you (?:have|'ve) (?:been selected|won)",
        ),
        cue("click here", "view (?:this|it) in your browser", "if you cannot see this (?:e-?mail|message)"),
    ),
    rule_strength=0.4,  # one bulk marker is not enough: two kinds of marker make p >= 0.5
)

TYPES: tuple[EmailType, ...] = (
    EMPLOYMENT,
    BUYING_INTENT,
    DEAL_PARTNERSHIP,
    SCHEDULING,
    DOCUMENT_REVIEW,
    NEWSLETTER,
    PERSONAL,
    SPAM,
)
TYPE_BY_KEY = {t.key: t for t in TYPES}
TRAINED_TYPES = tuple(t for t in TYPES if t.trained)
RULE_TYPES = tuple(t for t in TYPES if not t.trained)
# Sender addresses of bulk mail: a second kind of bulk marker (bulk headers are a third: rules.py).
BULK_SENDER = re.compile(
    r"^(?:no-?reply|do-?not-?reply|newsletters?|news|mailer|bulk|promo(?:tions?)?|offers?|deals|marketing|"
    r"bounces?|lists?)[._-]?\w*@",
    re.IGNORECASE,
)


def labels_from_codes(codes: frozenset[str] | set[str]) -> dict[str, bool]:
    """Which trained types a set of Berkeley codes assigns (rule-decided types have no label)."""
    return {t.key: bool(t.codes & codes) for t in TRAINED_TYPES}
