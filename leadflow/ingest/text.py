"""Text cleanup shared by the parsers: HTML to text, whitespace, windows of long texts, and the
parts of an email body (own words, forwarded and quoted messages) with their fingerprints."""

import hashlib
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Literal

_BLOCK_TAGS = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "br",
        "dd",
        "div",
        "dl",
        "dt",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "tbody",
        "td",
        "th",
        "thead",
        "tr",
        "ul",
    ]
)
# Not "head": HTML lets it close implicitly, and an unclosed one would swallow the whole body.
_SKIP_TAGS = frozenset({"script", "style", "title", "noscript"})


class _TextExtractor(HTMLParser):
    """Collects text nodes; block-level tags become line breaks so words do not run together."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skip_depth += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip_depth:
            self.parts.append(data)

    def parse_marked_section(self, i: int, report: bool = True) -> int:
        """Python 3.11 raises AssertionError on a malformed `<![`; report it as unfinished
        markup instead, which `close()` then passes on as text."""
        try:
            return super().parse_marked_section(i, report)
        except AssertionError:
            return -1


def html_to_text(s: str) -> str:
    """Plain text from an HTML fragment (or from plain text that only carries entities)."""
    parser = _TextExtractor()
    parser.feed(s)
    parser.close()
    return normalize_whitespace("".join(parser.parts))


_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_HSPACE = re.compile(r"[^\S\n]+")  # any whitespace except newline, incl. \u00a0 and \u2009
_BLANK_RUNS = re.compile(r"\n{3,}")


_SURROGATE = re.compile("[\ud800-\udfff]")
# Terminal escape sequences (CSI `ESC [ ... m`, OSC `ESC ] ... BEL`, two-byte ESC codes), then
# C0 controls but tab and the line breaks, DEL and C1 controls: NUL breaks storage and C API
# consumers, escapes rewrite the terminal that shows a subject.
_TERMINAL_ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")


def clean_text(s: str) -> str:
    """The text with U+FFFD for lone surrogates (JSON `\\ud800` escapes, raw 8-bit bytes kept by
    the email parser: they cannot be encoded as UTF-8, so storing them would fail downstream)
    and without terminal escapes and control characters such as NUL."""
    return _CONTROL.sub("", _TERMINAL_ESCAPE.sub("", _SURROGATE.sub("\ufffd", s)))


def printable_name(name: str) -> str:
    """A file name as storable text: a byte that is not UTF-8 (a lone surrogate from
    `os.listdir`) becomes `\\xNN`, so the name still tells which file it was."""
    try:
        return name.encode("utf-8", errors="surrogateescape").decode("utf-8", errors="backslashreplace")
    except UnicodeEncodeError:  # a surrogate that no byte made
        return clean_text(name)


def normalize_whitespace(s: str) -> str:
    """Collapse spaces within lines and keep at most one blank line, so paragraphs survive."""
    s = _INVISIBLE.sub("", clean_text(s).replace("\r\n", "\n").replace("\r", "\n"))
    lines = (_HSPACE.sub(" ", line).strip() for line in s.split("\n"))
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip()


# Banners that open a message included below the sender's own text.
_FORWARD_BANNER = re.compile(
    r"""^\s*(
        -{2,}\s*forwarded\s+by\b                # Lotus Notes: ----- Forwarded by X on ...
      | -{2,}\s*forwarded\s+message\s*-{2,}     # Gmail: ---------- Forwarded message ---------
      | begin\s+forwarded\s+message:            # Apple Mail
    )""",
    re.IGNORECASE | re.VERBOSE,
)
_REPLY_BANNER = re.compile(r"^\s*-{2,}\s*original\s+message\s*-{2,}", re.IGNORECASE)  # Outlook
# The second line of a Lotus banner wrapped at 80 columns: "11:28 AM ------------".
_BANNER_WRAP = re.compile(r"^\s*\S.*-{3,}\s*$")
# RFC 3676 signature delimiter. Exactly "-- ": a bare "--" line is common as a dash in prose.
_SIGNATURE = re.compile(r"^-- $")
_QUOTED_SIGNATURE = re.compile(r"(?m)^[ \t]*--[ \t]*$")
_DATE = re.compile(r"\b\d{1,2}/\d{1,2}/\d{2,4}\b")
_DATE_ONLY_LINE = re.compile(r"^\s*\d{1,2}/\d{1,2}/\d{2,4}\b")
_HEADER_TO = re.compile(r"^\s*to:", re.IGNORECASE)
_HEADER_FROM = re.compile(r"^\s*from:\s", re.IGNORECASE)
_HEADER_AFTER_FROM = re.compile(r"^\s*(sent|date|to):", re.IGNORECASE)
# A header field, or the `[mailto:...]` of a From: that Outlook wrapped after a blank line.
_HEADER_FIELD = re.compile(r"^\s*((from|sent|date|to|cc|bcc|subject)\s*:|\[mailto:)", re.IGNORECASE)
_HEADER_SUBJECT = re.compile(r"^\s*subject\s*:", re.IGNORECASE)
_SENT_BY = re.compile(r"^\s*sent by:", re.IGNORECASE)
# A Lotus header flattened onto one line (wrapped onto the next) by the client that quoted it.
_FLAT_HEADER = re.compile(r"\b\d{1,2}/\d{1,2}/\d{2,4}\b.*\bto:.*\bcc:.*\bsubject:", re.IGNORECASE)
_ATTRIBUTION = re.compile(r"^\s*on\b.*\bwrote:\s*$", re.IGNORECASE)
_QUOTE_PREFIX = re.compile(r"^\s*> ?")
_HEADER_LOOKAHEAD = 4


@dataclass(frozen=True, slots=True)
class IncludedMessage:
    """A message included below the sender's own text, its banner and header block removed.

    `kind` is what its opening says: "forward" for a forward banner, "reply" for Outlook's
    "Original Message" banner or a bare reply header. Outlook forwards also open with
    "Original Message", so the caller decides with the Subject (FW:) which replies are forwards.
    """

    kind: Literal["forward", "reply"]
    raw: str = field(repr=False)  # as written, so its signature delimiter "-- " is still there
    body: str = field(repr=False)  # whitespace-normalized, still holding its signature and ">" lines

    @property
    def own_text(self) -> str:
        """Its author's own words, as `trim_email_body` gives them for the message itself."""
        return quoted_own_words(self.raw)


