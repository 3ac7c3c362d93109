"""Emails from mbox files, maildir folders and single .eml files, one message at a time.

An email must carry a plausible Date (it places the message in the backlog) and some text. Its
text is the sender's own words, except that:
- a forward is the forwarded messages, marked `forwarded`, the note above them kept apart;
- a quoted reply keeps its quote unless the quoted message is itself in the same source
  (matched by content fingerprint): a first pass over the source collects the fingerprint of
  every message's own words (8 bytes a message), so a reply read before its original is
  trimmed too. Quotes of a message in another source, or edited when quoted, stay;
- a long text is cut to a head-and-tail window of `max_chars`, the cut recorded in `window`.

Hostile input is bounded before the stdlib parser sees it: a header field over
MAX_HEADER_FIELD_BYTES is cut (its parse is quadratic), a Subject over MAX_TITLE_CHARS is cut
for the title, and a message that stops inside its headers is quarantined, not read as a body.
"""

import bisect
import datetime
import email.policy
import email.utils
import itertools
import os
import quopri
import re
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from email.errors import MissingHeaderBodySeparatorDefect
from email.message import EmailMessage, MIMEPart
from email.parser import BytesParser
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from leadflow.ingest.charsets import Decoded, decode_bytes
from leadflow.ingest.records import (
    DEFAULT_MAX_CHARS,
    Reason,
    Rejection,
    Signal,
    make_content_hash,
    make_excerpt,
    make_signal_id,
)
from leadflow.ingest.text import (
    EmailBody,
    clean_text,
    content_fingerprint,
    html_to_text,
    normalize_whitespace,
    printable_name,
    split_email_body,
    trim_email_body,
    window_text,
)

KIND = "email"
MAX_REPLACEMENT_RATIO = 0.05
MAX_TO_ADDRESSES = 5
# Earlier dates are placeholders or wrong clocks (Enron's 1979-12-31 16:00 -0800), not mail.
EARLIEST_PLAUSIBLE_DATE = datetime.date(1990, 1, 1)
# Above every mail server's size limit (Exchange Online: 150 MB): not one message but several
# run together by a lost `From ` separator, or not mail. Only such a message is "oversize": it is
# not held in memory, and a window of its text would not be the text of one email.
MAX_MESSAGE_BYTES = 200 * 2**20
# A header field longer than this is cut before parsing: the stdlib parses an unstructured
# field in quadratic time (a 1 MB Subject: 10 s), 32 KiB in 0.03 s. Real fields (Enron: 4 KiB
# at most) stay whole; a To: of ~1,400 addresses still fits.
MAX_HEADER_FIELD_BYTES = 32 * 2**10
# A Subject past this is cut for the title (`title_cut` records the original length).
MAX_TITLE_CHARS = 1_000
# mbox lines are read in pieces of at most this, so a file without line ends stays bounded.
_LINE_PIECE_BYTES = 1 << 16

_PARSER = BytesParser(policy=email.policy.default)
_MBOXRD_ESCAPE = re.compile(rb"^>(>*From )")
_DAY = rb"(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*,?"
_MONTH = rb"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*"
_CLOCK = rb"\d{1,2}:\d{2}(?::\d{2})?"
# `From <address> <date>`: the date as asctime (`Mon Jan  1 00:00:00 2001`, a zone allowed
# before the year) or as RFC 5322 (`Mon, 1 Jan 2001 00:00:00`), as mbox writers put it.
_SEPARATOR = re.compile(
    rb"From \S+\s+(?:"
    rb"%(day)s\s+%(month)s\s+\d{1,2}\s+%(clock)s(?:\s+[+-]?\w{1,5})?\s+\d{2,4}"
    rb"|(?:%(day)s\s+)?\d{1,2}\s+%(month)s\s+\d{2,4}\s+%(clock)s"
    rb")(?:\s|$)" % {b"day": _DAY, b"month": _MONTH, b"clock": _CLOCK},
    re.IGNORECASE,
)
_CONTENT_LENGTH = re.compile(rb"content-length:\s*(\d{1,12})\s*$", re.IGNORECASE)
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_FIELD_START = re.compile(rb"(?<=\n)(?=[^ \t\r\n])")
_ADDRESS_FIELDS = frozenset({b"from", b"to", b"cc", b"bcc", b"reply-to", b"sender"})
_QP_SOFT_BREAK = re.compile(rb"=\r?\n")
_QP_ESCAPE = re.compile(rb"=[0-9A-F]{2}")
_QP_BARE_EQUALS = re.compile(rb"=(?![0-9A-F]{2}|\r?\n|$)")
_ZONE_WITH_COLON = re.compile(r"([+-])(\d{2}):(\d{2})(?=\s*(?:\(.*\))?$)")  # +05:30 -> +0530
_WRITTEN_YEAR = re.compile(r"\b\d{1,2}\s+[a-z]{3,9}\.?\s+(\d+)\b", re.IGNORECASE)  # 01 Jan <0001>
_MESSAGE_ID = re.compile(r"<([^<>]*)>")
_RAW_BYTE = re.compile("[\udc80-\udcff]")  # a non-ASCII header byte, as the parser keeps it
_FORWARD_SUBJECT = re.compile(r"^\s*(fw|fwd)\s*:", re.IGNORECASE)
_REPLY_SUBJECT = re.compile(r"^\s*re\s*:", re.IGNORECASE)


