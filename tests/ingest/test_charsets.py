"""The charset fallback chain: declared, UTF-8 over a wrong label, windows-1252, a guess, replacements."""

import codecs

import pytest

from leadflow.ingest.charsets import codec_name, decode_bytes

CAFE = "Caf\u00e9 cr\u00e8me, d\u00e9j\u00e0 vu"


@pytest.mark.parametrize(
    ("payload", "declared", "text", "repair"),
    [
        (b"key=AB12", "utf-8", "key=AB12", None),
        (CAFE.encode(), "utf-8", CAFE, None),
        (CAFE.encode("latin-1"), "iso-8859-1", CAFE, None),
        # latin-1 labelled UTF-8: windows-1252 reads it, and says so.
        (CAFE.encode("latin-1"), "utf-8", CAFE, "fallback: declared utf-8, read as windows-1252"),
        # UTF-8 labelled latin-1 would be "CafÃ©": valid UTF-8 wins over the label.
        (CAFE.encode(), "iso-8859-1", CAFE, "mojibake: declared iso-8859-1, the bytes are UTF-8"),
        # A latin-1 label is read as windows-1252, as browsers do: 0x92 is a quote, not a control.
        ("We\u2019re".encode("cp1252"), "latin-1", "We\u2019re", None),
        (CAFE.encode("latin-1"), "us-ascii", CAFE, "fallback: declared us-ascii, read as windows-1252"),
        (CAFE.encode("latin-1"), "x-unknown", CAFE, "fallback: declared x-unknown, read as windows-1252"),
        (CAFE.encode("latin-1"), None, CAFE, "fallback: declared none, read as windows-1252"),
        ("Dobr\u00fd den".encode("cp1250"), "windows-1250", "Dobr\u00fd den", None),
        (codecs.BOM_UTF8 + CAFE.encode(), None, CAFE, None),
        (codecs.BOM_UTF16_LE + CAFE.encode("utf-16-le"), None, CAFE, None),
        # UTF-8 once read as windows-1252 and saved as UTF-8 again is turned back.
        (
            CAFE.encode().decode("cp1252").encode(),
            "utf-8",
            CAFE,
            "mojibake: UTF-8 once read as windows-1252, turned back",
        ),
    ],
)
def test_decode_chain(payload, declared, text, repair):
    decoded = decode_bytes(payload, declared)
    assert (decoded.text, decoded.repair) == (text, repair)
    assert not decoded.undecodable


def test_a_long_text_in_another_script_is_recognised():
    koi8 = ("\u0417\u0434\u0440\u0430\u0432\u0441\u0442\u0432\u0443\u0439\u0442\u0435, " * 20).encode("koi8-r")
    decoded = decode_bytes(koi8, "utf-8")
    assert decoded.text.startswith("\u0417\u0434\u0440\u0430\u0432")
    assert decoded.repair is not None and decoded.repair.startswith("fallback: declared utf-8, guessed")


def test_bytes_no_charset_reads_are_undecodable():
    decoded = decode_bytes(b"ok " + bytes(range(0x80, 0xC0)) * 2, "utf-8")
    assert decoded.undecodable and decoded.text.count("\ufffd") > 100


def test_codec_names():
    assert (codec_name("UTF8"), codec_name(" latin1 "), codec_name("x-nope"), codec_name(None)) == (
        "utf-8",
        "iso8859-1",
        None,
        None,
    )
