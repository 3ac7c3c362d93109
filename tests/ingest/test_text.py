"""html_to_text, normalize_whitespace and trim_email_body on the layouts found in the real data."""

import re

from leadflow.ingest.emails import parse_mbox
from leadflow.ingest.text import html_to_text, normalize_whitespace, trim_email_body

from .conftest import SAMPLES, split


def test_html_to_text_drops_scripts_and_breaks_blocks():
    html = (
        "<html><head><title>t</title><style>p {color: red}</style></head><body>"
        "<script>var x = '<p>hidden</p>';</script>"
        "<h2>About&nbsp;us</h2><p>We build <b>B2B</b> tools &amp; more.</p>"
        "<ul><li>Own the calendar</li><li>Run events</li></ul>Line one<br>Line two</body></html>"
    )
    assert html_to_text(html) == (
        "About us\n\nWe build B2B tools & more.\n\nOwn the calendar\n\nRun events\n\nLine one\nLine two"
    )


def test_html_to_text_on_emscad_text_with_entities():
    # EMSCAD descriptions are plain text that kept HTML entities and non-breaking spaces.
    snippet = "Marketing &amp; Communications\u00a0team, &ldquo;remote&rdquo; &ndash; 3+ years"
    assert html_to_text(snippet) == "Marketing & Communications team, \u201cremote\u201d \u2013 3+ years"


def test_html_to_text_with_head_left_open():
    assert html_to_text("<html><head><title>Offer</title><body><p>Hello</p>") == "Hello"


def test_html_to_text_keeps_angle_brackets_that_are_not_tags():
    assert html_to_text("salary < 50k and 3 > 2") == "salary < 50k and 3 > 2"


def test_normalize_whitespace_keeps_paragraphs():
    raw = "  Hello \t  world\u00a0!\r\n\r\n\r\n\r\nNext\u200b para  \n   \n\n  end  "
    assert normalize_whitespace(raw) == "Hello world !\n\nNext para\n\nend"


def test_trim_lotus_reply_header_with_sender_and_date_on_one_line():
    # Layout of the first message of the Enron sample (header wrapped across two lines).
    body = (
        "Tim\n \nI enjoyed meeting with you too.\n\n\n\n\n"
        '"Richards, Tim J (CORP)" <Tim.Richards@corporate.ge.com> on 08/02/2000 \n'
        "09:01:46 AM\n"
        "To: \"'rshapiro@enron.com'\" <rshapiro@enron.com>, \"'skean@enron.com'\" \n"
        "<skean@enron.com>\n"
        "cc: \"'Kelshaw, Lisbeth'\" <Lisbeth.Kelshaw@kornferry.com> \n"
        "Subject: Thank You\n\n\nDear Steve and Rick,\n"
    )
    assert trim_email_body(body) == "Tim\n\nI enjoyed meeting with you too."


def test_trim_lotus_forwarded_by_banner_wrapped_over_two_lines():
    body = (
        "Please take a look.\n\n"
        "---------------------- Forwarded by Steven J Kean/NA/Enron on 04/28/2001 \n"
        "11:28 AM ---------------------------\n"
        "From: AL ALEXANDERSON/ENRON@enronxgate on 04/27/2001 04:26 PM\n"
        "To: Steven J Kean/NA/Enron@Enron\ncc:  \n\nSubject: FERC comments\n\nForwarded text.\n"
    )
    assert trim_email_body(body) == "Please take a look."


def test_trim_pure_forward_leaves_nothing():
    body = "----- Forwarded by Steven J Kean/NA/Enron on 03/18/2001 07:33 PM -----\n\n\tStacey Bolton\n"
    assert trim_email_body(body) == ""


def test_trim_outlook_original_message():
    body = (
        "Sounds good, see you then.\n\n"
        " -----Original Message-----\n"
        "From: \tSmith, Jane  \nSent:\tMonday, June 25, 2001 9:12 AM\nTo:\tDoe, John\n"
        "Subject:\tLunch\n\nLunch on Friday?\n"
    )
    assert trim_email_body(body) == "Sounds good, see you then."


def test_trim_outlook_header_without_banner():
    body = "Agreed.\n\nFrom: Jane Smith [mailto:jane@example.com]\nSent: Monday\nTo: John\n\nOld text"
    assert trim_email_body(body) == "Agreed."


def test_trim_tabbed_lotus_header_with_name_above_date():
    # Layout from the Enron sample: name line, date line, then an indented To:/cc:/Subject: block.
    body = (
        "How is it going?\n\n\n"
        "\tGail Brownfeld/ENRON@enronXgate\n\t03/07/2001 03:06 PM\n\t\t \n"
        "\t\t To: Richard B Sanders/HOU/ECT@ECT\n\t\t cc: \n\t\t Subject: RE: IHI Arbitration\n\nOld text\n"
    )
    assert trim_email_body(body) == "How is it going?"


def test_trim_lotus_sent_by_header_drops_the_sender_name_too():
    body = (
        "Thanks, will do.\n\n"
        "\tJeff Dasovich\n\tSent by: Jeff Dasovich\n\t10/13/2000 11:01 AM\n\t\t \n"
        "\t\t To: skean@enron.com\n\t\t cc: \n\t\t Subject: Legal Analysis\n\nOld text\n"
    )
    assert trim_email_body(body) == "Thanks, will do."


def test_trim_quoted_lines_attribution_and_signature():
    body = (
        "On Sun, 6 Aug 2000, Lee Wong wrote:\n> Is the budget approved?\n>\n"
        "Yes, approved.\n\n> And the timeline?\nQ3.\n-- \nQuoter, CFO\n+1 555 0100\n"
    )
    assert trim_email_body(body) == "Yes, approved.\n\nQ3."


def test_trim_keeps_a_bare_double_dash_in_prose():
    body = "He was going to go off scot-free, whereas all of his minions\n--\nthey were going to do time."
    assert trim_email_body(body) == body


def test_trim_on_every_real_sample_message_leaves_no_quote_or_forward_marker():
    # Assertions compare booleans only, so a failure never prints an Enron body.
    marker = re.compile(r"original message|forwarded by|^\s*>|^\s*(to|cc|subject):", re.IGNORECASE | re.MULTILINE)
    signals, _ = split(parse_mbox(SAMPLES / "enron_sample.mbox", source="sample_emails"))
    leftovers = [s.position for s in signals if marker.search(s.text)]
    assert leftovers == []
    assert len(signals) > 50


def test_html_to_text_survives_malformed_marked_sections():
    # Python 3.11's HTMLParser raises AssertionError on these.
    assert html_to_text("a <![weird stuff> b <![CDATA[x]]> c") == "a <![weird stuff> b c"


def test_normalize_whitespace_replaces_lone_surrogates():
    assert normalize_whitespace("caf\udce9 \ud800") == "caf\ufffd \ufffd"
