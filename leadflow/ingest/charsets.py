"""Bytes to text when the declared charset may be wrong: a fallback chain and mojibake checks.

Mail and spreadsheet exports lie about their charset: latin-1 labelled UTF-8, UTF-8 labelled
latin-1 (read as "CafÃ©"), no label at all, text already double-encoded. Each payload is read
by the first of these that fits:
1. a byte-order mark;
2. UTF-8, when the bytes are valid UTF-8 holding non-ASCII characters, whatever the label says
   (legacy text is almost never valid UTF-8 by chance; this catches UTF-8 labelled latin-1);
3. the declared charset, strictly (windows-1252 for a latin-1 label, as browsers do: its
   0x80-0x9F are curly quotes and dashes, not control codes);
4. windows-1252, the usual unlabelled Western charset, when the text it gives is not chaotic;
5. charset-normalizer's guess, when it recognises a language in it;
6. else the declared charset (or UTF-8) with U+FFFD for what it cannot read: `undecodable`.
A text that decoded to the characters of UTF-8 read as windows-1252 ("â€™") is turned back.
"""

import codecs
import re
from dataclasses import dataclass

import charset_normalizer

UTF8 = "utf-8"
WESTERN = "windows-1252"
_CP1252 = "cp1252"  # Python's name for it
_LATIN1 = frozenset({"iso8859-1", "ascii"})  # codecs.lookup names
BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, UTF8),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# charset-normalizer's mess ratio above which a decoding is taken as wrong (its own default).
MAX_CHAOS = 0.2
# Its language coherence below which a guess is noise: on a short text it calls any bytes
# Japanese or Korean with coherence 0.
MIN_COHERENCE = 0.05
# A UTF-8 lead byte then a continuation byte, as windows-1252 or latin-1 shows them.
_MOJIBAKE = re.compile(
    "[\u00c2-\u00f4][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u2013-\u2122]"
)


@dataclass(frozen=True, slots=True)
class Decoded:
    """A payload's text, the charset that gave it, and why that is not the declared one."""

    text: str
    charset: str
    # None when the declared charset read it; else "<what>: <detail>", e.g.
    # "fallback: declared utf-8, read as windows-1252".
    repair: str | None = None
    undecodable: bool = False  # no step fitted: `text` holds U+FFFD for what could not be read


def codec_name(charset: str | None) -> str | None:
    """Python's name for a charset label, None when it is missing or unknown."""
    if not charset:
        return None
    try:
        return codecs.lookup(charset.strip().strip('"')).name
    except (LookupError, ValueError):  # ValueError: a label with a NUL
        return None


def strip_bom(payload: bytes) -> tuple[bytes, str | None]:
    """The payload without its byte-order mark, and the codec the mark names."""
    for bom, codec in BOMS:
        if payload.startswith(bom):
            return payload[len(bom) :], codec
    return payload, None


def decode_bytes(payload: bytes, declared: str | None = None) -> Decoded:
    """The text of `payload`, read by the first step of the chain above that fits."""
    label = (declared or "").strip().lower() or "none"
    if payload.isascii():
        return Decoded(payload.decode("ascii"), "ascii")
    payload, bom_codec = strip_bom(payload)
    declared_codec = codec_name(declared)
    if bom_codec is not None:
        text = payload.decode(bom_codec, errors="replace")
        repair = (
            None
            if bom_codec == declared_codec or declared is None
            else f"fallback: declared {label}, BOM says {bom_codec}"
        )
        return _undo_mojibake(Decoded(text, bom_codec, repair))
    utf8 = _strict(payload, UTF8)
    if utf8 is not None:
        repair = None if declared_codec in (UTF8, None) else f"mojibake: declared {label}, the bytes are UTF-8"
        return _undo_mojibake(Decoded(utf8, UTF8, repair))
    if declared_codec is not None and declared_codec != UTF8:
        if declared_codec in _LATIN1 and (western := _strict(payload, _CP1252)) is not None:
            repair = None if declared_codec != "ascii" else f"fallback: declared {label}, read as {WESTERN}"
            return Decoded(western, _CP1252, repair)
        if (native := _strict(payload, declared_codec)) is not None:
            return Decoded(native, declared_codec)
    return _fallback(payload, label, declared_codec or UTF8)


def _fallback(payload: bytes, label: str, last_resort: str) -> Decoded:
    """Steps 4 to 6: windows-1252 if it reads cleanly, a recognised guess, else replacements."""
    western = charset_normalizer.from_bytes(payload, cp_isolation=[_CP1252], threshold=MAX_CHAOS).best()
    if western is not None:
        return Decoded(str(western), _CP1252, f"fallback: declared {label}, read as {WESTERN}")
    guess = charset_normalizer.from_bytes(payload, threshold=MAX_CHAOS).best()
    if guess is not None and guess.coherence >= MIN_COHERENCE:
        return Decoded(str(guess), guess.encoding, f"fallback: declared {label}, guessed {guess.encoding}")
    text = payload.decode(last_resort, errors="replace")
    return Decoded(text, last_resort, f"undecodable: declared {label}, no charset reads it", undecodable=True)


def _strict(payload: bytes, codec: str) -> str | None:
    try:
        return payload.decode(codec)
    except UnicodeDecodeError:
        return None


def _undo_mojibake(decoded: Decoded) -> Decoded:
    """UTF-8 that an earlier program read as windows-1252 (or latin-1) and saved as UTF-8 again
    ("CafÃ©", "weâ€™re"), read back; the text is left alone unless all of it converts."""
    if _MOJIBAKE.search(decoded.text) is None:
        return decoded
    for codec in (WESTERN, "latin-1"):
        try:
            text = decoded.text.encode(codec).decode(UTF8)
        except UnicodeError:
            continue
        return Decoded(text, decoded.charset, f"mojibake: UTF-8 once read as {codec}, turned back")
    return decoded
