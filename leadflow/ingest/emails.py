"""Emails from mbox files, maildir folders and single .eml files, one message at a time.

An email must carry a plausible Date (it places the message in the backlog) and some text. Its
text is the sender's own words, except that:
- a forward is the forwarded messages, marked `forwarded`, the note above them kept apart;
- a quoted reply keeps its quote unless the quoted message is itself in the same source
  (matched by content fingerprint): a first pass over the source collects the fingerprint of
  every message's own words (8 bytes a message), so a reply read before its original is
  trimmed too. Quotes of a message in another source, or edited when quoted, stay;
- a long text is cut to a head-and-tail window of `max_chars`, the cut recorded in `window`.
"""

import bisect
import codecs
import datetime
import email.policy
import itertools
import quopri
import re
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage, MIMEPart
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from leadflow.ingest.records import (
    DEFAULT_MAX_CHARS,
    Rejection,
    Signal,
    make_content_hash,
    make_excerpt,
    make_signal_id,
)
from leadflow.ingest.text import (
    EmailBody,
    content_fingerprint,
    html_to_text,
    normalize_whitespace,
    replace_surrogates,
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

_PARSER = BytesParser(policy=email.policy.default)
_MBOXRD_ESCAPE = re.compile(rb"^>(>*From )")
_QP_SOFT_BREAK = re.compile(rb"=\r?\n")
_QP_ESCAPE = re.compile(rb"=[0-9A-F]{2}")
_FORWARD_SUBJECT = re.compile(r"^\s*(fw|fwd)\s*:", re.IGNORECASE)
_REPLY_SUBJECT = re.compile(r"^\s*re\s*:", re.IGNORECASE)


def iter_mbox_messages(path: Path, max_bytes: int = MAX_MESSAGE_BYTES) -> Iterator[bytes]:
    """Raw messages of an mbox, read as bytes line by line.

    `mailbox.mbox` indexes the whole file first; this keeps only the current message in
    memory, and of a message over `max_bytes` only its first `max_bytes + 1` bytes (whole
    lines), enough to reject it. A message starts at a `From ` line at the top of the file or
    after a blank line; body lines escaped as `>From ` (mboxrd) get their `>` back. Stretches
    holding nothing but blank lines are not messages.
    """
    lines: list[bytes] = []
    size = 0
    previous_blank = True
    with path.open("rb") as f:
        for line in f:
            if previous_blank and line.startswith(b"From "):
                if any(part.strip() for part in lines):
                    yield b"".join(lines)
                lines, size = [], 0
            elif size <= max_bytes:
                lines.append(_MBOXRD_ESCAPE.sub(rb"\1", line))
                size += len(lines[-1])
            previous_blank = not line.strip()
    if any(part.strip() for part in lines):
        yield b"".join(lines)


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
    label = label or str(path)
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
    """Signals from a maildir's cur/ and new/ (tmp/ holds deliveries still in progress)."""
    label = label or str(path)
    src = _source(source, import_date, max_chars, max_bytes)
    folders = [path / sub for sub in ("cur", "new") if (path / sub).is_dir()]
    files = sorted(f for folder in folders for f in folder.iterdir() if f.is_file() and f.name[:1] != ".")
    archive = _archive_index(src, (_read_head(file, max_bytes) for file in files))
    for file in files:
        position = f"{label}/{file.relative_to(path).as_posix()}"
        yield _parse_message(_read_head(file, max_bytes), src, position, archive)


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
    quotes stay."""
    src = _source(source, import_date, max_chars, max_bytes)
    yield _parse_message(_read_head(path, max_bytes), src, label or str(path), ArchiveIndex([]))


def _source(name: str, import_date: datetime.date | None, max_chars: int, max_bytes: int) -> _Source:
    """Without an import date, today (UTC) bounds the dates: mail cannot come from the future."""
    latest = import_date or datetime.datetime.now(datetime.UTC).date()
    return _Source(name=name, max_chars=max_chars, max_bytes=max_bytes, latest=latest)


def _read_head(path: Path, max_bytes: int) -> bytes:
    """The file, or its first `max_bytes + 1` bytes when it is longer (enough to reject it)."""
    with path.open("rb") as f:
        return f.read(max_bytes + 1)


def _archive_index(src: _Source, messages: Iterable[bytes]) -> ArchiveIndex:
    """Fingerprints of the own words of every message that is read as an email (a rejected
    message is not in the archive, so quoting it keeps the quote)."""
    reads = (_read_message(raw, src, "") for raw in messages)
    return ArchiveIndex(content_fingerprint(trim_email_body(r.body)) for r in reads if isinstance(r, _Read))


@dataclass(frozen=True, slots=True)
class _Read:
    """A message whose headers, date and body could be read."""

    msg: EmailMessage
    signal_date: datetime.date
    body: str  # the decoded text body


def _rejection(raw: bytes, src: _Source, position: str, reason: str, date: datetime.date | None = None) -> Rejection:
    return Rejection(
        source=src.name, kind=KIND, position=position, reason=reason, excerpt=make_excerpt(raw), record_date=date
    )


def _read_message(raw: bytes, src: _Source, position: str) -> _Read | Rejection:
    """Headers, a plausible date and the decoded body, or why not."""
    try:
        msg = _PARSER.parsebytes(raw, headersonly=len(raw) > src.max_bytes)
        dated = _date_of(msg)
        if isinstance(dated, str):
            return _rejection(raw, src, position, dated)
        if len(raw) > src.max_bytes:
            return _rejection(raw, src, position, f"oversize: message over {src.max_bytes} bytes", dated)
        body = _body_text(msg)
    except Exception as exc:  # the stdlib header parser raises assorted types on hostile input
        # Only the type: the exception text may quote headers, and reasons get logged.
        return _rejection(raw, src, position, f"malformed: {type(exc).__name__} while reading the headers")
    if not EARLIEST_PLAUSIBLE_DATE <= dated <= src.latest:
        reason = f"implausible_date: {dated} is outside {EARLIEST_PLAUSIBLE_DATE}..{src.latest} (import date)"
        return _rejection(raw, src, position, reason, dated)
    if body and body.count("\ufffd") / len(body) > MAX_REPLACEMENT_RATIO:
        reason = "undecodable: over 5% of the body is not valid in its declared charset"
        return _rejection(raw, src, position, reason, dated)
    return _Read(msg=msg, signal_date=dated, body=body)


def _date_of(msg: EmailMessage) -> datetime.date | str:
    """The UTC date of the Date header, or the rejection reason when there is none."""
    date_header = msg["Date"]
    if date_header is None or not str(date_header).strip():
        return "missing_date: no Date header"
    sent = date_header.datetime
    if sent is None:
        return f"bad_date: unparseable Date header {str(date_header)[:60]!r}"
    try:
        return _utc_date(sent)
    except OverflowError:
        return f"bad_date: Date header {str(date_header)[:60]!r} is out of range in UTC"


def _parse_message(raw: bytes, src: _Source, position: str, archive: ArchiveIndex) -> Signal | Rejection:
    """One raw RFC 5322 message to a Signal, or to a Rejection saying why not."""
    read = _read_message(raw, src, position)
    if isinstance(read, Rejection):
        return read
    msg = read.msg
    try:
        sender = _addresses(msg, "From")[:1]
        to = _addresses(msg, "To")
        cc_count = len(_addresses(msg, "Cc"))
        subject = normalize_whitespace(str(msg["Subject"] or ""))
        message_id = replace_surrogates(str(msg["Message-ID"] or "").strip())
        has_attachments = any(True for _ in msg.iter_attachments())
    except Exception as exc:  # as in _read_message
        reason = f"malformed: {type(exc).__name__} while reading the headers"
        return _rejection(raw, src, position, reason, read.signal_date)

    text, structure = _compose(split_email_body(read.body), subject, archive)
    if not text:
        reason = "empty_body: no text once the signature and quotes of messages in the archive are removed"
        return _rejection(raw, src, position, reason, read.signal_date)
    text, window = window_text(text, src.max_chars)
    if "forward_note" in structure:
        structure["forward_note"], note_window = window_text(structure["forward_note"], src.max_chars)
        if note_window:
            structure["forward_note_window"] = note_window
    if window:
        structure["window"] = window

    from_address = sender[0] if sender else ""
    return Signal(
        signal_id=make_signal_id(src.name, message_id, position),
        source=src.name,
        kind=KIND,
        position=position,
        external_id=message_id,
        signal_date=read.signal_date,
        title=subject,
        company=from_address.rpartition("@")[2],
        text=text,
        content_hash=make_content_hash(subject, text),
        attributes={
            "from": from_address,
            "to": to[:MAX_TO_ADDRESSES],
            "cc_count": cc_count,
            "has_attachments": has_attachments,
            **structure,
        },
    )


def _compose(body: EmailBody, subject: str, archive: ArchiveIndex) -> tuple[str, dict[str, Any]]:
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


def _utc_date(sent: datetime.datetime) -> datetime.date:
    """The UTC calendar date; a date without a zone (`-0000`) is taken as UTC already."""
    if sent.tzinfo is None:
        return sent.date()
    return sent.astimezone(datetime.UTC).date()


def _addresses(msg: EmailMessage, header: str) -> list[str]:
    """Lowercased addr-specs of an address header, [] when absent."""
    value = msg[header]
    if value is None:
        return []
    specs = (a.addr_spec for a in value.addresses)
    return [replace_surrogates(spec.lower()) for spec in specs if spec and spec != "<>"]


def _body_text(msg: EmailMessage) -> str:
    """The text/plain body if there is one, else the text of the HTML body, else ""."""
    part = msg.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    text = _decode(part)
    return html_to_text(text) if part.get_content_subtype() == "html" else text


def _decode(part: MIMEPart) -> str:
    """Decode a text part leniently: an unknown charset falls back to UTF-8, bad bytes to U+FFFD.

    `get_content()` would raise LookupError on an unknown charset.
    """
    decoded = part.get_payload(decode=True)  # bytes for a non-multipart part
    payload = decoded if isinstance(decoded, bytes) else b""
    declared = str(part.get("Content-Transfer-Encoding", "7bit")).strip().lower()
    if declared in ("7bit", "8bit") and _looks_quoted_printable(payload):
        payload = quopri.decodestring(payload)
    charset = part.get_content_charset() or "utf-8"
    try:
        codecs.lookup(charset)
    except LookupError:
        charset = "utf-8"
    return payload.decode(charset, errors="replace")


def _looks_quoted_printable(payload: bytes) -> bool:
    """True for a body that is still quoted-printable though declared 7bit.

    Enron messages carry this damage (`=20` line ends, words split by `=` + newline); several
    soft line breaks plus an `=XX` escape do not happen in ordinary text.
    """
    return len(_QP_SOFT_BREAK.findall(payload)) >= 2 and _QP_ESCAPE.search(payload) is not None