@dataclass(frozen=True, slots=True)
class EmailBody:
    """An email body in its parts: the sender's text, then the messages it includes, in order."""

    own_text: str  # the sender's own words: no ">" quotes, attribution lines or signature
    own_text_with_quotes: str  # the same with the inline ">" quotes and their attribution left in
    inline_quote: str  # those ">" lines with one level of ">" removed: the message they quote
    included: tuple[IncludedMessage, ...]

    @property
    def inline_quote_words(self) -> str:
        """The own words of the message the ">" lines quote; when they quote a whole message
        (an "Original Message" banner and headers first), the words under its header."""
        quoted = split_email_body(_QUOTED_SIGNATURE.sub("-- ", self.inline_quote))
        return quoted.own_text or next((m.own_text for m in quoted.included if m.own_text), "")


# (first line, first line of the body, kind) of a message included in an email body.
_Span = tuple[int, int, Literal["forward", "reply"]]


def _reply_header_start(lines: list[str], i: int) -> int | None:
    """Start of an embedded reply header at line i, or None.

    Lotus Notes writes `"Name" <a@b> on 08/02/2000 09:01 AM` (or the name and the date on two
    lines) followed by a To:/cc:/Subject: block; Outlook writes From:/Sent:/To:.
    """
    ahead = lines[i + 1 : i + 1 + _HEADER_LOOKAHEAD]
    if _DATE.search(lines[i]) and any(_HEADER_TO.match(line) for line in ahead):
        start = i
        if _DATE_ONLY_LINE.match(lines[i]):
            # The sender's name sits on the line above the date, sometimes above a "Sent by:" line.
            if start > 0 and _SENT_BY.match(lines[start - 1]):
                start -= 1
            if start > 0 and lines[start - 1].strip():
                start -= 1
        return start
    if _HEADER_FROM.match(lines[i]) and any(_HEADER_AFTER_FROM.match(line) for line in ahead):
        return i
    return None