def iter_mbox_messages(path: Path, max_bytes: int = MAX_MESSAGE_BYTES) -> Iterator[bytes]:
    """Raw messages of an mbox (`mbox_messages` without their offsets)."""
    return (raw for _, raw in mbox_messages(path, max_bytes))


def mbox_messages(path: Path, max_bytes: int = MAX_MESSAGE_BYTES, start: int = 0) -> Iterator[tuple[int, bytes]]:
    """Raw messages of an mbox, read as bytes line by line, each with the offset it starts at
    (its separator line): reading again from such an offset (`start`) gives the same messages
    from there on, so the ingest index can seek to the messages of a day.

    `mailbox.mbox` indexes the whole file first; this keeps only the current message in
    memory, and of a message over `max_bytes` only its first `max_bytes + 1` bytes (whole
    lines), enough to reject it. A message starts at a separator line, `From <address>
    <date>`, blank line before it or not: a body line like "From what I hear..." is text. A
    file whose first separator is not of that shape (`From x`) is read the old way: any `From `
    line after a blank line. A `Content-Length` header is honoured when the body it delimits
    ends at the end of the file or just before a separator (so an unescaped `From ` line inside
    stays in its body); body lines escaped as `>From ` (mboxrd) get their `>` back. Stretches
    holding nothing but blank lines are not messages.
    """
    with path.open("rb") as f:
        strict = _first_line_is_separator(f)
        file_size = os.fstat(f.fileno()).st_size
        f.seek(start)
        lines: list[bytes] = []
        size = 0
        previous_blank = True
        line_start = True  # the piece read next starts a line (a long line comes in pieces)
        in_headers = True
        content_length: int | None = None
        opened_at = here = start
        while piece := f.readline(_LINE_PIECE_BYTES):
            piece_at, here = here, here + len(piece)
            starts_line, line_start = line_start, piece.endswith(b"\n")
            if starts_line and _is_separator(piece, strict, previous_blank):
                if any(part.strip() for part in lines):
                    yield opened_at, b"".join(lines)
                lines, size, in_headers, content_length = [], 0, True, None
                opened_at = piece_at
                previous_blank = False
                continue
            if starts_line:
                piece = _MBOXRD_ESCAPE.sub(rb"\1", piece)
            if size <= max_bytes:
                lines.append(piece)
                size += len(piece)
            blank = starts_line and line_start and not piece.strip()
            previous_blank = blank
            if not (in_headers and starts_line):
                continue
            if not blank:
                if length := _CONTENT_LENGTH.match(piece):
                    content_length = int(length[1])
                continue
            in_headers = False
            if content_length is not None and _body_ends_at_separator(f, content_length, file_size, strict):
                body_start = f.tell()
                body = f.read(min(content_length, max(max_bytes + 1 - size, 0)))
                here = f.seek(body_start + content_length)
                lines.append(body)
                size += len(body)
                previous_blank = line_start = True
    if any(part.strip() for part in lines):
        yield opened_at, b"".join(lines)


def _first_line_is_separator(f: BinaryIO) -> bool:
    """True unless the file opens (after blank lines) with a `From ` line of another shape:
    that one sets the style of the file."""
    first = f.readline(_LINE_PIECE_BYTES)
    while first and not first.strip():
        first = f.readline(_LINE_PIECE_BYTES)
    f.seek(0)
    return _SEPARATOR.match(first) is not None or not first.startswith(b"From ")


