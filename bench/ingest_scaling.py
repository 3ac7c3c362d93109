"""Daily ingest as the archive grows: `raw_signals`' reading (`place_records`) of one day of an
mbox archive at 1x and 4x its size, without the ingest index (a full parse, as before) and
through it (cold: the first run indexes; warm: the index is used as is; grown: a day of new
mail appended, indexed from the old end, then that day read).

The 1x archive is the 600-message Enron mbox (`../shared/data/emails/enron_600.mbox`, fallback:
the bundled sample); 4x is four copies, each copy's dates moved 6 years on (1997-2002,
2003-2008, ...) and its Message-IDs made its own, so a day holds the same mail at every size.
Targets: the warm and grown daily runs stay flat (4x within 1.5x of 1x, the noise of a shared
machine), the full parse grows with the archive.

    .venv/bin/python -m bench.ingest_scaling [--scales 1,4] [--repeats 3] [--out bench/results]
"""

import argparse
import datetime
import email.utils
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from bench.results_file import save_results
from leadflow.defs.partitions import daily_partitions
from leadflow.ingest.emails import iter_mbox_messages, message_facts
from leadflow.ingest.placement import Placement, place_records
from leadflow.ingest.source_index import SourceIndex
from leadflow.ingest.sources import SourceSpec
from leadflow.paths import PROJECT_ROOT, RESOURCES_DIR

SHARED_MBOX = PROJECT_ROOT.parent / "shared" / "data" / "emails" / "enron_600.mbox"
IMPORT = datetime.date(2026, 11, 20)
NEW_DAY = datetime.date(2026, 11, 19)  # the day of the appended mail
YEARS_PER_COPY = 6
APPENDED = 10
FLAT_RATIO = 1.5
_DATE = re.compile(rb"^Date:[^\n]*\n", re.MULTILINE | re.IGNORECASE)
_MESSAGE_ID = re.compile(rb"^(Message-ID:\s*<)([^>]*)>", re.MULTILINE | re.IGNORECASE)
_SEPARATOR = b"From bench@example.com Mon Jan  1 00:00:00 2001\n"


def _header_end(raw: bytes) -> int:
    end = raw.find(b"\n\n")
    return len(raw) if end < 0 else end


def _redated(raw: bytes, copy: int, when: datetime.datetime | None = None) -> bytes:
    """The message as copy `copy` holds it: dated `when` or its own date moved on, its own id."""
    head_end = _header_end(raw)
    head, body = raw[:head_end], raw[head_end:]

    def date(match: re.Match[bytes]) -> bytes:
        try:
            sent = when or email.utils.parsedate_to_datetime(match[0][5:].decode("ascii", "replace").strip())
        except (TypeError, ValueError):
            return match[0]
        moved = sent if when else sent.replace(year=sent.year + YEARS_PER_COPY * copy, day=min(sent.day, 28))
        return f"Date: {email.utils.format_datetime(moved)}\n".encode()

    head = _DATE.sub(date, head + b"\n", count=1)[:-1]
    head = _MESSAGE_ID.sub(rb"\1\2.copy%d>" % copy, head, count=1)
    return head + body


def build_archive(path: Path, messages: list[bytes], copies: int) -> None:
    with path.open("wb") as f:
        for copy in range(copies):
            for raw in messages:
                f.write(_SEPARATOR + (_redated(raw, copy) if copy else raw))


def _timed(fn: Callable[[], Placement]) -> tuple[float, Placement]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def measure(messages: list[bytes], day: datetime.date, copies: int, repeats: int, work: Path) -> dict:
    path = work / f"archive_{copies}x.mbox"
    build_archive(path, messages, copies)
    spec = SourceSpec(name="archive", format="mbox", path=str(path), import_date=IMPORT)
    first = daily_partitions.start.date()
    sources = [(spec, IMPORT)]
    index = SourceIndex(work / f"index_{copies}x.sqlite")
    full_s, full = _timed(lambda: place_records(sources, work, {day}, first))
    cold_s, _ = _timed(lambda: place_records(sources, work, {day}, first, index=index))
    warm = [_timed(lambda: place_records(sources, work, {day}, first, index=index)) for _ in range(repeats)]
    placed = warm[-1][1]
    assert placed.signals == full.signals and placed.rejects == full.rejects  # same records as a full parse
    when = datetime.datetime.combine(NEW_DAY, datetime.time(12), tzinfo=datetime.UTC)
    grown: list[float] = []
    for n in range(repeats):  # a day of new mail each time, read the day it arrives
        with path.open("ab") as f:
            for raw in messages[n * APPENDED : (n + 1) * APPENDED]:
                f.write(_SEPARATOR + _redated(raw, copies + n, when))
        seconds, new = _timed(lambda: place_records(sources, work, {NEW_DAY}, first, index=index))
        grown.append(seconds)
    tally = placed.tallies["archive"]
    return {
        "copies": copies,
        "messages": tally.read,
        "mbox_mb": round(path.stat().st_size / 2**20, 1),
        "day": day.isoformat(),
        "day_signals": len(placed.signals),
        "full_parse_s": round(full_s, 3),
        "cold_index_s": round(cold_s, 3),
        "warm_daily_s": round(statistics.median(s for s, _ in warm), 4),
        "grown_daily_s": round(statistics.median(grown), 4),
        "warm_parsed": tally.read - tally.skipped,
        "warm_skipped": tally.skipped,
        "grown_signals_last": len(new.signals),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest_scaling", description=__doc__)
    parser.add_argument("--scales", default="1,4", help="archive sizes, in copies of the 1x archive")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--mbox", type=Path, default=SHARED_MBOX if SHARED_MBOX.is_file() else None)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = parser.parse_args(argv)
    source = args.mbox or RESOURCES_DIR / "samples" / "enron_sample.mbox"
    messages = list(iter_mbox_messages(source))
    days = Counter(facts.date for facts in map(message_facts, messages) if facts.date is not None)
    day = days.most_common(1)[0][0]
    scales = [int(s) for s in args.scales.split(",")]
    with tempfile.TemporaryDirectory(prefix="leadflow-ingest-bench-") as work:
        rows = [measure(messages, day, copies, args.repeats, Path(work)) for copies in scales]
    base, top = rows[0], rows[-1]
    ratios = {
        key: round(top[key] / base[key], 2) for key in ("full_parse_s", "cold_index_s", "warm_daily_s", "grown_daily_s")
    }
    results = {
        "source": str(source),
        "rows": rows,
        f"ratio_{scales[-1]}x_over_{scales[0]}x": ratios,
        "target": f"warm and grown daily runs within {FLAT_RATIO}x from {scales[0]}x to {scales[-1]}x",
        "target_met": ratios["warm_daily_s"] <= FLAT_RATIO and ratios["grown_daily_s"] <= FLAT_RATIO,
    }
    for row in rows:
        print(row)
    print(ratios, "target met" if results["target_met"] else "target missed")
    print(save_results(results, args.out, "ingest_scaling"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
