"""Reads each corpus case through the public never-raising entry point, `read_source_safely`
(a dropped import through `spec_for_file`, as the imports folder does), compares every record
with its expectation, and sums the outcomes into the table of the closing note.

    .venv/bin/python -m tests.corpus.harness         # print the table (exit 1 on any failure)
"""

import datetime
import json
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from leadflow.ingest import Reason, Rejection, Signal, SourceSpec, read_source_safely
from leadflow.ingest.records import EXCERPT_CHARS, reason_code
from leadflow.ingest.sources import spec_for_file
from tests.corpus.make_corpus import EXPECTED, FILES, write_corpus

REASON_CODES = frozenset(Reason)
_CONTROL = frozenset(chr(c) for c in [*range(0x00, 0x09), *range(0x0E, 0x20), *range(0x7F, 0xA0)])


@dataclass
class Outcome:
    """What reading one case gave, against what it should have."""

    path: str
    format: str
    expected: int
    accepted: int = 0
    quarantined: int = 0
    escaped: list[str] = field(default_factory=list)  # exception types that left the entry point
    mismatches: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def lost(self) -> int:
        return max(0, self.expected - self.accepted - self.quarantined)


def load_expectations() -> dict[str, Any]:
    return json.loads(EXPECTED.read_text(encoding="utf-8"))


def read_case(case: dict[str, Any], root: Path, import_date: datetime.date) -> Outcome:
    """Read one case under `root` and check each record against its expectation."""
    outcome = Outcome(path=case["path"], format=case["format"], expected=len(case["records"]))
    if case["format"] == "import":
        spec = spec_for_file(root / case["path"])
    else:
        spec = SourceSpec(name=f"corpus:{case['path']}", format=case["format"], path=case["path"])
    started = time.perf_counter()
    records: list[Signal | Rejection] = []
    try:
        records.extend(read_source_safely(spec, import_date, root))
    except Exception as exc:  # what the harness exists to catch
        outcome.escaped.append(type(exc).__name__)
    outcome.seconds = time.perf_counter() - started
    outcome.accepted = sum(isinstance(r, Signal) for r in records)
    outcome.quarantined = sum(isinstance(r, Rejection) for r in records)
    if len(records) > outcome.expected:
        outcome.mismatches.append(f"{len(records)} records read, {outcome.expected} expected")
    positions = [r.position for r in records]
    if len(set(positions)) != len(positions):
        outcome.mismatches.append("two records share a position")
    for n, (record, expected) in enumerate(zip(records, case["records"], strict=False)):
        outcome.mismatches.extend(f"record {n}: {problem}" for problem in _problems(record, expected))
    return outcome


def _problems(record: Signal | Rejection, expected: dict[str, Any]) -> list[str]:
    problems = _storable(record)
    if isinstance(record, Rejection):
        code = reason_code(record.reason)
        if "accepted" in expected:
            return [*problems, f"accepted expected, quarantined as {record.reason!r}"]
        if code != expected["quarantined"]:
            problems.append(f"reason {record.reason!r}, expected {expected['quarantined']}")
        if code not in REASON_CODES or not record.reason.partition(":")[2].strip():
            problems.append(f"reason {record.reason!r} is not '<known code>: <detail>'")
        if len(record.excerpt) > EXCERPT_CHARS:
            problems.append("excerpt over the excerpt limit")
        return problems
    if "quarantined" in expected:
        return [*problems, f"quarantined ({expected['quarantined']}) expected, accepted"]
    if not record.text.strip() or len(record.signal_id) != 20:
        problems.append("accepted without text or without a 20-character id")
    for name, want in expected["accepted"].items():
        got = _field(record, name, want)
        if got is not None:
            problems.append(f"{name}: {got}")
    return problems


def _field(signal: Signal, name: str, want: Any) -> str | None:
    """Why the Signal does not match the expectation `name: want`, or None."""
    match name:
        case "text_contains":
            missing = [s for s in want if s not in signal.text]
            return f"text lacks {missing!r}" if missing else None
        case "text_lacks":
            present = [s for s in want if s in signal.text or s in signal.title]
            return f"text holds {present!r}" if present else None
        case "attributes":
            wrong = {
                k: signal.attributes.get(k, "<absent>")
                for k, v in want.items()
                if signal.attributes.get(k, "<absent>") != v
            }
            return f"got {wrong!r}, expected {want!r}" if wrong else None
        case "title_length":
            return None if len(signal.title) == want else f"{len(signal.title)} != {want}"
        case "position_endswith":
            return None if signal.position.endswith(want) else f"{signal.position!r} does not end with {want!r}"
        case _:
            got = getattr(signal, name)
            got = str(got) if isinstance(got, datetime.date) else got
            return None if got == want else f"{got!r} != {want!r}"


def _storable(record: Signal | Rejection) -> list[str]:
    """Every text field must be storable (valid UTF-8) and free of control characters."""
    texts = [record.source, record.position, record.excerpt if isinstance(record, Rejection) else record.text]
    if isinstance(record, Signal):
        texts += [record.title, record.external_id, record.company, json.dumps(record.attributes)]
    problems = []
    for text in texts:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            problems.append("a field is not valid UTF-8 (lone surrogate)")
        if _CONTROL.intersection(text):
            problems.append(f"a field holds a control character: {sorted(_CONTROL.intersection(text))!r}")
    return problems


def read_corpus(runtime_root: Path) -> list[Outcome]:
    """Every case: the committed ones from tests/corpus/files, the others written under
    `runtime_root` first."""
    expectations = load_expectations()
    import_date = datetime.date.fromisoformat(expectations["import_date"])
    write_corpus(runtime_root, at_test_time=True)
    return [
        read_case(case, runtime_root if case["at_test_time"] else FILES, import_date) for case in expectations["cases"]
    ]


def summary_table(outcomes: list[Outcome]) -> str:
    """Markdown: per format and in total, inputs tried, records, accepted, quarantined, lost,
    exceptions escaped, records not as expected."""
    groups: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        groups.setdefault(outcome.format, []).append(outcome)
    header = "| inputs | files | records | accepted | quarantined | lost | exceptions escaped | not as expected |"
    rows = [header, "|" + "---|" * 8]
    for name, group in [*groups.items(), ("**total**", outcomes)]:
        rows.append(
            f"| {name} | {len(group)} | {sum(o.expected for o in group)} | {sum(o.accepted for o in group)} "
            f"| {sum(o.quarantined for o in group)} | {sum(o.lost for o in group)} "
            f"| {sum(len(o.escaped) for o in group)} | {sum(len(o.mismatches) for o in group)} |"
        )
    return "\n".join(rows)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        outcomes = read_corpus(Path(tmp))
    print(summary_table(outcomes))
    failed = [o for o in outcomes if o.lost or o.escaped or o.mismatches]
    for outcome in failed:
        print(f"{outcome.path}: lost {outcome.lost}, escaped {outcome.escaped}, {outcome.mismatches}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
