"""What the analysis reads of an email."""

import datetime

from leadflow.analysis.mail import CUE_WINDOW_CHARS, Mail
from leadflow.ingest.records import Signal


def test_a_mail_from_a_signal_keeps_subject_text_sender_and_date():
    signal = Signal(
        signal_id="x",
        source="s",
        kind="email",
        position="p",
        external_id="<id>",
        signal_date=datetime.date(2001, 5, 4),
        title="Interview",
        company="enron.com",
        text="Can we meet the candidate?",
        content_hash="h",
        attributes={"from": "vince.kaminski@enron.com"},
    )
    mail = Mail.from_signal(signal)
    assert mail == Mail(
        "Interview", "Can we meet the candidate?", "vince.kaminski@enron.com", datetime.date(2001, 5, 4)
    )
    assert "candidate" not in repr(mail)  # the body never shows in logs


def test_a_long_text_is_read_on_a_head_and_tail_window(golden):
    long = max(golden.mails, key=lambda m: len(m.text))
    assert len(long.text) > CUE_WINDOW_CHARS
    window = long.window
    assert len(window) <= CUE_WINDOW_CHARS
    assert window[:500] == long.text[:500] and window[-200:] == long.text[-200:]
    short = Mail("s", "a short text")
    assert short.window == short.text