def _is_separator(line: bytes, strict: bool, previous_blank: bool) -> bool:
    if not line.startswith(b"From "):
        return False
    return _SEPARATOR.match(line) is not None if strict else previous_blank


def _body_ends_at_separator(f: BinaryIO, length: int, file_size: int, strict: bool) -> bool:
    """True when `length` bytes from here end the file or come just before (blank lines and)
    a separator: only then does a Content-Length header tell the truth."""
    here = f.tell()
    end = here + length
    if end >= file_size:
        return end == file_size
    f.seek(end)
    following = f.read(_LINE_PIECE_BYTES).lstrip(b"\r\n")
    f.seek(here)
    if not following:  # nothing but line ends after it: right if they run to the end of the file
        return end + _LINE_PIECE_BYTES >= file_size
    return _is_separator(following, strict, previous_blank=True)


class Archive(Protocol):
    """What a message's quotes are trimmed against: the messages of its source."""

    def holds(self, text: str) -> bool: ...


class ArchiveIndex:
    """Content fingerprints of the own words of the messages of one source, sorted (8 bytes a
    message), to tell whether a quoted message is itself in the source."""

    def __init__(self, fingerprints: Iterable[int | None]) -> None:
        self._sorted = array("Q", sorted({fp for fp in fingerprints if fp is not None}))

    def holds(self, text: str) -> bool:
        """True when a message of the source has exactly these words as its own."""
        fp = content_fingerprint(text)
        if fp is None:
            return False
        i = bisect.bisect_left(self._sorted, fp)
        return i < len(self._sorted) and self._sorted[i] == fp


@dataclass(frozen=True, slots=True)
class _Source:
    """What every message of one source is read against."""

    name: str
    max_chars: int
    max_bytes: int
    latest: datetime.date  # the import date: mail dated after it is implausible


def parse_mbox(
    path: Path,
    *,
    source: str,
    import_date: datetime.date | None = None,
    max_chars: int = DEFAULT_MAX_CHARS,
    max_bytes: int = MAX_MESSAGE_BYTES,
    label: str | None = None,
) -> Iterator[Signal | Rejection]:
    """Signals from an mbox file; positions are `<label>#<message index>`. Reads the file twice:
    once for the archive's fingerprints, then message by message."""
    label = label or printable_name(str(path))
    src = _source(source, import_date, max_chars, max_bytes)
    archive = _archive_index(src, iter_mbox_messages(path, max_bytes))
    for n, raw in enumerate(iter_mbox_messages(path, max_bytes)):
        yield _parse_message(raw, src, f"{label}#{n}", archive)


def parse_maildir(
    path: Path,
    *,
    source: str,
    import_date: datetime.date | None = None,
    max_chars: int = DEFAULT_MAX_CHARS,
    max_bytes: int = MAX_MESSAGE_BYTES,
    label: str | None = None,
) -> Iterator[Signal | Rejection]:
    """Signals from a maildir's cur/ and new/ (tmp/ holds deliveries still in progress). A file
    that cannot be read (permissions, gone since the listing) is quarantined as `unreadable`."""
    label = label or printable_name(str(path))
    src = _source(source, import_date, max_chars, max_bytes)
    files = maildir_files(path)
    archive = _archive_index(src, (raw for file in files if isinstance(raw := _read_head(file, max_bytes), bytes)))
    for file in files:
        yield _parse_file(file, src, maildir_position(label, path, file), archive)


def maildir_files(path: Path) -> list[Path]:
    """The message files of a maildir, in the order they are read."""
    folders = [path / sub for sub in ("cur", "new") if (path / sub).is_dir()]
    return sorted(f for folder in folders for f in folder.iterdir() if f.is_file() and f.name[:1] != ".")


def maildir_position(label: str, path: Path, file: Path) -> str:
    return f"{label}/{printable_name(file.relative_to(path).as_posix())}"


def parse_eml(
    path: Path,
    *,
    source: str,
    import_date: datetime.date | None = None,
    max_chars: int = DEFAULT_MAX_CHARS,
    max_bytes: int = MAX_MESSAGE_BYTES,
    label: str | None = None,
) -> Iterator[Signal | Rejection]:
    """The Signal (or Rejection) of a single .eml file: the archive is that one message, so its
    quotes stay. A path that cannot be read (a folder named `x.eml`) is `unreadable`."""
    src = _source(source, import_date, max_chars, max_bytes)
    yield _parse_file(path, src, label or printable_name(str(path)), ArchiveIndex([]))


