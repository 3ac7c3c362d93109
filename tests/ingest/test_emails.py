"""Emails: mbox (hand-made bad file, real Enron sample, a generated large file), maildir, .eml.

Assertions on the Enron sample compare counts and flags, never bodies, so that a failing test
does not print anyone's email.
"""

import datetime
import shutil
import time
import tracemalloc

from leadflow.ingest.emails import iter_mbox_messages, parse_eml, parse_maildir, parse_mbox

from .conftest import FIXTURES, IMPORT_DATE, SAMPLES, reasons, split

BAD_MBOX = FIXTURES / "bad_emails.mbox"
ENRON_SAMPLE = SAMPLES / "enron_sample.mbox"


def _parse_bad_mbox():
    return split(parse_mbox(BAD_MBOX, source="test_emails", label="bad.mbox"))


def test_every_bad_message_is_quarantined_with_its_reason():
    signals, rejections = _parse_bad_mbox()
    separators = sum(1 for line in BAD_MBOX.read_bytes().splitlines() if line.startswith(b"From "))
    assert len(signals) + len(rejections) == separators == 8
    assert [s.position for s in signals] == ["bad.mbox#0", "bad.mbox#4", "bad.mbox#6", "bad.mbox#7"]
    assert reasons(rejections) == {
        "bad.mbox#1": "empty_body",
        "bad.mbox#2": "missing_date",
        "bad.mbox#3": "undecodable",
        "bad.mbox#5": "bad_date",
    }
    assert all(r.kind == "email" and len(r.excerpt) <= 200 for r in rejections)
    # A reject carries its own date when it has one, so a range backfill can place it.
    assert [r.record_date for r in rejections] == [datetime.date(2000, 8, 4), None, datetime.date(2000, 8, 5), None]


def test_reply_fields():
    reply = _parse_bad_mbox()[0][0]
    assert reply.kind == "email"
    assert reply.external_id == "<m0@mail.acme-widgets.com>"
    assert reply.title == "Re: Pilot for the Houston office"
    assert reply.company == "acme-widgets.com"
    assert reply.signal_date == datetime.date(2000, 8, 3)
    # The quoted message is not in the archive, so the quote stays (under its header, removed).
    assert reply.text == (
        "Lee,\n\nWe would like to start the pilot in September.\n\nDana, are you still interested in a pilot?"
    )
    assert reply.attributes == {
        "from": "dana.park@acme-widgets.com",
        "to": ["lee@example.org", "kim@example.org", "a@example.org", "b@example.org", "c@example.org"],
        "cc_count": 2,
        "has_attachments": False,
        "quote": "kept",
    }


def test_html_body_with_attachment_and_utc_date():
    digest = _parse_bad_mbox()[0][1]
    assert digest.text == "Prices rose 3%.\n\nRead more & reply."
    assert digest.attributes["has_attachments"] is True
    assert digest.company == "news.example.net"
    assert digest.signal_date == datetime.date(2000, 8, 7)  # Sun 20:30 -0700 is Monday in UTC


def test_mboxrd_from_escape_quotes_and_signature():
    budget = _parse_bad_mbox()[0][2]
    # The ">" quote stays (its message is not in the archive); the signature goes.
    assert budget.text == (
        "From our side the budget is approved.\nOn Sun, 6 Aug 2000, Lee Wong wrote:\n"
        "> Is the budget approved?\n> Thanks\n\nSecond paragraph."
    )
    assert budget.attributes["quote"] == "kept"


def test_unknown_charset_goes_through_the_fallback_chain():
    order = _parse_bad_mbox()[0][3]
    # Raw 8-bit bytes in the Subject and a body in an unknown charset: both read as windows-1252.
    assert order.title == "Caf\u00e9 order"
    assert order.signal_date == datetime.date(2000, 8, 8)  # "-0000": already UTC
    assert "caf\u00e9 order" in order.text
    assert order.attributes["charset_repair"] == "fallback: declared x-unknown-8bit, read as windows-1252"


def test_ids_are_stable_across_reads():
    first = _parse_bad_mbox()[0]
    assert first == _parse_bad_mbox()[0]
    assert len({s.signal_id for s in first}) == len(first)


def test_a_from_line_that_is_not_a_separator_stays_in_its_message(tmp_path):
    mbox = tmp_path / "split.mbox"
    mbox.write_bytes(
        b"From a@example.com Mon Jan  1 00:00:00 2001\nSubject: one\n\nbody\n"
        b"From here on this is still message one.\n\n"
        b"From b@example.com Mon Jan  1 00:00:00 2001\nSubject: two\n\n>>From stays quoted once\n\n\n"
    )
    messages = list(iter_mbox_messages(mbox))
    assert len(messages) == 2
    assert b"From here on" in messages[0]
    assert b"\n>From stays quoted once" in messages[1]


