"""Physical lines: CR, LF and CRLF ends, BOMs, UTF-16, a cap on line length."""

import codecs

from leadflow.ingest.lines import iter_lines, split_lines


def test_every_line_end_ends_a_line_even_split_across_chunks():
    assert list(split_lines([b"a\r", b"\nb\rc\n", b"d"])) == [b"a", b"b", b"c", b"d"]
    assert list(split_lines([b"a\r", b"", b"\nb"])) == [b"a", b"b"]  # an empty chunk keeps the CR wait
    assert list(split_lines([b"a\r\r\nb\r\n"])) == [b"a", b"", b"b"]
    assert list(split_lines([b"\n\n"])) == [b"", b""]


def test_a_long_line_is_cut_and_the_next_one_read():
    assert list(split_lines([b"x" * 10 + b"\nab"], max_line_bytes=4)) == [b"xxxxx", b"ab"]


def test_boms_are_dropped_and_utf16_is_reencoded(tmp_path):
    utf8 = tmp_path / "utf8.txt"
    utf8.write_bytes(codecs.BOM_UTF8 + b"one\ntwo")
    utf16 = tmp_path / "utf16.txt"
    utf16.write_bytes(codecs.BOM_UTF16_LE + "caf\u00e9\r\nzwei\r\n".encode("utf-16-le"))
    assert list(iter_lines(utf8)) == [b"one", b"two"]
    assert list(iter_lines(utf16)) == ["caf\u00e9".encode(), b"zwei"]


def test_a_file_without_line_ends_is_read_bounded(tmp_path):
    flat = tmp_path / "flat.txt"
    flat.write_bytes(b"y" * 300_000)
    (line,) = iter_lines(flat, max_line_bytes=1000)
    assert len(line) == 1001