def _header_end(lines: list[str], i: int) -> int:
    """First line after the header block starting at line i (From/To/cc/Subject and the Lotus
    name and date lines). Lotus puts blank lines between fields, so a blank line ends the block
    only when no header field follows it, or once the Subject has been read."""
    seen_subject = False
    while i < len(lines):
        if lines[i].strip():
            seen_subject = seen_subject or _HEADER_SUBJECT.match(lines[i]) is not None
            i += 1
            continue
        following = next((j for j in range(i + 1, len(lines)) if lines[j].strip()), None)
        if seen_subject or following is None or not _HEADER_FIELD.match(lines[following]):
            return i
        i = following
    return i


def _banner_end(lines: list[str], i: int) -> int:
    """First line after the banner at line i and the header block under it, if any."""
    i += 1
    if i < len(lines) and not lines[i - 1].rstrip().endswith("-") and _BANNER_WRAP.match(lines[i]):
        i += 1
    first = next((j for j in range(i, len(lines)) if lines[j].strip()), len(lines))
    for j in range(first, min(first + 3, len(lines))):
        if _HEADER_FIELD.match(lines[j]) or _reply_header_start(lines, j) is not None:
            return _header_end(lines, first)
    return first


def _included_at(lines: list[str], i: int) -> _Span | None:
    """(start, body start, kind) of a message included at line i, or None."""
    if _FORWARD_BANNER.match(lines[i]):
        return i, _banner_end(lines, i), "forward"
    if _REPLY_BANNER.match(lines[i]):
        return i, _banner_end(lines, i), "reply"
    if not (_DATE.search(lines[i]) or _HEADER_FROM.match(lines[i])):  # most lines: no header can start here
        return None
    start = _reply_header_start(lines, i)
    if start is None and _DATE.search(lines[i]) and _FLAT_HEADER.search(" ".join(lines[i : i + 2])):
        start = i
    if start is not None:
        return start, _header_end(lines, i), "reply"
    return None


def _included_spans(lines: list[str], first_only: bool = False) -> list[_Span]:
    """(start, body start, kind) of each included message, in order."""
    spans: list[_Span] = []
    i = 0
    while i < len(lines) and not (first_only and spans):
        found = _included_at(lines, i)
        if found is None:
            i += 1
            continue
        spans.append(found)
        i = max(found[1], i + 1)
    return spans


def _own_lines(lines: list[str], spans: list[_Span]) -> list[str]:
    """The lines above the first included message and above the signature."""
    own = lines[: spans[0][0]] if spans else lines
    end = next((i for i, line in enumerate(own) if _SIGNATURE.match(line)), len(own))
    return own[:end]


def _own_words(lines: list[str]) -> str:
    """The lines without ">" quotes and their attribution lines, whitespace-normalized."""
    return normalize_whitespace("\n".join(line for line in lines if not _is_quote_line(line)))


def _is_quote_line(line: str) -> bool:
    return line.lstrip().startswith(">") or _ATTRIBUTION.match(line) is not None


