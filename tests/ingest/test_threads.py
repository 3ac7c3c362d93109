"""Forwards, quoted replies, long emails and implausible dates, on real Enron sample mail.

Assertions on real mail compare flags, lengths and hashes, never bodies (each check is a
boolean named first), so that a failing test does not print anyone's email.
"""

import datetime
import re
from email import policy
from email.parser import BytesParser

import pytest

from leadflow.ingest import Rejection, Signal, SourceSpec, read_source
from leadflow.ingest.emails import iter_mbox_messages, parse_eml, parse_mbox
from leadflow.ingest.records import make_content_hash
from leadflow.ingest.text import WINDOW_MARK, normalize_whitespace, trim_email_body

from .conftest import IMPORT_DATE, SAMPLES, only_signals, reasons, split

ENRON_SAMPLE = SAMPLES / "enron_sample.mbox"
LOTUS_FORWARD_ONLY = 3  # "----- Forwarded by ..." banner and nothing above it
OUTLOOK_FORWARD_ONLY = 30  # FW: subject, "-----Original Message-----" and nothing above it
FORWARD_WITH_NOTE = 2  # a short note above a Lotus forward banner
REPLY, ITS_ORIGINAL = 35, 92  # an Outlook reply quoting a message that is also in the sample


@pytest.fixture(scope="module")
def sample() -> list[bytes]:
    return list(iter_mbox_messages(ENRON_SAMPLE))


def _body(raw: bytes) -> str:
    """The decoded text body, read with the stdlib alone."""
    part = BytesParser(policy=policy.default).parsebytes(raw).get_body(preferencelist=("plain",))
    assert part is not None
    return part.get_content()


def _mbox(tmp_path, messages: list[bytes], name: str = "slice.mbox"):
    """An mbox of these raw messages, body lines starting with `From ` escaped (mboxrd)."""
    path = tmp_path / name
    with path.open("wb") as f:
        for raw in messages:
            f.write(b"From leadflow-test Mon Jan  1 00:00:00 2001\n")
            f.write(re.sub(rb"(?m)^(>*From )", rb">\1", raw).rstrip(b"\n") + b"\n\n")
    return path


def _parse(tmp_path, messages: list[bytes], **kwargs) -> list[Signal | Rejection]:
    return list(parse_mbox(_mbox(tmp_path, messages), source="t", import_date=IMPORT_DATE, **kwargs))


def _parse_eml(tmp_path, raw: bytes, **kwargs) -> list[Signal | Rejection]:
    path = tmp_path / "one.eml"
    path.write_bytes(raw)
    return list(parse_eml(path, source="t", import_date=IMPORT_DATE, **kwargs))


@pytest.mark.parametrize("index", [LOTUS_FORWARD_ONLY, OUTLOOK_FORWARD_ONLY])
def test_a_forwarded_only_email_becomes_a_signal_carrying_the_forwarded_text(tmp_path, sample, index):
    (signal,) = _parse(tmp_path, [sample[index]])
    assert isinstance(signal, Signal)  # it was quarantined as empty_body
    body = _body(sample[index])
    last_line = normalize_whitespace(body).splitlines()[-1]  # the forwarded message's last line
    carries_the_forwarded_text = last_line in signal.text and len(signal.text) > 200
    keeps_a_banner = bool(re.search(r"(?im)original message|forwarded by", signal.text))
    assert carries_the_forwarded_text and not keeps_a_banner
    assert (signal.attributes["forwarded"], signal.attributes["forward_note"]) == (True, "")
    assert trim_email_body(body) == ""  # the sender added no words of their own


def test_a_forward_with_a_note_keeps_the_note_apart(tmp_path, sample):
    (signal,) = only_signals(_parse(tmp_path, [sample[FORWARD_WITH_NOTE]]))
    body = _body(sample[FORWARD_WITH_NOTE])
    note = signal.attributes["forward_note"]
    note_is_the_senders_words = note == trim_email_body(body) and len(note) > 20
    note_is_apart = note not in signal.text
    last_line = normalize_whitespace(body).splitlines()[-1]
    carries_the_forwarded_text = last_line in signal.text
    assert signal.attributes["forwarded"] is True
    assert note_is_the_senders_words and note_is_apart and carries_the_forwarded_text


