"""Stated rules for the types the golden set has no label for (buying intent, spam).

Each distinct cue group found in the subject or the text window is one point (for spam, a
bulk-looking sender address is one more, and bulk-mail headers such as List-Unsubscribe or
Precedence: bulk one more), and `p = 1 - (1 - rule_strength) ** points`. With the
strengths in the taxonomy one explicit RFP / quote / purchase phrase decides buying intent
(0.6), while spam takes two kinds of bulk marker (0.4, then 0.64): an unsubscribe footer alone
is also what legitimate newsletters carry.
"""

from leadflow.analysis.mail import Mail
from leadflow.analysis.taxonomy import BULK_SENDER, SPAM, EmailType

RULE_DECISION = 0.5  # a rule-decided type is decided from this probability


def rule_points(email_type: EmailType, mail: Mail) -> int:
    text = f"{mail.subject}\n{mail.window}"
    points = sum(1 for group in email_type.cues if group.search(text))
    if email_type is SPAM:
        points += bool(BULK_SENDER.match(mail.sender)) + bool(mail.bulk_headers)
    return points


def rule_probability(email_type: EmailType, mail: Mail) -> float:
    if email_type.trained:
        raise ValueError(f"type {email_type.key!r} is trained, not rule-decided")
    return round(1.0 - (1.0 - email_type.rule_strength) ** rule_points(email_type, mail), 4)
