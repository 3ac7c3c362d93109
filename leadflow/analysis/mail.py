"""What the analysis reads of an email signal."""

import datetime
from dataclasses import dataclass, field

from leadflow.ingest.records import Signal
from leadflow.ingest.text import window_text

# The cues read a head-and-tail window of this many characters (the parser's own windowing):
# a long forwarded thread would otherwise drown the few words that type the email.
CUE_WINDOW_CHARS = 4000


@dataclass(frozen=True)
class Mail:
    subject: str
    text: str = field(repr=False)  # the signal text; entity offsets point into it. Never logged.
    sender: str = ""
    sent: datetime.date | None = None
    bulk_headers: tuple[str, ...] = ()  # List-Unsubscribe, Precedence: bulk, ... (the parser's attributes)

    @classmethod
    def from_signal(cls, signal: Signal) -> "Mail":
        return cls.from_attributes(signal.title, signal.text, signal.attributes, signal.signal_date)

    @classmethod
    def from_attributes(cls, subject: str, text: str, attributes: dict, sent: datetime.date | None) -> "Mail":
        """A mail from a signal's fields and its attributes (as stored in raw_signals)."""
        return cls(subject, text, str(attributes.get("from", "")), sent, tuple(attributes.get("bulk_headers", ())))

    @property
    def window(self) -> str:
        return window_text(self.text, CUE_WINDOW_CHARS)[0]