def _source(name: str, import_date: datetime.date | None, max_chars: int, max_bytes: int) -> _Source:
    """Without an import date, today (UTC) bounds the dates: mail cannot come from the future."""
    latest = import_date or datetime.datetime.now(datetime.UTC).date()
    return _Source(name=name, max_chars=max_chars, max_bytes=max_bytes, latest=latest)


def _read_head(path: Path, max_bytes: int) -> bytes | OSError:
    """The file, or its first `max_bytes + 1` bytes when it is longer (enough to reject it), or
    why it cannot be read."""
    try:
        with path.open("rb") as f:
            return f.read(max_bytes + 1)
    except OSError as exc:
        return exc


def _parse_file(path: Path, src: _Source, position: str, archive: Archive) -> Signal | Rejection:
    return _parse_raw(_read_head(path, src.max_bytes), src, position, archive)


def _parse_raw(raw: bytes | OSError, src: _Source, position: str, archive: Archive) -> Signal | Rejection:
    if isinstance(raw, OSError):
        detail = f"{type(raw).__name__} ({raw.strerror or 'no detail'}) reading the file"
        return _rejection(b"", src, position, f"{Reason.UNREADABLE}: {detail}")
    return _parse_message(raw, src, position, archive)


def _archive_index(src: _Source, messages: Iterable[bytes]) -> ArchiveIndex:
    """Fingerprints of the own words of every message that is read as an email (a rejected
    message is not in the archive, so quoting it keeps the quote)."""
    reads = (_read_message(raw, src, "") for raw in messages)
    return ArchiveIndex(content_fingerprint(trim_email_body(r.body)) for r in reads if isinstance(r, _Read))


@dataclass(frozen=True, slots=True)
class MessageFacts:
    """What the ingest index keeps of a message: its own date (a signal's date, a reject's
    record_date; None when it cannot be read) and the fingerprint of its own words (None: not
    in the archive). Neither depends on the import date, so an index outlives a new one."""

    date: datetime.date | None
    fingerprint: int | None


def message_facts(raw: bytes | OSError, max_bytes: int = MAX_MESSAGE_BYTES) -> MessageFacts:
    """The facts of one raw message (or of a file that could not be read), read without an
    upper date bound: a message dated after the import date is then left out of the archive
    by its date (`parse_messages`), as `_archive_index` leaves it out as implausible."""
    if isinstance(raw, OSError):
        return MessageFacts(None, None)
    read = _read_message(
        raw, _Source(name="", max_chars=DEFAULT_MAX_CHARS, max_bytes=max_bytes, latest=datetime.date.max), ""
    )
    if isinstance(read, Rejection):
        return MessageFacts(read.record_date, None)
    return MessageFacts(read.signal_date, content_fingerprint(trim_email_body(read.body)))


def read_message_file(path: Path, max_bytes: int = MAX_MESSAGE_BYTES) -> bytes | OSError:
    """A maildir or .eml file's raw message (its head when too long), or why it cannot be read."""
    return _read_head(path, max_bytes)


def parse_messages(
    messages: Iterable[tuple[str, bytes | OSError]],
    archive: Archive,
    *,
    source: str,
    import_date: datetime.date,
    max_chars: int = DEFAULT_MAX_CHARS,
    max_bytes: int = MAX_MESSAGE_BYTES,
) -> Iterator[Signal | Rejection]:
    """Signals of some `(position, raw)` messages of a source, their quotes trimmed against the
    fingerprints of the whole source (`archive`, the index's): each message gives what
    `parse_mbox` / `parse_maildir` give it when they read the whole source."""
    src = _source(source, import_date, max_chars, max_bytes)
    for position, raw in messages:
        yield _parse_raw(raw, src, position, archive)


@dataclass(frozen=True, slots=True)
class _Read:
    """A message whose headers, date and body could be read."""

    msg: EmailMessage
    signal_date: datetime.date
    body: str  # the decoded text body
    notes: dict[str, Any]  # what was repaired on the way: cut headers, the charset used


def _rejection(raw: bytes, src: _Source, position: str, reason: str, date: datetime.date | None = None) -> Rejection:
    return Rejection(
        source=src.name, kind=KIND, position=position, reason=reason, excerpt=make_excerpt(raw), record_date=date
    )


