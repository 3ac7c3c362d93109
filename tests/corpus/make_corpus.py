"""Writes the hostile ingest corpus: files a user could drop into leadflow, each with the
outcome expected of every record in it (accepted, with the fields it must have, or quarantined,
with its reason code).

    .venv/bin/python -m tests.corpus.make_corpus      # rewrite tests/corpus/files + expected.json

Deterministic: the same bytes on every run (the test regenerates the corpus and compares).
Cases that would be large or awkward in git (a 1 MB Subject, a JSON line nested 100,000 deep,
file names that are not UTF-8, a folder named `*.eml`, a missing file) are `at_test_time`:
written by the test into a temporary folder, never committed.
"""

import base64
import codecs
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
FILES = ROOT / "files"
EXPECTED = ROOT / "expected.json"
IMPORT_DATE = "2024-05-01"  # every case is read with this import date

Expectation = dict[str, Any]  # {"accepted": {field: value}} or {"quarantined": "<reason code>"}


@dataclass(frozen=True)
class Case:
    """One input: where it goes, how it is read, what it is about and what each record gives."""

    path: str  # relative to the corpus root; a folder for maildir cases
    format: str  # a SourceSpec format, or "import" (format from the extension, as dropped files)
    about: str
    records: list[Expectation]
    write: Callable[[Path], None] = field(repr=False)
    at_test_time: bool = False


def accepted(**fields: Any) -> Expectation:
    """An accepted record: each field named must equal the Signal's; `text_contains` is a list of
    substrings of the text, `text_lacks` of strings it must not hold, `attributes` a subset,
    `title_length` the title's length, `position_endswith` the end of its position."""
    return {"accepted": fields}


def quarantined(reason: str) -> Expectation:
    return {"quarantined": reason}


def job(
    job_id: str, title: str, description: str = "We are hiring for our growing marketing team.", **more: Any
) -> bytes:
    record = {"job_id": job_id, "title": title, "description": description, **more}
    return json.dumps(record, ensure_ascii=False).encode("utf-8")


def mail(
    n: int,
    *,
    subject: bytes = b"",
    body: bytes = b"",
    date: bytes = b"Mon, 01 Jan 2001 10:00:00 +0000",
    message_id: bytes | None = None,
    headers: bytes = b"",
    separator: bytes = b"From sender@example.com Mon Jan  1 10:00:00 2001\n",
) -> bytes:
    """One mbox message (its separator first) with a blank line after it."""
    subject = subject or b"Quote request %d" % n
    body = body or b"Hello, please send a quote for %d licences.\n" % (n + 10)
    mid = b"<m%d@corpus.example>" % n if message_id is None else message_id
    lines = [separator.rstrip(b"\n")] if separator else []
    lines += [b"Message-ID: " + mid] if mid else []
    lines += [b"Date: " + date] if date else []
    lines += [b"From: Rep %d <rep%d@buyer.example.com>" % (n, n), b"To: sales@leadflow.example", b"Subject: " + subject]
    return b"\n".join(lines) + b"\n" + headers + b"\n" + body + b"\n"


def _files(contents: dict[str, bytes]) -> Callable[[Path], None]:
    def write(root: Path) -> None:
        for name, data in contents.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)

    return write


def _file(name: str, data: bytes) -> Callable[[Path], None]:
    return _files({name: data})


