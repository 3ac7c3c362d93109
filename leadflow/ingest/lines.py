"""Physical lines of a text file, streamed as bytes, whatever its line ends and byte-order mark.

`for line in file` splits on LF only: a file saved with CR line ends (classic Mac, some Excel
exports) would be one line, read whole into memory. Here CR, LF and CRLF all end a line, a
UTF-8 byte-order mark is dropped, a UTF-16/32 file (marked) is re-encoded as UTF-8, and a line
over the limit is cut, so memory stays bounded by the limit whatever the file holds.
"""

import codecs
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from leadflow.ingest.charsets import UTF8, strip_bom

CHUNK_BYTES = 1 << 16
# Longer lines are not records of any source read line by line (the text limit is 20,000 chars).
MAX_LINE_BYTES = 16 * 2**20
_NEWLINE = re.compile(rb"\r\n|\r|\n")


def iter_lines(path: Path, max_line_bytes: int = MAX_LINE_BYTES) -> Iterator[bytes]:
    """The file's lines without their line ends; of a line over `max_line_bytes`, only its
    first `max_line_bytes + 1` bytes (enough to reject it). An empty line is b"", a missing
    last line end changes nothing."""
    with path.open("rb") as f:
        head, codec = strip_bom(f.read(4))
        chunks: Iterable[bytes] = _chunks(f, head)
        if codec is not None and codec != UTF8:
            chunks = _reencoded(chunks, codec)
        yield from split_lines(chunks, max_line_bytes)


def split_lines(chunks: Iterable[bytes], max_line_bytes: int = MAX_LINE_BYTES) -> Iterator[bytes]:
    """Lines of a stream given in chunks, as `iter_lines` gives them."""
    line = bytearray()
    after_cr = False  # the previous chunk ended in CR: an LF opening this one belongs to it
    for chunk in chunks:
        if not chunk:  # a re-encoded chunk can be empty: it must not end the CR wait
            continue
        start = 1 if after_cr and chunk.startswith(b"\n") else 0
        after_cr = False
        for match in _NEWLINE.finditer(chunk, start):
            _append(line, chunk[start : match.start()], max_line_bytes)
            yield bytes(line)
            line.clear()
            start = match.end()
            after_cr = match.group() == b"\r" and start == len(chunk)
        _append(line, chunk[start:], max_line_bytes)
    if line:
        yield bytes(line)


def _append(line: bytearray, data: bytes, max_line_bytes: int) -> None:
    room = max_line_bytes + 1 - len(line)
    if room > 0:
        line += data[:room]


def _chunks(f: BinaryIO, head: bytes) -> Iterator[bytes]:
    if head:
        yield head
    while chunk := f.read(CHUNK_BYTES):
        yield chunk


def _reencoded(chunks: Iterable[bytes], codec: str) -> Iterator[bytes]:
    """UTF-8 bytes of a stream in `codec` (a character cut between chunks is carried over)."""
    decoder = codecs.getincrementaldecoder(codec)(errors="replace")
    for chunk in chunks:
        yield decoder.decode(chunk).encode(UTF8)
    yield decoder.decode(b"", final=True).encode(UTF8)