def test_gmail_forward_with_a_note(tmp_path):
    # Hand-made, so that the exact values can be shown.
    raw = (
        b"Message-ID: <fw@example.com>\nDate: Mon, 02 Jul 2001 10:00:00 +0000\nFrom: rep@example.com\n"
        b"Subject: Fwd: Opening\n\nSee below, a good fit for us?\n\n"
        b"---------- Forwarded message ---------\nFrom: Ann <ann@startup.example>\n"
        b"Date: Sun, 1 Jul 2001\nSubject: Opening\nTo: rep@example.com\n\n"
        b"We are hiring our first PR manager.\n"
    )
    (signal,) = only_signals(_parse_eml(tmp_path, raw))
    assert signal.text == "We are hiring our first PR manager."
    assert signal.attributes["forwarded"] is True
    assert signal.attributes["forward_note"] == "See below, a good fit for us?"


def test_a_quoted_reply_is_trimmed_only_when_its_original_is_in_the_archive(tmp_path, sample):
    (alone,) = _parse(tmp_path, [sample[REPLY]])
    # The reply comes before its original in the file: the first pass has seen both.
    trimmed, original = _parse(tmp_path, [sample[REPLY], sample[ITS_ORIGINAL]])
    own = trim_email_body(_body(sample[REPLY]))
    assert isinstance(alone, Signal) and isinstance(trimmed, Signal) and isinstance(original, Signal)
    assert (alone.attributes["quote"], trimmed.attributes["quote"]) == ("kept", "trimmed")
    kept_the_quote = alone.text.startswith(own) and len(alone.text) > len(own) + 100
    assert kept_the_quote
    assert trimmed.content_hash == make_content_hash(trimmed.title, own)  # the sender's words alone
    assert alone.signal_id == trimmed.signal_id  # ids stay on the Message-ID
    original_first = only_signals(_parse(tmp_path, [sample[ITS_ORIGINAL], sample[REPLY]]))[1]
    assert original_first.content_hash == trimmed.content_hash


def test_an_inline_quote_is_trimmed_only_when_its_original_is_in_the_archive(tmp_path):
    original = (
        b"Message-ID: <q1@example.com>\nDate: Sun, 06 Aug 2000 09:00:00 +0000\nFrom: lee@example.org\n"
        b"Subject: Budget\n\nIs the budget approved?\nThanks\n-- \nLee Wong\n"
    )
    reply = (
        b"Message-ID: <q2@example.com>\nDate: Mon, 07 Aug 2000 08:00:00 +0000\nFrom: cfo@example.com\n"
        b"Subject: Re: Budget\n\nOn Sun, 6 Aug 2000, Lee Wong wrote:\n> Is the budget approved?\n> Thanks\n"
        b"> --\n> Lee Wong\n\nYes, approved.\n"
    )
    (alone,) = only_signals(_parse(tmp_path, [reply]))
    assert alone.text == (
        "On Sun, 6 Aug 2000, Lee Wong wrote:\n> Is the budget approved?\n> Thanks\n> --\n> Lee Wong\n\nYes, approved."
    )
    assert alone.attributes["quote"] == "kept"
    trimmed = only_signals(_parse(tmp_path, [reply, original]))[0]
    assert (trimmed.text, trimmed.attributes["quote"]) == ("Yes, approved.", "trimmed")


def test_a_reply_with_nothing_but_a_quote_of_an_archived_message_is_empty(tmp_path):
    original = (
        b"Message-ID: <e1@example.com>\nDate: Sun, 06 Aug 2000 09:00:00 +0000\nFrom: lee@example.org\n"
        b"Subject: Budget\n\nIs the budget approved?\n"
    )
    reply = (
        b"Message-ID: <e2@example.com>\nDate: Mon, 07 Aug 2000 08:00:00 +0000\nFrom: cfo@example.com\n"
        b"Subject: RE: Budget\n\n -----Original Message-----\nFrom: Lee\nSent: Sunday\nTo: CFO\n"
        b"Subject: Budget\n\nIs the budget approved?\n"
    )
    records = _parse(tmp_path, [reply, original])
    assert reasons(r for r in records if isinstance(r, Rejection)) == {f"{tmp_path / 'slice.mbox'}#0": "empty_body"}
    (alone,) = only_signals(_parse(tmp_path, [reply]))
    assert (alone.text, alone.attributes["quote"]) == ("Is the budget approved?", "kept")


