"""What a spreadsheet does to a cell: formulas it would run (CSV injection) and numbers an Excel
round trip damaged. Used by the CSV parser on the way in and by exporters on the way out."""

import re

# A cell starting with one of these may be evaluated as a formula by Excel, LibreOffice or
# Google Sheets (OWASP "CSV Injection"): `=cmd|' /C calc'!A0`, `@SUM(...)`, `+HYPERLINK(...)`.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n")
# What is a formula, not data: `=` anything, or a prefix then a function call, a DDE command
# (`cmd|`) or a sheet reference (`Sheet1!A1`). "+1 (555) 0100" and "@Home Network" are data.
_FORMULA = re.compile(r"\s*(?:=|[+\-@]\s*[A-Za-z_][\w.]*\s*[(|!])")
# Error tokens Excel writes for a formula it could not compute or a number too wide for its column.
_ERROR_TOKEN = re.compile(r"#+|#NAME\?|#VALUE!|#REF!|#DIV/0!|#N/A|#NUM!|#NULL!")
# A number shown in Excel's scientific format ("1.23457E+17", "2.01E+03"): its digits past the
# mantissa are gone from the file.
_SCIENTIFIC = re.compile(r"[+-]?\d(?:\.\d+)?E[+-]?\d+", re.IGNORECASE)
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:E[+-]?\d+)?", re.IGNORECASE)


def neutralize_formula(value: str) -> str:
    """The value as a spreadsheet shows it, never runs it: a leading `'` before a formula
    prefix. Idempotent (a neutralized value starts with `'`), and a plain number stays a number."""
    if value.startswith(FORMULA_PREFIXES) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def is_formula(value: str) -> bool:
    """True for a cell that holds a formula rather than data (a value `neutralize_formula`
    quotes may still be data: a phone number, a handle, a negative amount)."""
    return _FORMULA.match(value) is not None


def is_error_token(value: str) -> bool:
    """True for `#NAME?`, `#REF!`, `#####` and the other tokens Excel leaves for a lost value."""
    return _ERROR_TOKEN.fullmatch(value) is not None


def is_scientific(value: str) -> bool:
    """True for a number in scientific notation, how Excel shows (and saves) a long number."""
    return _SCIENTIFIC.fullmatch(value) is not None
