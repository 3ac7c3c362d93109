"""The hostile corpus (tests/corpus): every input read through `read_source_safely`, nothing
escapes, nothing is lost, each record accepted intact or quarantined with the expected reason.

The summary table for a closing note: `.venv/bin/python -m tests.corpus.harness`, or this
file with `-s` (test_summary prints it).
"""

import filecmp
import json

import pytest

from tests.corpus.harness import Outcome, load_expectations, read_corpus, summary_table
from tests.corpus.make_corpus import EXPECTED, FILES, expectations, write_corpus

CASES = [case["path"] for case in load_expectations()["cases"]]


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory) -> dict[str, Outcome]:
    """Every case read once (the at-test-time ones written to a temporary folder first)."""
    return {o.path: o for o in read_corpus(tmp_path_factory.mktemp("corpus"))}


def test_the_committed_corpus_is_what_the_generator_writes(tmp_path):
    write_corpus(tmp_path, at_test_time=False)
    written = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    committed = sorted(p.relative_to(FILES) for p in FILES.rglob("*") if p.is_file())
    assert written == committed
    _, mismatch, errors = filecmp.cmpfiles(tmp_path, FILES, [str(p) for p in written], shallow=False)
    assert (mismatch, errors) == ([], [])
    assert json.loads(EXPECTED.read_text(encoding="utf-8")) == json.loads(json.dumps(expectations()))
    assert sum((FILES / p).stat().st_size for p in committed) < 200_000


@pytest.mark.parametrize("path", CASES, ids=[p.encode("utf-8", "backslashreplace").decode() for p in CASES])
def test_case(outcomes, path):
    outcome = outcomes[path]
    assert outcome.escaped == [], f"exceptions escaped: {outcome.escaped}"
    assert outcome.lost == 0
    assert outcome.accepted + outcome.quarantined == outcome.expected
    assert outcome.mismatches == []


def test_huge_headers_are_read_in_linear_time(outcomes):
    # A 1 MB Subject took 10.7 s in the stdlib parser; cut before parsing it is a fraction of that.
    assert outcomes["mbox/huge_subject.mbox"].seconds < 2
    assert outcomes["mbox/huge_to.mbox"].seconds < 2


def test_summary(outcomes):
    table = summary_table(list(outcomes.values()))
    print("\n" + table)
    total = table.splitlines()[-1]
    cells = [cell.strip() for cell in total.strip("|").split("|")]
    files, records, accepted, quarantined, lost, escaped, wrong = map(int, cells[1:])
    assert files == len(CASES) and records == accepted + quarantined
    assert (lost, escaped, wrong) == (0, 0, 0)