def _lines(s: str) -> list[str]:
    return s.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def split_email_body(s: str) -> EmailBody:
    """The sender's own text and the forwarded or quoted messages below it.

    Each banner or reply header starts an included message that runs to the next one, so a
    forward of a forward gives two included messages.
    """
    lines = _lines(s)
    spans = _included_spans(lines)
    ends = [start for start, _, _ in spans[1:]] + [len(lines)] if spans else []
    raws = ["\n".join(lines[body_start:end]) for (_, body_start, _), end in zip(spans, ends, strict=True)]
    included = tuple(
        IncludedMessage(kind=kind, raw=raw, body=normalize_whitespace(raw))
        for (_, _, kind), raw in zip(spans, raws, strict=True)
    )
    own = _own_lines(lines, spans)
    own_text = _own_words(own)
    quoted = [_QUOTE_PREFIX.sub("", line) for line in own if line.lstrip().startswith(">")]
    if not quoted:
        return EmailBody(own_text=own_text, own_text_with_quotes=own_text, inline_quote="", included=included)
    return EmailBody(
        own_text=own_text,
        own_text_with_quotes=normalize_whitespace("\n".join(own)),
        inline_quote="\n".join(quoted),
        included=included,
    )


def trim_email_body(s: str) -> str:
    """The sender's own words: drop quoted lines, forwarded/replied blocks and the signature."""
    lines = _lines(s)
    return _own_words(_own_lines(lines, _included_spans(lines, first_only=True)))


def quoted_own_words(s: str) -> str:
    """`trim_email_body` of a quoted copy of a message. Quoting strips the trailing space of the
    signature delimiter, so a bare "--" line counts as one here; cutting at a dash in prose only
    keeps the copy from matching its original, which keeps the quote."""
    return trim_email_body(_QUOTED_SIGNATURE.sub("-- ", s))


_WORD = re.compile(r"\w+")
# What mail clients add to the text they quote: links behind addresses and URLs
# (`<mailto:a@b>`, `[mailto:a@b]`, `<http://...>`) and attachment names (`<<File: a.doc>>`).
_CLIENT_ADDITIONS = re.compile(r"<<[^<>]*>>|<(?:mailto|https?|ftp):[^<>\s]*>|\[mailto:[^\]\s]*\]", re.IGNORECASE)


def content_fingerprint(text: str) -> int | None:
    """64-bit fingerprint of a text's words, case- and punctuation-insensitive and without what
    mail clients add when quoting, so a message and its quoted copy (re-wrapped, re-indented)
    match; None for a text without words."""
    words = _WORD.findall(_CLIENT_ADDITIONS.sub(" ", text).casefold())
    if not words:
        return None
    digest = hashlib.blake2b(" ".join(words).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big")


WINDOW_HEAD_SHARE = 0.75  # of a windowed text, the head (subject, request) weighs more than the tail
WINDOW_MARK = "\n\n[...]\n\n"
_SNAP_CHARS = 200  # a cut moves at most this far back (head) or on (tail) to fall on whitespace


def window_text(text: str, max_chars: int) -> tuple[str, dict[str, int] | None]:
    """At most `max_chars` characters: the text itself, or its head and tail around WINDOW_MARK,
    cut on whitespace, with what was kept ({"kept_head", "kept_tail", "original_chars"})."""
    if len(text) <= max_chars:
        return text, None
    budget = max_chars - len(WINDOW_MARK)
    if budget < 2:  # no room for a mark between two parts
        return text[:max_chars], {"kept_head": max_chars, "kept_tail": 0, "original_chars": len(text)}
    head_end = int(budget * WINDOW_HEAD_SHARE)
    head = text[: _snap_back(text, head_end)].rstrip()
    tail = text[_snap_on(text, len(text) - (budget - head_end)) :].lstrip()
    return f"{head}{WINDOW_MARK}{tail}", {"kept_head": len(head), "kept_tail": len(tail), "original_chars": len(text)}


def _snap_back(text: str, i: int) -> int:
    """i moved back onto the nearest space or newline, if one is within _SNAP_CHARS."""
    j = max(text.rfind(c, max(i - _SNAP_CHARS, 0), i + 1) for c in " \n")
    return j if j > 0 else i


def _snap_on(text: str, i: int) -> int:
    """i moved on onto the nearest space or newline, if one is within _SNAP_CHARS."""
    return min((j for c in " \n" if (j := text.find(c, i, i + _SNAP_CHARS)) >= 0), default=i)