def _jsonl_cases() -> list[Case]:
    ok = accepted
    cases = [
        Case(
            "jsonl/cr_line_ends.jsonl",
            "jsonl_jobs",
            "CR-only line ends (classic Mac): three postings, not one bad_json line",
            [ok(external_id="1", title="Marketing Manager"), ok(external_id="2"), ok(external_id="3")],
            _file(
                "jsonl/cr_line_ends.jsonl",
                b"\r".join([job("1", "Marketing Manager"), job("2", "Sales Lead"), job("3", "Designer")]) + b"\r",
            ),
        ),
        Case(
            "jsonl/crlf_and_blank_lines.jsonl",
            "jsonl_jobs",
            "CRLF line ends and blank lines (not records)",
            [ok(external_id="1"), ok(external_id="2")],
            _file(
                "jsonl/crlf_and_blank_lines.jsonl",
                b"\r\n\r\n" + job("1", "A") + b"\r\n\r\n" + job("2", "B") + b"\r\n  \r\n",
            ),
        ),
        Case(
            "jsonl/bom_first_line.jsonl",
            "jsonl_jobs",
            "a UTF-8 byte-order mark before the first line, and one before a later line (concatenated files)",
            [ok(external_id="1", title="Caf\u00e9 Manager"), ok(external_id="2"), ok(external_id="3")],
            _file(
                "jsonl/bom_first_line.jsonl",
                codecs.BOM_UTF8
                + job("1", "Caf\u00e9 Manager")
                + b"\n"
                + job("2", "B")
                + b"\n"
                + codecs.BOM_UTF8
                + job("3", "C")
                + b"\n",
            ),
        ),
        Case(
            "jsonl/utf16_with_bom.jsonl",
            "jsonl_jobs",
            "UTF-16 LE with a BOM (a Windows 'Unicode' save)",
            [ok(external_id="1", title="Caf\u00e9 Manager"), ok(external_id="2", title="\u00dcbersetzer")],
            _file(
                "jsonl/utf16_with_bom.jsonl",
                codecs.BOM_UTF16_LE
                + (job("1", "Caf\u00e9 Manager") + b"\r\n" + job("2", "\u00dcbersetzer") + b"\r\n")
                .decode("utf-8")
                .encode("utf-16-le"),
            ),
        ),
        Case(
            "jsonl/huge_integer.jsonl",
            "jsonl_jobs",
            "a 5,000-digit integer (over Python's int conversion limit), between two good lines",
            [ok(external_id="1"), quarantined("bad_json"), ok(external_id="3")],
            _file(
                "jsonl/huge_integer.jsonl",
                job("1", "A")
                + b'\n{"job_id": '
                + b"7" * 5000
                + b', "title": "B", "description": "x"}\n'
                + job("3", "C")
                + b"\n",
            ),
        ),
        Case(
            "jsonl/nan_and_infinity.jsonl",
            "jsonl_jobs",
            "NaN and Infinity, which Python's reader takes and JSON does not have",
            [quarantined("bad_json"), quarantined("bad_json"), ok(external_id="3")],
            _file(
                "jsonl/nan_and_infinity.jsonl",
                b'{"job_id": NaN, "title": "A", "description": "x"}\n'
                b'{"job_id": "2", "title": "B", "description": "x", "salary_range": -Infinity}\n'
                + job("3", "C")
                + b"\n",
            ),
        ),
        Case(
            "jsonl/control_characters.jsonl",
            "jsonl_jobs",
            "NUL, ESC (terminal colour codes) and C1 controls escaped in the JSON strings: stripped",
            [ok(external_id="1", title="Data Engineer", text_lacks=["\x00", "\x1b", "\x9b"])],
            _file(
                "jsonl/control_characters.jsonl",
                job("1", "Data\u0000 \u001b[31mEngineer", "Build \u009bpipelines\u0000 for us.") + b"\n",
            ),
        ),
        Case(
            "jsonl/raw_control_character.jsonl",
            "jsonl_jobs",
            "a raw NUL byte inside a JSON string (not allowed unescaped)",
            [quarantined("bad_json"), ok(external_id="2")],
            _file(
                "jsonl/raw_control_character.jsonl",
                b'{"job_id": "1", "title": "A\x00B", "description": "x"}\n' + job("2", "B") + b"\n",
            ),
        ),
        Case(
            "jsonl/latin1_line.jsonl",
            "jsonl_jobs",
            "a line written in latin-1, not UTF-8: read through the charset fallback",
            [
                ok(
                    external_id="1",
                    title="Caf\u00e9 Manager",
                    attributes={"charset_repair": "fallback: declared utf-8, read as windows-1252"},
                ),
                ok(external_id="2", title="\u00c9tudes", attributes={}),
            ],
            _file(
                "jsonl/latin1_line.jsonl",
                job("1", "Caf\u00e9 Manager").decode("utf-8").encode("latin-1")
                + b"\n"
                + job("2", "\u00c9tudes")
                + b"\n",
            ),
        ),
        Case(
            "jsonl/double_encoded_utf8.jsonl",
            "jsonl_jobs",
            "UTF-8 once read as windows-1252 and saved again ('CafÃ©'): turned back",
            [ok(external_id="1", title="Caf\u00e9 Manager", text_contains=["We\u2019re hiring"])],
            _file(
                "jsonl/double_encoded_utf8.jsonl",
                job(
                    "1",
                    "Caf\u00e9 Manager".encode().decode("cp1252"),
                    "We\u2019re hiring".encode().decode("cp1252"),
                )
                + b"\n",
            ),
        ),
        Case(
            "jsonl/garbage_bytes.jsonl",
            "jsonl_jobs",
            "a line of bytes no charset reads",
            [ok(external_id="1"), quarantined("undecodable")],
            _file("jsonl/garbage_bytes.jsonl", job("1", "A") + b"\n" + bytes(range(0x80, 0x100)) * 2 + b"\n"),
        ),
        Case(
            "jsonl/not_objects.jsonl",
            "jsonl_jobs",
            "lines holding an array, a string, a number and null",
            [quarantined("not_object")] * 4,
            _file("jsonl/not_objects.jsonl", b'[1, 2]\n"a string"\n42\nnull\n'),
        ),
        Case(
            "jsonl/truncated_last_line.jsonl",
            "jsonl_jobs",
            "the file cut in the middle of its last posting, no line end",
            [ok(external_id="1"), quarantined("bad_json")],
            _file("jsonl/truncated_last_line.jsonl", job("1", "A") + b"\n" + job("2", "B")[:30]),
        ),
        Case(
            "jsonl/wrong_types.jsonl",
            "jsonl_jobs",
            "a title that is an object, a job_id that is a list, a missing title, an empty body",
            [
                quarantined("bad_field"),
                quarantined("bad_field"),
                quarantined("missing_field"),
                quarantined("empty_body"),
            ],
            _file(
                "jsonl/wrong_types.jsonl",
                b'{"job_id": "1", "title": {"x": 1}, "description": "d"}\n'
                b'{"job_id": ["2"], "title": "B", "description": "d"}\n'
                b'{"job_id": "3", "description": "d"}\n'
                b'{"job_id": "4", "title": "D", "description": "<p> </p>"}\n',
            ),
        ),
        Case(
            "jsonl/lone_surrogates.jsonl",
            "jsonl_jobs",
            "JSON escapes of lone surrogates (not encodable as UTF-8): U+FFFD",
            [ok(external_id="1", title="Chef \ufffd")],
            _file(
                "jsonl/lone_surrogates.jsonl",
                b'{"job_id": "1", "title": "Chef \\ud83c", "description": "Cook \\udce9"}\n',
            ),
        ),
        Case(
            "jsonl/formula_title.jsonl",
            "jsonl_jobs",
            "a title that is a spreadsheet formula: kept as text (exports quote it)",
            [ok(external_id="1", title='=HYPERLINK("http://evil.example","Apply")')],
            _file("jsonl/formula_title.jsonl", job("1", '=HYPERLINK("http://evil.example","Apply")') + b"\n"),
        ),
        Case(
            "jsonl/oversize.jsonl",
            "jsonl_jobs",
            "a posting over the 20,000-character text limit, between two good ones",
            [ok(external_id="1"), quarantined("oversize"), ok(external_id="3")],
            _file(
                "jsonl/oversize.jsonl",
                job("1", "A") + b"\n" + job("2", "B", "word " * 4100) + b"\n" + job("3", "C") + b"\n",
            ),
        ),
        Case("jsonl/empty.jsonl", "jsonl_jobs", "an empty file: no records", [], _file("jsonl/empty.jsonl", b"")),
        Case(
            "jsonl/deeply_nested.jsonl",
            "jsonl_jobs",
            "a line nested 100,000 deep (RecursionError in the reader)",
            [ok(external_id="1"), quarantined("bad_json"), ok(external_id="3")],
            _file(
                "jsonl/deeply_nested.jsonl",
                job("1", "A") + b"\n" + b"[" * 100_000 + b"]" * 100_000 + b"\n" + job("3", "C") + b"\n",
            ),
            at_test_time=True,
        ),
    ]
    return cases


