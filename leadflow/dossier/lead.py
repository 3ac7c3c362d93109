"""What the dossier writer gets for one lead: the signal and what the scoring cascade said."""

from dataclasses import dataclass

HIRING_KINDS = ("job_posting",)  # kinds that are a hire by definition; other kinds say so in `hiring`


@dataclass(frozen=True)
class LeadInput:
    signal_id: str
    kind: str  # "job_posting" | "email" | "account"
    title: str  # a posting's title, an email's subject, an account's name
    text: str  # the full signal text: every fact and citation points into it
    final_score: float
    bucket: str
    company: str = ""  # the signal's own company field: an account's name, an email sender's domain
    role_function: str | None = None  # the cascade's classification, when the small model was asked
    seniority: str | None = None
    hiring: bool | None = None
    reasons: tuple[str, ...] = ()  # the small model's short reasons for its score
    sender: str = ""  # an email's From address
    account_id: str = ""  # the company the accounts stage resolved the signal to ("" when none)

    @property
    def is_hire(self) -> bool:
        return self.kind in HIRING_KINDS or bool(self.hiring)
