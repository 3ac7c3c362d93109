"""Emails from mbox files, maildir folders and single .eml files, one message at a time.

An email must carry a Date (it places the message in the backlog) and some text of the
sender's own once quotes, forwards and signatures are trimmed.
"""

import codecs
import datetime
import email.policy
import quopri
import re
from collections.abc import Iterator
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

from leadflow.ingest.records import (
    DEFAULT_MAX_CHARS,
    Rejection,
    Signal,
    make_content_hash,
    make_excerpt,
    make_signal_id,
)
from leadflow.ingest.text import html_to_text, normalize_whitespace, replace_surrogates, trim_email_body

KIND = "email"
MAX_REPLACEMENT_RATIO = 0.05
MAX_TO_ADDRESSES = 5

_PARSER = BytesParser(policy=email.policy.default)
_MBOXRD_ESCAPE = re.compile(rb"^>(>*From )")
_QP_SOFT_BREAK = re.compile(rb"=\r?\n")
_QP_ESCAPE = re.compile(rb"=[0-9A-F]{2}")


def iter_mbox_messages(path: Path) -> Iterator[bytes]:
    """Raw messages of an mbox, read as bytes line by line.

    `mailbox.mbox` indexes the whole file first; this keeps only the current message in
    memory. A message starts at a `From ` line at the top of the file or after a blank line;
    body lines escaped as `>From ` (mboxrd) get their `>` back. Stretches holding nothing but
    blank lines are not messages.
    """
    lines: list[bytes] = []
    previous_blank = True
    with path.open("rb") as f:
        for line in f:
            if previous_blank and line.startswith(b"From "):
                if any(part.strip() for part in lines):
                    yield b"".join(lines)
                lines = []
            else:
                lines.append(_MBOXRD_ESCAPE.sub(rb"\1", line))
            previous_blank = not line.strip()
    if any(part.strip() for part in lines):
        yield b"".join(lines)


def parse_mbox(
    path: Path, *, source: str, max_chars: int = DEFAULT_MAX_CHARS, label: str | None = None
) -> Iterator[Signal | Rejection]:
    """Signals from an mbox file; positions are `<label>#<message index>`."""
    label = label or str(path)
    for n, raw in enumerate(iter_mbox_messages(path)):
        yield parse_message(raw, source=source, position=f"{label}#{n}", max_chars=max_chars)


def parse_maildir(
    path: Path, *, source: str, max_chars: int = DEFAULT_MAX_CHARS, label: str | None = None
) -> Iterator[Signal | Rejection]:
    """Signals from a maildir's cur/ and new/ (tmp/ holds deliveries still in progress)."""
    label = label or str(path)
    folders = [path / sub for sub in ("cur", "new") if (path / sub).is_dir()]
    files = sorted(f for folder in folders for f in folder.iterdir() if f.is_file() and f.name[:1] != ".")
    for file in files:
        position = f"{label}/{file.relative_to(path).as_posix()}"
        yield parse_message(file.read_bytes(), source=source, position=position, max_chars=max_chars)


def parse_eml(
    path: Path, *, source: str, max_chars: int = DEFAULT_MAX_CHARS, label: str | None = None
) -> Iterator[Signal | Rejection]:
    """The Signal (or Rejection) of a single .eml file."""
    position = label or str(path)
    yield parse_message(path.read_bytes(), source=source, position=position, max_chars=max_chars)


def parse_message(raw: bytes, *, source: str, position: str, max_chars: int) -> Signal | Rejection:
    """One raw RFC 5322 message to a Signal, or to a Rejection saying why not."""

    def reject(reason: str) -> Rejection:
        excerpt = make_excerpt(raw)
        return Rejection(source=source, kind=KIND, position=position, reason=reason, excerpt=excerpt)

    try:
        msg = _PARSER.parsebytes(raw)
        date_header = msg["Date"]
        if date_header is None or not str(date_header).strip():
            return reject("missing_date: no Date header")
        sent = date_header.datetime
        if sent is None:
            return reject(f"bad_date: unparseable Date header {str(date_header)[:60]!r}")
        try:
            signal_date = _utc_date(sent)
        except OverflowError:
            return reject(f"bad_date: Date header {str(date_header)[:60]!r} is out of range in UTC")
        body = _body_text(msg)
        sender = _addresses(msg, "From")[:1]
        to = _addresses(msg, "To")
        cc_count = len(_addresses(msg, "Cc"))
        subject = normalize_whitespace(str(msg["Subject"] or ""))
        message_id = replace_surrogates(str(msg["Message-ID"] or "").strip())
        has_attachments = any(True for _ in msg.iter_attachments())
    except Exception as exc:  # the stdlib header parser raises assorted types on hostile input
        # Only the type: the exception text may quote headers, and reasons get logged.
        return reject(f"malformed: {type(exc).__name__} while reading the headers")

    if body and body.count("\ufffd") / len(body) > MAX_REPLACEMENT_RATIO:
        return reject("undecodable: over 5% of the body is not valid in its declared charset")
    text = trim_email_body(body)
    if not text:
        return reject("empty_body: no own text after removing quotes, forwards and signature")
    if len(text) > max_chars:
        return reject(f"oversize: {len(text)} chars > {max_chars}")

    from_address = sender[0] if sender else ""
    return Signal(
        signal_id=make_signal_id(source, message_id, position),
        source=source,
        kind=KIND,
        position=position,
        external_id=message_id,
        signal_date=signal_date,
        title=subject,
        company=from_address.rpartition("@")[2],
        text=text,
        content_hash=make_content_hash(subject, text),
        attributes={
            "from": from_address,
            "to": to[:MAX_TO_ADDRESSES],
            "cc_count": cc_count,
            "has_attachments": has_attachments,
        },
    )


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


def _decode(part: EmailMessage) -> str:
    """Decode a text part leniently: an unknown charset falls back to UTF-8, bad bytes to U+FFFD.

    `get_content()` would raise LookupError on an unknown charset.
    """
    payload = part.get_payload(decode=True) or b""
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