def _csv(rows: list[str], end: str = "\n") -> bytes:
    return end.join(rows).encode("utf-8") + end.encode()


HEADER = "permalink,name,category_code,funding_total_usd,status,country_code,city,founded_year"


def _csv_cases() -> list[Case]:
    ok = accepted
    return [
        Case(
            "csv/semicolon.csv",
            "csv_accounts",
            "semicolon-delimited (a European Excel export), commas inside values",
            [ok(title="Acme, Inc.", attributes={"city": "Lyon"}), ok(title="Beta SA"), ok(title="Gamma GmbH")],
            _file(
                "csv/semicolon.csv",
                _csv(
                    ["name;city;funding_total_usd", "Acme, Inc.;Lyon;1000", "Beta SA;Paris;2000", "Gamma GmbH;Berlin;"]
                ),
            ),
        ),
        Case(
            "csv/tab_and_uppercase_header.csv",
            "csv_accounts",
            "tab-delimited with a capitalised header (Name, City)",
            [ok(title="Acme", attributes={"city": "Austin"}), ok(title="Beta")],
            _file("csv/tab_and_uppercase_header.csv", _csv(["Name\tCity", "Acme\tAustin", "Beta\tBoston"])),
        ),
        Case(
            "csv/pipe.csv",
            "csv_accounts",
            "pipe-delimited",
            [ok(title="Acme"), ok(title="Beta")],
            _file("csv/pipe.csv", _csv(["name|city", "Acme|Austin", "Beta|Boston"])),
        ),
        Case(
            "csv/stray_quote.csv",
            "csv_accounts",
            "a stray quote opening a field: its row is bad, the rows after it are read",
            [
                ok(title="Acme"),
                quarantined("bad_row"),
                ok(title="Gamma", attributes={"city": "Dallas"}),
                ok(title="Delta"),
            ],
            _file(
                "csv/stray_quote.csv",
                _csv(["name,city", "Acme,Austin", 'Beta,"Boston', "Gamma,Dallas", "Delta,Denver"]),
            ),
        ),
        Case(
            "csv/unclosed_quote_at_end.csv",
            "csv_accounts",
            "the last row opens a quote the file never closes",
            [ok(title="Acme"), quarantined("bad_row")],
            _file("csv/unclosed_quote_at_end.csv", _csv(["name,city", "Acme,Austin", 'Zeta,"Zurich'])),
        ),
        Case(
            "csv/multiline_quoted_field.csv",
            "csv_accounts",
            "a quoted field holding a line break (a street address), and a quote inside an unquoted field",
            [ok(title="Acme", attributes={"address": "12 Main St\nSuite 5"}), ok(title='Beta 5" Displays')],
            _file(
                "csv/multiline_quoted_field.csv",
                _csv(["name,address", 'Acme,"12 Main St', 'Suite 5"', 'Beta 5" Displays,1 Loop']),
            ),
        ),
        Case(
            "csv/excel_numbers.csv",
            "csv_accounts",
            "Excel damage: an id in scientific notation, a year as 2.01E+03, an amount as 2.5E+06",
            [
                quarantined("excel_damage"),
                ok(title="Beta", attributes={"founded_year": None, "repaired": ["founded_year"]}),
                ok(title="Gamma", attributes={"funding_total_usd": 2_500_000, "approximate": ["funding_total_usd"]}),
                ok(title="Delta", attributes={"founded_year": 2012, "repaired": []}),
            ],
            _file(
                "csv/excel_numbers.csv",
                _csv(
                    [
                        HEADER,
                        "1.23457E+17,Alpha,software,1000,operating,USA,Austin,2010",
                        "/company/beta,Beta,software,1000,operating,USA,Austin,2.01E+03",
                        "/company/gamma,Gamma,software,2.5E+06,operating,USA,Austin,2011",
                        "/company/delta,Delta,software,,operating,USA,Austin,2012.0",
                    ]
                ),
            ),
        ),
        Case(
            "csv/excel_error_tokens.csv",
            "csv_accounts",
            "#NAME? / #N/A in the name, #REF! and ##### in other fields, a date where a number was",
            [
                quarantined("excel_damage"),
                quarantined("excel_damage"),
                ok(
                    title="Gamma",
                    attributes={"city": None, "funding_total_usd": None, "repaired": ["funding_total_usd", "city"]},
                ),
                ok(title="Delta", attributes={"funding_total_usd": None, "repaired": ["funding_total_usd"]}),
            ],
            _file(
                "csv/excel_error_tokens.csv",
                _csv(
                    [
                        HEADER,
                        "/company/alpha,#NAME?,software,1000,operating,USA,Austin,2010",
                        "/company/beta,#N/A,software,1000,operating,USA,Austin,2010",
                        "/company/gamma,Gamma,software,#####,operating,USA,#REF!,2010",
                        "/company/delta,Delta,software,6/5/53,operating,USA,Austin,2010",
                    ]
                ),
            ),
        ),
        Case(
            "csv/formula_cells.csv",
            "csv_accounts",
            "formula cells (CSV injection): a DDE name refused, a formula city dropped, @/+/- data kept",
            [
                quarantined("formula"),
                ok(title="Beta", attributes={"city": None, "repaired": ["city"], "formula": ["city"]}),
                ok(title="@Home Network", attributes={"repaired": []}),
                ok(title="+1 Solutions", attributes={"city": "-"}),
                quarantined("formula"),
            ],
            _file(
                "csv/formula_cells.csv",
                _csv(
                    [
                        "name,city",
                        "=cmd|' /C calc'!A0,Austin",
                        'Beta,"=HYPERLINK(""http://evil.example"",""x"")"',
                        "@Home Network,Austin",
                        "+1 Solutions,-",
                        "@SUM(A1:A9),Austin",
                    ]
                ),
            ),
        ),
        Case(
            "csv/cp1252.csv",
            "csv_accounts",
            "a whole export in windows-1252 (accents, curly quotes): read through the fallback",
            [
                ok(
                    title="Soci\u00e9t\u00e9 G\u00e9n\u00e9rale",
                    attributes={"charset_repair": "fallback: declared utf-8, read as windows-1252"},
                ),
                ok(title="O\u2019Brien \u2013 Partners"),
                ok(title="Plain Co", attributes={}),
            ],
            _file(
                "csv/cp1252.csv",
                "name,city\nSoci\u00e9t\u00e9 G\u00e9n\u00e9rale,Paris\nO\u2019Brien \u2013 Partners,Dublin\nPlain Co,Leeds\n".encode(
                    "cp1252"
                ),
            ),
        ),
        Case(
            "csv/utf16_tab.csv",
            "csv_accounts",
            "Excel's 'Unicode text': UTF-16 LE with a BOM, tab-delimited, CRLF",
            [ok(title="M\u00fcnchen Tech", attributes={"city": "M\u00fcnchen"}), ok(title="Beta")],
            _file(
                "csv/utf16_tab.csv",
                codecs.BOM_UTF16_LE
                + "name\tcity\r\nM\u00fcnchen Tech\tM\u00fcnchen\r\nBeta\tBoston\r\n".encode("utf-16-le"),
            ),
        ),
        Case(
            "csv/cr_line_ends.csv",
            "csv_accounts",
            "CR-only line ends (Excel for Mac's 'CSV (Macintosh)')",
            [ok(title="Acme"), ok(title="Beta"), ok(title="Gamma")],
            _file("csv/cr_line_ends.csv", _csv(["name,city", "Acme,Austin", "Beta,Boston", "Gamma,Dallas"], end="\r")),
        ),
        Case(
            "csv/bom_crlf.csv",
            "csv_accounts",
            "a UTF-8 BOM before the header, CRLF line ends",
            [ok(title="Acme", attributes={"city": "Austin"})],
            _file("csv/bom_crlf.csv", codecs.BOM_UTF8 + _csv(["name,city", "Acme,Austin"], end="\r\n")),
        ),
        Case(
            "csv/no_name_column.csv",
            "csv_accounts",
            "not an account export: no name column in any delimiter",
            [quarantined("bad_header"), quarantined("bad_header")],
            _file("csv/no_name_column.csv", _csv(["company;city", "Acme;Austin", "Beta;Boston"])),
        ),
        Case(
            "csv/ragged_rows.csv",
            "csv_accounts",
            "rows with too few and too many fields",
            [quarantined("bad_row"), ok(title="Beta"), quarantined("bad_row")],
            _file("csv/ragged_rows.csv", _csv(["name,city", "Acme", "Beta,Boston", "Gamma,Dallas,extra"])),
        ),
        Case(
            "csv/blank_lines.csv",
            "csv_accounts",
            "blank lines before the header and between rows (not records)",
            [ok(title="Acme"), ok(title="Beta")],
            _file("csv/blank_lines.csv", _csv(["", "name,city", "Acme,Austin", "", "", "Beta,Boston", ""])),
        ),
        Case(
            "csv/nul_and_controls.csv",
            "csv_accounts",
            "a raw NUL and an ESC inside values: stripped",
            [ok(title="Acme", attributes={"city": "Austin"})],
            _file("csv/nul_and_controls.csv", b"name,city\nAc\x00me,\x1b[2JAustin\n"),
        ),
        Case(
            "csv/garbage_row.csv",
            "csv_accounts",
            "a row of bytes no charset reads, between good rows",
            [ok(title="Acme"), quarantined("undecodable"), ok(title="Beta")],
            _file(
                "csv/garbage_row.csv", b"name,city\nAcme,Austin\n" + bytes(range(0x80, 0x100)) + b",x\nBeta,Boston\n"
            ),
        ),
        Case(
            "csv/header_only.csv",
            "csv_accounts",
            "a header and nothing else",
            [],
            _file("csv/header_only.csv", b"name,city\n"),
        ),
        Case("csv/empty.csv", "csv_accounts", "an empty file", [], _file("csv/empty.csv", b"")),
    ]