def _read_message(raw: bytes, src: _Source, position: str) -> _Read | Rejection:
    """Headers, a plausible date and the decoded body, or why not."""
    oversize = len(raw) > src.max_bytes
    head_end = _header_end(raw)
    if head_end is None and not oversize:
        reason = f"{Reason.TRUNCATED_HEADERS}: the message ends inside its headers (no blank line after them)"
        return _rejection(raw, src, position, reason)
    capped, cut = _cap_header_fields(raw, head_end or len(raw))
    try:
        msg = _PARSER.parsebytes(capped, headersonly=oversize)
        if any(isinstance(defect, MissingHeaderBodySeparatorDefect) for defect in msg.defects):
            reason = f"{Reason.TRUNCATED_HEADERS}: a line that is not a header field breaks the headers"
            return _rejection(raw, src, position, reason)
        dated = _date_of(msg)
        if isinstance(dated, str):
            return _rejection(raw, src, position, dated)
        if oversize:
            return _rejection(raw, src, position, f"{Reason.OVERSIZE}: message over {src.max_bytes} bytes", dated)
        decoded = _body_text(msg)
    except Exception as exc:  # the stdlib header parser raises assorted types on hostile input
        # Only the type: the exception text may quote headers, and reasons get logged.
        return _rejection(raw, src, position, f"{Reason.MALFORMED}: {type(exc).__name__} while reading the headers")
    if not EARLIEST_PLAUSIBLE_DATE <= dated <= src.latest:
        reason = f"{Reason.IMPLAUSIBLE_DATE}: {dated} is outside {EARLIEST_PLAUSIBLE_DATE}..{src.latest} (import date)"
        return _rejection(raw, src, position, reason, dated)
    body = decoded.text
    if body and body.count("\ufffd") / len(body) > MAX_REPLACEMENT_RATIO:
        reason = f"{Reason.UNDECODABLE}: over 5% of the body is not valid in its declared charset or any fallback"
        return _rejection(raw, src, position, reason, dated)
    notes: dict[str, Any] = {"headers_cut": cut} if cut else {}
    if decoded.repair:
        notes["charset_repair"] = decoded.repair
    return _Read(msg=msg, signal_date=dated, body=body, notes=notes)


def _header_end(raw: bytes) -> int | None:
    """Where the header block ends (its last line end included), None when no blank line ends it."""
    if raw.startswith((b"\n", b"\r\n")):
        return 0
    end = _HEADER_END.search(raw)
    return None if end is None else end.start() + (2 if raw[end.start()] == 13 else 1)


def _cap_header_fields(raw: bytes, head_end: int) -> tuple[bytes, list[str]]:
    """The message with each header field over MAX_HEADER_FIELD_BYTES cut (an address field at
    its last comma that fits, another at its last space), and the names of the cut fields."""
    if head_end <= MAX_HEADER_FIELD_BYTES:
        return raw, []
    fields = _FIELD_START.split(raw[:head_end])
    cut: list[str] = []
    for i, field in enumerate(fields):
        if len(field) <= MAX_HEADER_FIELD_BYTES:
            continue
        name = field.partition(b":")[0].strip()
        stop = b"," if name.lower() in _ADDRESS_FIELDS else b" "
        end = field.rfind(stop, 0, MAX_HEADER_FIELD_BYTES)
        fields[i] = field[: end if end > len(name) else MAX_HEADER_FIELD_BYTES].rstrip() + b"\n"
        cut.append(clean_text(name.decode("ascii", errors="replace")))
    return b"".join(fields) + raw[head_end:], cut


def _written_header(msg: EmailMessage, name: str) -> str | None:
    """The first `name` field as written, before the stdlib's structured parse (which cuts
    `<order:1001@x>` to `<order` and ignores a `+05:30` zone); a raw 8-bit byte in it is a
    lone surrogate."""
    wanted = name.lower()
    return next((str(v) for k, v in msg.raw_items() if k.lower() == wanted), None)


def _raw_header(msg: EmailMessage, name: str) -> str | None:
    """`_written_header`, unfolded and storable."""
    value = _written_header(msg, name)
    return None if value is None else clean_text(" ".join(value.split()))


# Headers bulk mailers and list servers set (RFC 2369 / 2919 / 3834 and Precedence): what says
# "sent to many" better than any word of the text. Kept as signal attributes for the spam rule.
BULK_HEADERS = ("List-Unsubscribe", "List-Id", "List-Post")
BULK_PRECEDENCE = frozenset({"bulk", "list", "junk"})


