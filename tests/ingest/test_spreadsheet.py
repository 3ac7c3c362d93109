"""Formula cells and Excel's number damage."""

import pytest

from leadflow.ingest.spreadsheet import is_error_token, is_formula, is_scientific, neutralize_formula


@pytest.mark.parametrize(
    ("value", "formula", "neutralized"),
    [
        ("=cmd|' /C calc'!A0", True, "'=cmd|' /C calc'!A0"),
        ('=HYPERLINK("http://evil.example","x")', True, '\'=HYPERLINK("http://evil.example","x")'),
        ("@SUM(A1:A9)", True, "'@SUM(A1:A9)"),
        ("-cmd|' /C calc'!A0", True, "'-cmd|' /C calc'!A0"),
        ("+Sheet1!A1", True, "'+Sheet1!A1"),
        # Data a spreadsheet would still evaluate: not a formula, but quoted on export.
        ("+1 (555) 0100", False, "'+1 (555) 0100"),
        ("@Home Network", False, "'@Home Network"),
        ("\t=1+1", True, "'\t=1+1"),
        # Numbers and plain text pass.
        ("-5", False, "-5"),
        ("+2.5E+06", False, "+2.5E+06"),
        ("Acme", False, "Acme"),
        ("'=already quoted", False, "'=already quoted"),
    ],
)
def test_formulas(value, formula, neutralized):
    assert is_formula(value) is formula
    assert neutralize_formula(value) == neutralized
    assert neutralize_formula(neutralize_formula(value)) == neutralized  # idempotent


def test_excel_damage():
    assert all(is_error_token(v) for v in ("#NAME?", "#REF!", "#####", "#N/A"))
    assert not is_error_token("#waywire")
    assert all(is_scientific(v) for v in ("1.23457E+17", "2.01E+03", "2.5e+06"))
    assert not any(is_scientific(v) for v in ("2012", "1750000", "E+03"))