def _mbox_cases() -> list[Case]:
    ok = accepted
    # A body that quotes an mbox separator line, unescaped.
    forwarded = b"Forwarding this:\nFrom bob@example.com Mon Jan  1 09:00:00 2001\nPlease quote 40 seats.\n"
    return [
        Case(
            "mbox/no_blank_before_separators.mbox",
            "mbox",
            "no blank line before any `From ` separator: three messages, not one",
            [
                ok(external_id="<m0@corpus.example>"),
                ok(external_id="<m1@corpus.example>"),
                ok(external_id="<m2@corpus.example>"),
            ],
            _file("mbox/no_blank_before_separators.mbox", b"".join(mail(n) for n in range(3))),
        ),
        Case(
            "mbox/one_missing_blank.mbox",
            "mbox",
            "one separator without the blank line before it, the others with",
            [
                ok(external_id="<m0@corpus.example>", text_lacks=["11 licences"]),
                ok(external_id="<m1@corpus.example>"),
                ok(),
            ],
            _file("mbox/one_missing_blank.mbox", mail(0) + mail(1) + b"\n" + mail(2) + b"\n"),
        ),
        Case(
            "mbox/unescaped_from_in_body.mbox",
            "mbox",
            "an unescaped body line starting `From ` after a blank line stays in its message",
            [
                ok(external_id="<m0@corpus.example>", text_contains=["From what I hear, the deal is on."]),
                ok(external_id="<m1@corpus.example>"),
            ],
            _file(
                "mbox/unescaped_from_in_body.mbox",
                mail(0, body=b"Hello,\n\nFrom what I hear, the deal is on.\n\nThanks\n") + b"\n" + mail(1) + b"\n",
            ),
        ),
        Case(
            "mbox/content_length.mbox",
            "mbox",
            "a Content-Length body holding a separator-shaped line: one message, the line kept",
            [
                ok(external_id="<m0@corpus.example>", text_contains=["From bob@example.com Mon Jan 1 09:00:00 2001"]),
                ok(external_id="<m1@corpus.example>"),
            ],
            _file(
                "mbox/content_length.mbox",
                mail(0, body=forwarded, headers=b"Content-Length: %d\n" % (len(forwarded) + 1)) + mail(1),
            ),
        ),
        Case(
            "mbox/content_length_wrong.mbox",
            "mbox",
            "a Content-Length that lies (longer than the body): ignored, the separators split",
            [ok(external_id="<m0@corpus.example>"), ok(external_id="<m1@corpus.example>")],
            _file("mbox/content_length_wrong.mbox", mail(0, headers=b"Content-Length: 5000\n") + b"\n" + mail(1)),
        ),
        Case(
            "mbox/mboxrd_escapes.mbox",
            "mbox",
            "mboxrd escapes: `>From ` gets its `>` back, `>>From ` keeps one",
            [ok(text_contains=["From the desk of Lee", ">From the archive"])],
            _file("mbox/mboxrd_escapes.mbox", mail(0, body=b"Note:\n>From the desk of Lee\n>>From the archive\n")),
        ),
        Case(
            "mbox/thunderbird_and_rfc_separators.mbox",
            "mbox",
            "separators `From - <asctime>` (Thunderbird), with a zone, and with an RFC 5322 date",
            [
                ok(external_id="<m0@corpus.example>"),
                ok(external_id="<m1@corpus.example>"),
                ok(external_id="<m2@corpus.example>"),
            ],
            _file(
                "mbox/thunderbird_and_rfc_separators.mbox",
                mail(0, separator=b"From - Mon Jan 01 10:00:00 2001\n")
                + mail(1, separator=b"From a@b.example Mon Jan  1 10:00:00 +0000 2001\n")
                + mail(2, separator=b"From a@b.example Mon, 1 Jan 2001 10:00:00 +0000\n"),
            ),
        ),
        Case(
            "mbox/loose_separators.mbox",
            "mbox",
            "`From x` separators with no date (the file's first line sets that style): read after blank lines",
            [ok(external_id="<m0@corpus.example>"), ok(external_id="<m1@corpus.example>")],
            _file(
                "mbox/loose_separators.mbox", mail(0, separator=b"From x\n") + b"\n" + mail(1, separator=b"From x\n")
            ),
        ),
        Case(
            "mbox/crlf.mbox",
            "mbox",
            "CRLF line ends throughout",
            [ok(external_id="<m0@corpus.example>", title="Quote request 0"), ok(external_id="<m1@corpus.example>")],
            _file("mbox/crlf.mbox", (mail(0) + b"\n" + mail(1)).replace(b"\n", b"\r\n")),
        ),
        Case(
            "mbox/truncated_in_headers.mbox",
            "mbox",
            "the file cut inside the headers of its last message (`Subj`)",
            [ok(external_id="<m0@corpus.example>"), quarantined("truncated_headers")],
            _file("mbox/truncated_in_headers.mbox", mail(0) + b"\n" + mail(1)[:120]),
        ),
        Case(
            "mbox/broken_header_block.mbox",
            "mbox",
            "a header block broken by a line that is not a header field",
            [quarantined("truncated_headers"), ok(external_id="<m1@corpus.example>")],
            _file(
                "mbox/broken_header_block.mbox",
                mail(0).replace(b"To: sales", b"garbage line\nTo: sales") + b"\n" + mail(1),
            ),
        ),
        Case(
            "mbox/charsets.mbox",
            "mbox",
            "latin-1 labelled UTF-8, UTF-8 labelled latin-1, windows-1252 labelled latin-1, no label, an unknown label",
            [
                ok(
                    text_contains=["Caf\u00e9 cr\u00e8me"],
                    attributes={"charset_repair": "fallback: declared utf-8, read as windows-1252"},
                ),
                ok(
                    text_contains=["Caf\u00e9 cr\u00e8me"],
                    text_lacks=["\u00c3"],
                    attributes={"charset_repair": "mojibake: declared iso-8859-1, the bytes are UTF-8"},
                ),
                ok(text_contains=["We\u2019re ready \u2013 send it"]),
                ok(text_contains=["Caf\u00e9"]),
                ok(text_contains=["Caf\u00e9"]),
            ],
            _file(
                "mbox/charsets.mbox",
                b"".join(
                    mail(
                        n,
                        body=body,
                        headers=b"Content-Type: text/plain; charset=%s\nContent-Transfer-Encoding: 8bit\n" % charset,
                    )
                    if charset
                    else mail(n, body=body, headers=b"Content-Transfer-Encoding: 8bit\n")
                    for n, (charset, body) in enumerate(
                        [
                            (
                                b"utf-8",
                                ("Please quote the Caf\u00e9 cr\u00e8me line for our stores. " * 3).encode("latin-1"),
                            ),
                            (b"iso-8859-1", "Please quote the Caf\u00e9 cr\u00e8me line.".encode()),
                            (b"iso-8859-1", "We\u2019re ready \u2013 send it.".encode("cp1252")),
                            (b"", "Caf\u00e9 order for Monday.".encode("latin-1")),
                            (b"x-unknown-8bit", "Caf\u00e9 order for Monday.".encode("latin-1")),
                        ]
                    )
                ),
            ),
        ),
        Case(
            "mbox/quoted_printable_guess.mbox",
            "mbox",
            "plain 7bit text with `key=AB12` and soft-break-like `=` line ends stays as written; real QP damage is decoded",
            [
                ok(text_contains=["key=AB12"], text_lacks=["\ufffd", "\u00ab"]),
                ok(text_contains=["prices to rise\nsharply in the second quarter"], text_lacks=["=20"]),
            ],
            _file(
                "mbox/quoted_printable_guess.mbox",
                mail(
                    0,
                    body=b"Settings for the pilot:\nkey=AB12\nmode=\nlevel=\n",
                    headers=b"Content-Transfer-Encoding: 7bit\n",
                )
                + mail(
                    1,
                    body=b"We expect prices to rise=20\nsharply in the sec=\nond quar=\nter.=20\n",
                    headers=b"Content-Transfer-Encoding: 7bit\n",
                ),
            ),
        ),
        Case(
            "mbox/dates.mbox",
            "mbox",
            "year 0001, a +05:30 zone, -0000, a two-digit year, no Date, garbage, after the import date, year 9999 past UTC",
            [
                quarantined("implausible_date"),
                ok(signal_date="2000-12-31"),
                ok(signal_date="2001-01-01"),
                ok(signal_date="2001-01-01"),
                quarantined("missing_date"),
                quarantined("bad_date"),
                quarantined("implausible_date"),
                quarantined("bad_date"),
                ok(signal_date="2000-12-31"),
            ],
            _file(
                "mbox/dates.mbox",
                b"".join(
                    mail(n, date=date)
                    for n, date in enumerate(
                        [
                            b"Mon, 01 Jan 0001 10:00:00 +0000",
                            b"Mon, 01 Jan 2001 02:00:00 +05:30",
                            b"Mon, 01 Jan 2001 10:00:00 -0000",
                            b"Mon, 01 Jan 01 10:00:00 +0000",
                            b"",
                            b"sometime last week",
                            b"Thu, 02 May 2024 09:00:00 +0000",
                            b"Fri, 31 Dec 9999 23:30:00 -0100",
                            b"Sun, 31 Dec 2000 23:00:00 +0000 (GMT)",
                        ]
                    )
                ),
            ),
        ),
        Case(
            "mbox/message_ids.mbox",
            "mbox",
            "Message-IDs with a colon (two distinct ones), with a space, empty `<>`, missing, without brackets",
            [
                ok(external_id="<order:1001@x.example>"),
                ok(external_id="<order:1002@x.example>"),
                ok(external_id="<ab@x.example>"),
                ok(external_id=""),
                ok(external_id=""),
                ok(external_id="bare-id@x.example"),
            ],
            _file(
                "mbox/message_ids.mbox",
                b"".join(
                    mail(n, message_id=mid)
                    for n, mid in enumerate(
                        [
                            b"<order:1001@x.example>",
                            b"<order:1002@x.example>",
                            b"<a b@x.example>",
                            b"<>",
                            b"",
                            b"bare-id@x.example",
                        ]
                    )
                ),
            ),
        ),
        Case(
            "mbox/control_characters.mbox",
            "mbox",
            "NUL bytes and terminal escapes in the Subject and the body: stripped",
            [ok(title="Quote request", text_contains=["Please quote 10 seats."], text_lacks=["\x00", "\x1b"])],
            _file(
                "mbox/control_characters.mbox",
                mail(0, subject=b"Quote\x00 \x1b[31mrequest", body=b"Please\x00 quote \x1b]0;pwned\x0710 seats.\n"),
            ),
        ),
        Case(
            "mbox/encoded_headers.mbox",
            "mbox",
            "RFC 2047 Subjects (UTF-8 base64, latin-1 Q) and a raw UTF-8 Subject",
            [
                ok(title="R\u00e9union \u00e0 Paris"),
                ok(title="Caf\u00e9 order"),
                ok(title="Gr\u00fc\u00dfe aus M\u00fcnchen"),
            ],
            _file(
                "mbox/encoded_headers.mbox",
                mail(0, subject=b"=?utf-8?b?" + base64.b64encode("R\u00e9union \u00e0 Paris".encode()) + b"?=")
                + mail(1, subject=b"=?iso-8859-1?q?Caf=E9_order?=")
                + mail(2, subject="Gr\u00fc\u00dfe aus M\u00fcnchen".encode()),
            ),
        ),
        Case(
            "mbox/mime_bodies.mbox",
            "mbox",
            "a base64 UTF-8 body, an HTML-only body with a script, a multipart with an attachment",
            [
                ok(text_contains=["Angebot f\u00fcr 40 Lizenzen"]),
                ok(text="Prices rose 3%.\n\nRead more & reply.", text_lacks=["alert"]),
                ok(text_contains=["See the attached brief."], attributes={"has_attachments": True}),
            ],
            _file(
                "mbox/mime_bodies.mbox",
                mail(
                    0,
                    body=base64.encodebytes("Bitte senden Sie ein Angebot f\u00fcr 40 Lizenzen.".encode()),
                    headers=b"MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n",
                )
                + mail(
                    1,
                    body=b"<html><head><script>alert(1)</script></head><body><p>Prices rose 3%.</p><p>Read more &amp; reply.</p></body></html>",
                    headers=b"MIME-Version: 1.0\nContent-Type: text/html; charset=utf-8\n",
                )
                + mail(
                    2,
                    body=b"--XX\nContent-Type: text/plain; charset=utf-8\n\nSee the attached brief.\n--XX\n"
                    b"Content-Type: application/pdf\nContent-Disposition: attachment; filename=brief.pdf\n"
                    b"Content-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n--XX--\n",
                    headers=b'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="XX"\n',
                ),
            ),
        ),
        Case(
            "mbox/empty_and_undecodable_bodies.mbox",
            "mbox",
            "a body of whitespace only, a signature only, a body of bytes no charset reads",
            [quarantined("empty_body"), quarantined("empty_body"), quarantined("undecodable")],
            _file(
                "mbox/empty_and_undecodable_bodies.mbox",
                mail(0, body=b" \n\t\n")
                + mail(1, body=b"-- \nLee Wong\nSales\n")
                + mail(
                    2, body=b"ok " + bytes(range(0x80, 0xC0)) * 2, headers=b"Content-Type: text/plain; charset=utf-8\n"
                ),
            ),
        ),
        Case(
            "mbox/not_an_mbox.mbox",
            "mbox",
            "plain text with no separator and no header block",
            [quarantined("truncated_headers")],
            _file("mbox/not_an_mbox.mbox", b"just some notes\nwith no headers at all\n"),
        ),
        Case(
            "mbox/only_blank_lines.mbox",
            "mbox",
            "nothing but blank lines: no records",
            [],
            _file("mbox/only_blank_lines.mbox", b"\n\n\r\n\n"),
        ),
        Case(
            "mbox/huge_subject.mbox",
            "mbox",
            "a 1 MB Subject: cut before parsing (the parse is quadratic), the title capped and flagged",
            [
                ok(external_id="<m0@corpus.example>", attributes={"headers_cut": ["Subject"]}, title_length=1000),
                ok(external_id="<m1@corpus.example>"),
            ],
            _file("mbox/huge_subject.mbox", mail(0, subject=b"word " * 210_000) + mail(1)),
            at_test_time=True,
        ),
        Case(
            "mbox/huge_to.mbox",
            "mbox",
            "a To: of 60,000 addresses: cut at an address boundary, the message read",
            [
                ok(
                    external_id="<m0@corpus.example>",
                    attributes={"headers_cut": ["To"], "to": [f"p{i}@big.example" for i in range(5)]},
                )
            ],
            _file(
                "mbox/huge_to.mbox",
                mail(0).replace(
                    b"To: sales@leadflow.example", b"To: " + b", ".join(b"p%d@big.example" % i for i in range(60_000))
                ),
            ),
            at_test_time=True,
        ),
    ]