def test_a_long_email_is_windowed_with_the_cut_recorded(tmp_path):
    paragraphs = [f"Paragraph {i}: we are evaluating suppliers for the Houston office." for i in range(600)]
    raw = (
        b"Message-ID: <long@example.com>\nDate: Mon, 02 Jul 2001 10:00:00 +0000\nFrom: rep@example.com\n"
        b"Subject: Digest\n\n" + "\n\n".join(paragraphs).encode()
    )
    (signal,) = only_signals(_parse(tmp_path, [raw], max_chars=5_000))
    window = signal.attributes["window"]
    original = normalize_whitespace("\n\n".join(paragraphs))
    assert window["original_chars"] == len(original) > 40_000
    assert window["kept_head"] + len(WINDOW_MARK) + window["kept_tail"] == len(signal.text) <= 5_000
    head, tail = signal.text.split(WINDOW_MARK)
    assert signal.text.startswith("Paragraph 0:") and signal.text.endswith(
        "Paragraph 599: we are evaluating suppliers for the Houston office."
    )
    assert original.startswith(head) and original.endswith(tail)


def test_real_long_emails_are_windowed_not_quarantined():
    signals, rejections = split(parse_mbox(ENRON_SAMPLE, source="t", import_date=IMPORT_DATE))
    windowed = [s for s in signals if "window" in s.attributes]
    assert not any(r.reason.startswith("oversize") for r in rejections)
    assert len(windowed) == 3
    for s in windowed:
        w = s.attributes["window"]
        assert w["kept_head"] + len(WINDOW_MARK) + w["kept_tail"] == len(s.text) <= 20_000 < w["original_chars"]


def test_only_a_message_beyond_the_raw_size_cap_is_oversize_and_the_stream_goes_on(tmp_path):
    big = (
        b"Message-ID: <big@example.com>\nDate: Mon, 02 Jul 2001 10:00:00 +0000\nFrom: rep@example.com\n"
        b"Subject: Glued\n\n" + b"a line of a message glued to the next by a lost separator\n" * 200
    )
    small = b"Message-ID: <s@example.com>\nDate: Mon, 02 Jul 2001 11:00:00 +0000\nFrom: rep@example.com\n\nHello.\n"
    rejected, signal = _parse(tmp_path, [big, small], max_bytes=4_000)
    assert isinstance(rejected, Rejection) and rejected.reason.startswith("oversize")
    assert rejected.record_date == datetime.date(2001, 7, 2)
    assert isinstance(signal, Signal) and signal.text == "Hello."
    (eml,) = _parse_eml(tmp_path, big, max_bytes=4_000)
    assert isinstance(eml, Rejection) and eml.reason.startswith("oversize")


def test_implausible_dates_are_quarantined_with_their_own_reason_and_date(tmp_path):
    def message(n: int, date: str) -> bytes:
        return f"Message-ID: <d{n}@example.com>\nDate: {date}\nFrom: rep@example.com\n\nPlease send a quote.\n".encode()

    path = _mbox(
        tmp_path,
        [
            message(0, "Mon, 31 Dec 1979 16:00:00 -0800"),  # Enron's placeholder: 1980-01-01 in UTC
            message(1, "Thu, 02 May 2024 09:00:00 +0000"),  # the day after the import date
            message(2, "Wed, 01 May 2024 09:00:00 +0000"),  # the import date itself
            message(3, "Mon, 01 Jan 1990 09:00:00 +0000"),  # the earliest plausible day
        ],
    )
    spec = SourceSpec(name="dates", format="mbox", path=path.name)
    records = list(read_source(spec, IMPORT_DATE, tmp_path))  # the import date bounds the dates
    signals, rejections = split(records)
    assert reasons(rejections) == {"slice.mbox#0": "implausible_date", "slice.mbox#1": "implausible_date"}
    assert [r.record_date for r in rejections] == [datetime.date(1980, 1, 1), datetime.date(2024, 5, 2)]
    assert [s.signal_date for s in signals] == [datetime.date(2024, 5, 1), datetime.date(1990, 1, 1)]
