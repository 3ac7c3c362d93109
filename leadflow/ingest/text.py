"""Text cleanup shared by the parsers: HTML to text, whitespace, and trimming email bodies."""

import re
from html.parser import HTMLParser

_BLOCK_TAGS = frozenset(
    ["address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table", "tbody", "td", "th", "thead", "tr", "ul"]
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

    def parse_marked_section(self, i: int, report: int = 1) -> int:
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


def replace_surrogates(s: str) -> str:
    """U+FFFD for lone surrogates (JSON `\\ud800` escapes, raw 8-bit bytes kept by the email
    parser): they cannot be encoded as UTF-8, so storing them would fail downstream."""
    return _SURROGATE.sub("\ufffd", s)


def normalize_whitespace(s: str) -> str:
    """Collapse spaces within lines and keep at most one blank line, so paragraphs survive."""
    s = _INVISIBLE.sub("", replace_surrogates(s).replace("\r\n", "\n").replace("\r", "\n"))
    lines = (_HSPACE.sub(" ", line).strip() for line in s.split("\n"))
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip()


# Lines where the quoted, forwarded or signature part of an email begins; everything from
# there on is someone else's text (or boilerplate) and would pollute the sender's own words.
_CUT_MARKERS = re.compile(
    r"""^\s*(
        -{2,}\s*original\s+message\s*-{2,}      # Outlook: -----Original Message-----
      | -{2,}\s*forwarded\s+by\b                # Lotus Notes: ----- Forwarded by X on ...
      | -{2,}\s*forwarded\s+message\s*-{2,}     # Gmail: ---------- Forwarded message ---------
      | begin\s+forwarded\s+message:            # Apple Mail
    )""",
    re.IGNORECASE | re.VERBOSE,
)
# RFC 3676 signature delimiter. Exactly "-- ": a bare "--" line is common as a dash in prose.
_SIGNATURE = re.compile(r"^-- $")
_DATE = re.compile(r"\b\d{1,2}/\d{1,2}/\d{2,4}\b")
_DATE_ONLY_LINE = re.compile(r"^\s*\d{1,2}/\d{1,2}/\d{2,4}\b")
_HEADER_TO = re.compile(r"^\s*to:", re.IGNORECASE)
_HEADER_FROM = re.compile(r"^\s*from:\s", re.IGNORECASE)
_HEADER_AFTER_FROM = re.compile(r"^\s*(sent|date|to):", re.IGNORECASE)
_SENT_BY = re.compile(r"^\s*sent by:", re.IGNORECASE)
_ATTRIBUTION = re.compile(r"^\s*on\b.*\bwrote:\s*$", re.IGNORECASE)
_HEADER_LOOKAHEAD = 4


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


def _own_text_end(lines: list[str]) -> int:
    """Index of the first line that is no longer the sender's own text."""
    for i, line in enumerate(lines):
        if _CUT_MARKERS.match(line) or _SIGNATURE.match(line):
            return i
        start = _reply_header_start(lines, i)
        if start is not None:
            return start
    return len(lines)


def trim_email_body(s: str) -> str:
    """The sender's own words: drop quoted lines, forwarded/replied blocks and the signature."""
    lines = s.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    own = lines[: _own_text_end(lines)]
    kept = [line for line in own if not (line.lstrip().startswith(">") or _ATTRIBUTION.match(line))]
    return normalize_whitespace("\n".join(kept))