def _bulk_markers(msg: EmailMessage) -> list[str]:
    """The bulk-mail headers a message carries, by name (lower case)."""
    found = [name.lower() for name in BULK_HEADERS if _raw_header(msg, name)]
    precedence = (_raw_header(msg, "Precedence") or "").strip().lower()
    if precedence in BULK_PRECEDENCE:
        found.append(f"precedence: {precedence}")
    auto = (_raw_header(msg, "Auto-Submitted") or "no").strip().lower()
    if auto != "no":
        found.append("auto-submitted")
    return found


def _date_of(msg: EmailMessage) -> datetime.date | str:
    """The UTC date of the Date header, or the rejection reason when there is none.

    `+05:30` is read as `+0530`, and a year written with four digits stays that year: the
    stdlib takes `01 Jan 0001` for 2001 (a two-digit year rule applied to the value).
    """
    value = _raw_header(msg, "Date")
    if not value:
        return f"{Reason.MISSING_DATE}: no Date header"
    value = _ZONE_WITH_COLON.sub(r"\1\2\3", value)
    parsed = email.utils.parsedate_tz(value)
    if parsed is None:
        return f"{Reason.BAD_DATE}: unparseable Date header {value[:60]!r}"
    written = _WRITTEN_YEAR.search(value)
    year = int(written[1]) if written and len(written[1]) >= 3 else parsed[0]
    try:
        zone = datetime.timezone(datetime.timedelta(seconds=parsed[9] or 0))
        sent = datetime.datetime(year, *parsed[1:6], tzinfo=zone)
        return sent.astimezone(datetime.UTC).date()
    except (ValueError, OverflowError):
        return f"{Reason.BAD_DATE}: Date header {value[:60]!r} is not a date in UTC"


def _subject(msg: EmailMessage) -> str:
    """The Subject as text. Raw 8-bit bytes in it (no RFC 2047 encoding, so no charset named)
    go through the charset fallback chain: the stdlib would make each one U+FFFD."""
    written = _written_header(msg, "Subject")
    if written is None:
        return ""
    if _RAW_BYTE.search(written) is None:
        return normalize_whitespace(str(msg["Subject"]))
    return normalize_whitespace(decode_bytes(written.encode("utf-8", errors="surrogateescape")).text)


def _message_id(msg: EmailMessage) -> str:
    """The Message-ID as written, `<...>` included; "" when missing or empty (`<>`)."""
    value = _raw_header(msg, "Message-ID")
    if not value:
        return ""
    value = "".join(value.split())
    found = _MESSAGE_ID.search(value)
    if found is None:
        return value
    return f"<{found[1]}>" if found[1] else ""


def _parse_message(raw: bytes, src: _Source, position: str, archive: Archive) -> Signal | Rejection:
    """One raw RFC 5322 message to a Signal, or to a Rejection saying why not."""
    read = _read_message(raw, src, position)
    if isinstance(read, Rejection):
        return read
    msg = read.msg
    try:
        sender = _addresses(msg, "From")[:1]
        to = _addresses(msg, "To")
        cc_count = len(_addresses(msg, "Cc"))
        subject = _subject(msg)
        message_id = _message_id(msg)
        has_attachments = any(True for _ in msg.iter_attachments())
        bulk = _bulk_markers(msg)
    except Exception as exc:  # as in _read_message
        reason = f"{Reason.MALFORMED}: {type(exc).__name__} while reading the headers"
        return _rejection(raw, src, position, reason, read.signal_date)

    text, structure = _compose(split_email_body(read.body), subject, archive)
    if not text:
        reason = f"{Reason.EMPTY_BODY}: no text once the signature and quotes of messages in the archive are removed"
        return _rejection(raw, src, position, reason, read.signal_date)
    text, window = window_text(text, src.max_chars)
    if "forward_note" in structure:
        structure["forward_note"], note_window = window_text(structure["forward_note"], src.max_chars)
        if note_window:
            structure["forward_note_window"] = note_window
    if window:
        structure["window"] = window
    if len(subject) > MAX_TITLE_CHARS:
        structure["title_cut"] = {"kept": MAX_TITLE_CHARS, "original_chars": len(subject)}
        subject = subject[:MAX_TITLE_CHARS]

    from_address = sender[0] if sender else ""
    content_hash = make_content_hash(subject, text)
    # Without a Message-ID the id comes from what the message says, so the same mail read
    # from another position (a re-exported archive) keeps its id.
    id_key = message_id or "content:" + make_content_hash(f"{from_address}\n{_raw_header(msg, 'Date')}", content_hash)
    return Signal(
        signal_id=make_signal_id(src.name, id_key, position),
        source=src.name,
        kind=KIND,
        position=position,
        external_id=message_id,
        signal_date=read.signal_date,
        title=subject,
        company=from_address.rpartition("@")[2],
        text=text,
        content_hash=content_hash,
        attributes={
            "from": from_address,
            "to": to[:MAX_TO_ADDRESSES],
            "cc_count": cc_count,
            "has_attachments": has_attachments,
            **({"bulk_headers": bulk} if bulk else {}),
            **structure,
            **read.notes,
        },
    )