def test_quoted_printable_declared_as_7bit_is_decoded(tmp_path):
    # The Enron corpus relabelled quoted-printable bodies as 7bit.
    mbox = tmp_path / "qp.mbox"
    mbox.write_bytes(
        b"From x Mon Jan  1 00:00:00 2001\nMessage-ID: <qp@x>\nDate: Mon, 01 Jan 2001 10:00:00 +0000\n"
        b"From: a@example.com\nContent-Transfer-Encoding: 7bit\n\n"
        b"We expect prices to rise=20\nsharply in the sec=\nond quarter, per the =3D r=\nule.=20\n\n"
    )
    (signal,) = split(parse_mbox(mbox, source="s"))[0]
    assert signal.text == "We expect prices to rise\nsharply in the second quarter, per the = rule."


def test_maildir_reads_cur_and_new_sorted_and_skips_tmp(tmp_path):
    maildir = tmp_path / "inbox"
    shutil.copytree(FIXTURES / "maildir", maildir)
    (maildir / "tmp").mkdir()
    (maildir / "tmp" / "1000000004.M4P4.host").write_bytes(b"Date: Mon, 01 Jan 2001 10:00:00 +0000\n\nhalf-written")
    signals, rejections = split(parse_maildir(maildir, source="test_maildir", label="inbox"))
    assert [s.position for s in signals] == ["inbox/cur/1000000001.M1P1.host", "inbox/new/1000000003.M3P3.host"]
    assert reasons(rejections) == {"inbox/cur/1000000002.M2P2.host": "missing_date"}
    assert [s.signal_date for s in signals] == [datetime.date(2001, 1, 2), datetime.date(2001, 1, 4)]
    assert signals[0].company == "prospect.example.com"


def test_single_eml():
    (signal,) = split(parse_eml(FIXTURES / "single.eml", source="test_eml"))[0]
    assert signal.position == str(FIXTURES / "single.eml")
    assert signal.external_id == "<eml1@vendor.example.org>"
    assert signal.title == "Intro: analytics platform"
    assert signal.company == "vendor.example.org"
    assert signal.signal_date == datetime.date(2001, 1, 5)
    # One file is the whole archive: the quoted "Original Message" is not in it, so it stays.
    assert signal.text == (
        "Hi,\n\nWe are hiring our first marketing lead and want to talk about tooling.\n\nHello from Leadflow."
    )
    assert signal.attributes["quote"] == "kept"


def test_real_enron_sample():
    signals, rejections = split(parse_mbox(ENRON_SAMPLE, source="sample_emails", import_date=IMPORT_DATE))
    # Forwards and lone quotes are read (17 forwarded-only mails and one reply with nothing but
    # its quote were empty_body) and long mails windowed (3 were oversize): only the placeholder
    # dates and two forwards of a subject line alone are quarantined.
    assert (len(signals), len(rejections)) == (113, 7)
    assert sum(1 for _ in iter_mbox_messages(ENRON_SAMPLE)) == 120
    codes = [r.reason.partition(":")[0] for r in rejections]
    assert (codes.count("empty_body"), codes.count("oversize"), codes.count("implausible_date")) == (2, 0, 5)
    years = {s.signal_date.year for s in signals}
    assert {1997, 1999, 2000, 2001, 2002} <= years
    # Five messages carry the placeholder date 1979-12-31 16:00 -0800, i.e. 1980-01-01 UTC:
    # quarantined as implausible, with that date.
    placeholder = [r.record_date for r in rejections if r.reason.startswith("implausible_date")]
    assert placeholder == [datetime.date(1980, 1, 1)] * 5
    assert all(r.record_date is not None for r in rejections)
    windows = [s.attributes["window"] for s in signals if "window" in s.attributes]
    assert len(windows) == 3 and all(w["original_chars"] > 20_000 for w in windows)
    assert sum(bool(s.attributes.get("forwarded")) for s in signals) == 51
    assert len({s.signal_id for s in signals}) == len(signals)
    assert all(s.external_id.startswith("<") and s.company and 0 < len(s.text) <= 20_000 for s in signals)
    assert sum(s.company == "enron.com" for s in signals) > 80
    assert not any("=20" in s.text for s in signals)  # the 7bit-labelled quoted-printable got decoded
    for s in signals:  # every field survives a UTF-8 round trip (no lone surrogates for the database)
        s.text.encode("utf-8")
        s.title.encode("utf-8")


def _write_generated_mbox(path, count, body):
    with path.open("wb") as f:
        for i in range(count):
            f.write(
                b"From sender@example.com Thu Aug  3 12:11:00 2000\n"
                b"Message-ID: <%d@example.com>\nDate: Thu, 03 Aug 2000 12:11:00 -0700\n"
                b"From: rep%d@example.com\nTo: sales@example.org\nSubject: note %d\n\n%s\n\n" % (i, i, i, body)
            )


def _peak_traced_bytes(consume):
    tracemalloc.start()
    try:
        result = consume()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_mbox_splitter_streams_20k_messages(tmp_path):
    mbox = tmp_path / "big.mbox"
    _write_generated_mbox(mbox, 20_000, b"Hello, please send a quote.")
    started = time.perf_counter()
    count, peak = _peak_traced_bytes(lambda: sum(1 for _ in iter_mbox_messages(mbox)))
    assert count == 20_000
    assert mbox.stat().st_size > 3_000_000
    assert peak < 1_000_000
    assert time.perf_counter() - started < 5