def _other_cases() -> list[Case]:
    """Maildir, .eml, dropped import files and whole-source failures."""
    ok = accepted
    bad_name = "caf\udce9"  # the byte 0xE9 of a latin-1 file name, as os.listdir gives it
    return [
        Case(
            "maildir/inbox",
            "maildir",
            "a maildir with cur/ and new/, a dot file (not read), a message without a date",
            [ok(external_id="<m0@corpus.example>"), quarantined("missing_date"), ok(external_id="<m2@corpus.example>")],
            _files(
                {
                    "maildir/inbox/cur/1000000001.M1P1.host:2,S": mail(0, separator=b""),
                    "maildir/inbox/cur/1000000002.M2P2.host:2,": mail(1, separator=b"", date=b""),
                    "maildir/inbox/new/1000000003.M3P3.host": mail(2, separator=b""),
                    "maildir/inbox/new/.hidden": b"not mail",  # (tmp/ is git-ignored: tests/ingest covers it)
                }
            ),
        ),
        Case(
            "maildir/latin1_names",
            "maildir",
            "a maildir file whose name holds a byte that is not UTF-8",
            [ok(external_id="<m0@corpus.example>", position="maildir/latin1_names/cur/caf\\xe9:2,S")],
            _file(f"maildir/latin1_names/cur/{bad_name}:2,S", mail(0, separator=b"")),
            at_test_time=True,
        ),
        Case(
            "eml/truncated.eml",
            "eml",
            "an .eml cut inside its headers",
            [quarantined("truncated_headers")],
            _file("eml/truncated.eml", mail(0, separator=b"")[:90]),
        ),
        Case(
            "eml/folder.eml",
            "eml",
            "a folder named like an .eml file",
            [quarantined("unreadable")],
            _file("eml/folder.eml/inside.txt", b"x"),
            at_test_time=True,
        ),
        Case(
            f"imports/{bad_name}.csv",
            "import",
            "a dropped CSV whose file name holds a byte that is not UTF-8 (source name `import:caf\\xe9.csv`)",
            [ok(title="Acme", source="import:caf\\xe9.csv")],
            _file(f"imports/{bad_name}.csv", b"name,city\nAcme,Austin\n"),
            at_test_time=True,
        ),
        Case(
            f"imports/{bad_name}.jsonl",
            "import",
            "a dropped JSONL with such a name",
            [ok(external_id="1", position_endswith="imports/caf\\xe9.jsonl#0")],
            _file(f"imports/{bad_name}.jsonl", job("1", "A") + b"\n"),
            at_test_time=True,
        ),
        Case(
            "missing/gone.mbox",
            "mbox",
            "a source whose file does not exist",
            [quarantined("source_error")],
            lambda root: None,
            at_test_time=True,
        ),
        Case(
            "mbox/folder.mbox",
            "mbox",
            "an mbox source that is a folder",
            [quarantined("source_error")],
            _file("mbox/folder.mbox/inside.txt", b"x"),
            at_test_time=True,
        ),
    ]


def cases() -> list[Case]:
    """Every case of the corpus, committed and written at test time."""
    return [*_jsonl_cases(), *_csv_cases(), *_mbox_cases(), *_other_cases()]


def expectations() -> dict[str, Any]:
    return {
        "import_date": IMPORT_DATE,
        "cases": [
            {"path": c.path, "format": c.format, "about": c.about, "at_test_time": c.at_test_time, "records": c.records}
            for c in cases()
        ],
    }


def write_corpus(root: Path, *, at_test_time: bool) -> None:
    """Write the committed cases (or those written at test time) under `root`."""
    for case in cases():
        if case.at_test_time == at_test_time:
            case.write(root)


def main() -> None:
    import shutil

    shutil.rmtree(FILES, ignore_errors=True)
    write_corpus(FILES, at_test_time=False)
    EXPECTED.write_text(json.dumps(expectations(), indent=1, ensure_ascii=True) + "\n", encoding="utf-8")
    size = sum(p.stat().st_size for p in FILES.rglob("*") if p.is_file())
    print(f"wrote {len(cases())} cases ({size} bytes committed) to {FILES} and {EXPECTED}", file=sys.stderr)


if __name__ == "__main__":
    main()