def _compose(body: EmailBody, subject: str, archive: Archive) -> tuple[str, dict[str, Any]]:
    """The text of an email and the attributes saying what it holds.

    A forward (an FW: subject, or a forward banner first under a subject that is not Re:) is
    its forwarded messages. A reply (Lotus keeps the forward banners of the thread under it)
    keeps its quoted messages down to the first one found in the archive: that one, and the
    thread below it, are read there. `quote` says "kept", "partly_trimmed" or "trimmed".
    """
    included = [m for m in body.included if m.body]  # a forward of attachments only holds no text
    forward_banner = bool(included) and included[0].kind == "forward" and not _REPLY_SUBJECT.match(subject)
    if included and (forward_banner or _FORWARD_SUBJECT.match(subject)):
        return _join(m.body for m in included), {"forwarded": True, "forward_note": body.own_text}
    kept = list(itertools.takewhile(lambda m: not archive.holds(m.own_text), included))
    inline_kept = bool(body.inline_quote) and not archive.holds(body.inline_quote_words)
    text = _join([body.own_text_with_quotes if inline_kept else body.own_text, *(m.body for m in kept)])
    if not included and not body.inline_quote:
        return text, {}
    trimmed = len(kept) < len(included) or (bool(body.inline_quote) and not inline_kept)
    if not trimmed:
        return text, {"quote": "kept"}
    return text, {"quote": "partly_trimmed" if kept or inline_kept else "trimmed"}


def _join(parts: Iterable[str]) -> str:
    return "\n\n".join(part for part in parts if part)


def _addresses(msg: EmailMessage, header: str) -> list[str]:
    """Lowercased addr-specs of an address header, [] when absent."""
    value = msg[header]
    if value is None:
        return []
    specs = (a.addr_spec for a in value.addresses)
    return [clean_text(spec.lower()) for spec in specs if spec and spec != "<>"]


def _body_text(msg: EmailMessage) -> Decoded:
    """The text/plain body if there is one, else the text of the HTML body, else ""."""
    part = msg.get_body(preferencelist=("plain", "html"))
    if part is None:
        return Decoded("", "ascii")
    decoded = _decode(part)
    if part.get_content_subtype() != "html":
        return decoded
    return replace(decoded, text=html_to_text(decoded.text))


def _decode(part: MIMEPart) -> Decoded:
    """Decode a text part through the charset fallback chain (`leadflow.ingest.charsets`).

    `get_content()` would raise LookupError on an unknown charset and trusts a wrong one.
    """
    decoded = part.get_payload(decode=True)  # bytes for a non-multipart part
    payload = decoded if isinstance(decoded, bytes) else b""
    charset = part.get_content_charset()
    plain = decode_bytes(payload, charset)
    declared = str(part.get("Content-Transfer-Encoding", "7bit")).strip().lower()
    if declared in ("7bit", "8bit") and _looks_quoted_printable(payload):
        unquoted = decode_bytes(quopri.decodestring(payload), charset)
        # Text that reads in its charset as it is but not once unquoted (`key=AB12` would be
        # a lone 0xAB byte) was never quoted-printable.
        if unquoted.repair is None or plain.repair is not None:
            return unquoted
    return plain


def _looks_quoted_printable(payload: bytes) -> bool:
    """True for a body that is still quoted-printable though declared 7bit.

    Enron messages carry this damage (`=20` line ends, words split by `=` + newline); several
    soft line breaks plus an `=XX` escape, and no `=` that is neither, do not happen in
    ordinary text.
    """
    return (
        len(_QP_SOFT_BREAK.findall(payload)) >= 2
        and _QP_ESCAPE.search(payload) is not None
        and _QP_BARE_EQUALS.search(payload) is None
    )