def test_parse_mbox_memory_does_not_grow_with_the_file(tmp_path):
    mbox = tmp_path / "long.mbox"
    paragraph = b"We are evaluating suppliers for the Houston office and would like a quote. " * 10
    _write_generated_mbox(mbox, 150, b"\n\n".join([paragraph] * 20))  # ~15 KB per message
    count, peak = _peak_traced_bytes(lambda: sum(1 for _ in parse_mbox(mbox, source="s")))
    assert count == 150
    assert mbox.stat().st_size > 2_000_000
    assert peak < 1_500_000


def test_hostile_headers_are_quarantined_or_cleaned(tmp_path):
    mbox = tmp_path / "hostile.mbox"
    mbox.write_bytes(
        b"From x Mon Jan  1 00:00:00 2001\nMessage-ID: <a@x>\nDate: Fri, 31 Dec 9999 23:30:00 -0100\n"
        b"From: a@example.com\n\nYear 10000 in UTC.\n\n"
        b"From x Mon Jan  1 00:00:00 2001\nMessage-ID: <b\xe9@x>\nDate: Mon, 01 Jan 2001 10:00:00 +0000\n"
        b"From: Jos\xc3\xa9 <jos\xe9@ex\xe9mple.com>\nTo: <@x>, b@example.com\n\nRaw 8-bit header bytes.\n\n"
    )
    (signal,), rejections = split(parse_mbox(mbox, source="s", label="hostile.mbox"))
    assert reasons(rejections) == {"hostile.mbox#0": "bad_date"}
    assert signal.external_id == "<b\ufffd@x>"
    assert signal.attributes["from"] == "jos\ufffd@ex\ufffdmple.com"
    assert signal.company == "ex\ufffdmple.com"


def test_separators_without_blank_lines_stream_20k_messages(tmp_path):
    # 30,969 such messages used to be read as one, at a 575 MB memory peak.
    mbox = tmp_path / "tight.mbox"
    with mbox.open("wb") as f:
        for i in range(20_000):
            f.write(
                b"From sender@example.com Thu Aug  3 12:11:00 2000\nMessage-ID: <%d@example.com>\n"
                b"Date: Thu, 03 Aug 2000 12:11:00 -0700\nFrom: rep%d@example.com\n\nHello %d.\n" % (i, i, i)
            )
    count, peak = _peak_traced_bytes(lambda: sum(1 for _ in iter_mbox_messages(mbox)))
    assert count == 20_000
    assert peak < 1_000_000


def test_a_content_length_that_fits_keeps_a_separator_shaped_line_in_its_body(tmp_path):
    body = b"Forwarded:\nFrom bob@example.com Mon Jan  1 09:00:00 2001\nQuote 40 seats.\n"
    head = b"From a@example.com Mon Jan  1 10:00:00 2001\nDate: Mon, 01 Jan 2001 10:00:00 +0000\n"
    mbox = tmp_path / "cl.mbox"
    mbox.write_bytes(
        head
        + b"Content-Length: %d\n\n" % len(body)
        + body
        + head
        + b"\nsecond\n"
        # a Content-Length past the end of the file is ignored
        + head
        + b"Content-Length: 99999\n\nthird\n"
        + head
        + b"\nfourth\n"
    )
    messages = list(iter_mbox_messages(mbox))
    assert len(messages) == 4
    assert messages[0].endswith(body)
    assert [m.rstrip().rsplit(b"\n", 1)[-1] for m in messages[1:]] == [b"second", b"third", b"fourth"]


def test_a_huge_subject_is_cut_before_parsing(tmp_path):
    mbox = tmp_path / "subject.mbox"
    mbox.write_bytes(
        b"From a@example.com Mon Jan  1 10:00:00 2001\nDate: Mon, 01 Jan 2001 10:00:00 +0000\n"
        b"Subject: " + b"word " * 210_000 + b"\n\nPlease send a quote.\n"
    )
    started = time.perf_counter()
    (signal,) = split(parse_mbox(mbox, source="s"))[0]
    assert time.perf_counter() - started < 2  # the stdlib alone: 10.7 s, quadratic
    assert len(signal.title) == 1000
    assert signal.attributes["headers_cut"] == ["Subject"]
    assert signal.attributes["title_cut"]["kept"] == 1000


def test_bulk_mail_headers_become_attributes(tmp_path):
    mbox = tmp_path / "bulk.mbox"
    head = b"From x Mon Jan  1 00:00:00 2001\nDate: Mon, 01 Jan 2001 10:00:00 +0000\nFrom: a@example.com\n"
    mbox.write_bytes(
        head + b"Message-ID: <bulk@x>\nList-Unsubscribe: <mailto:leave@lists.example.com>\n"
        b"Precedence: bulk\nSubject: Weekly offers\n\nThis week only.\n\n"
        + head
        + b"Message-ID: <plain@x>\nSubject: Lunch\n\nSee you at noon.\n\n"
    )
    bulk, plain = split(parse_mbox(mbox, source="s"))[0]
    assert bulk.attributes["bulk_headers"] == ["list-unsubscribe", "precedence: bulk"]
    assert "bulk_headers" not in plain.attributes
