"""`python -m bench [--quick] [--scale N]`: run the benchmark suite and write bench/results/<UTC>.json/.md."""

import argparse
import shlex
import sys
from pathlib import Path

from bench.runner import Config, run, write_results

PHASES = ("raw", "naive", "w2", "overhead", "rss")


def _ints(value: str) -> tuple[int, ...]:
    return tuple(int(x) for x in value.split(",") if x.strip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="multiply workload sizes (default 1: ~10 min on an idle 2-core machine)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="small smoke run (a few minutes: every phase, tiny sizes), ignores --scale"
    )
    parser.add_argument("--naive-signals", type=int, help="W1 signals the naive pipeline processes (default 2 x scale)")
    parser.add_argument(
        "--w1-unique", type=int, help="unique postings in W1 (default 20 x scale; 70 %% repeats are added)"
    )
    parser.add_argument(
        "--w2-days",
        type=int,
        help="daily partitions W2 backfills: the archive's busiest window "
        "(default 60 x scale; 0 = every day the archive spans)",
    )
    parser.add_argument(
        "--overhead-days", type=int, help="empty partitions in the overhead backfill (default 60 x scale)"
    )
    parser.add_argument(
        "--raw-concurrency",
        type=_ints,
        help="concurrencies the raw engine tries for the small model, e.g. 1,2,4 (default)",
    )
    parser.add_argument(
        "--raw-concurrency-big",
        type=_ints,
        help="... and for the big (dossier) model (default 1,2; 1,2,4 above --scale 1)",
    )
    parser.add_argument(
        "--skip",
        type=lambda v: tuple(x for x in v.split(",") if x),
        default=(),
        help=f"comma-separated phases to skip: {', '.join(PHASES)}",
    )
    parser.add_argument(
        "--data-dir",
        help="data root holding jobs/emscad_250.jsonl and emails/enron_600.mbox, e.g. ../shared/data "
        "(default: the bundled data every clone has, bench/data/ATTRIBUTION.md)",
    )
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"), help="results directory")
    parser.add_argument("--workdir", help="keep work files here (default: a temp dir, deleted after the run)")
    parser.add_argument("--keep-workdir", action="store_true", help="do not delete the temp work directory")
    parser.add_argument(
        "--render",
        metavar="RESULTS_JSON",
        help="only recompute figures/targets of a results JSON and rewrite its .md next to it",
    )
    args = parser.parse_args(argv)
    if args.render:
        return _render(Path(args.render))
    unknown = set(args.skip) - set(PHASES)
    if unknown:
        parser.error(f"unknown phase(s) to skip: {', '.join(sorted(unknown))}")
    command = " ".join([".venv/bin/python -m bench", *map(shlex.quote, argv if argv is not None else sys.argv[1:])])
    cfg = Config.build(
        scale=args.scale,
        quick=args.quick,
        naive_signals=args.naive_signals,
        w1_unique=args.w1_unique,
        w2_days=args.w2_days,
        overhead_days=args.overhead_days,
        raw_concurrency=args.raw_concurrency,
        raw_concurrency_big=args.raw_concurrency_big,
        data_dir=args.data_dir,
        out_dir=args.out,
        workdir=args.workdir,
        keep_workdir=args.keep_workdir,
        skip=args.skip,
        command=command,
    )
    results = run(cfg)
    json_path, md_path, markdown = write_results(results, Path(cfg.out_dir))
    print(markdown)
    print(f"wrote {json_path} and {md_path}", file=sys.stderr)
    return 1 if results.get("error") else 0


def _render(json_path: Path) -> int:
    import json

    from bench.report import figures, render_markdown

    results = json.loads(json_path.read_text())
    results["figures"], results["targets"] = figures(results)
    json_path.write_text(json.dumps(results, indent=2, default=str))
    markdown = render_markdown(results, json_path.name)
    json_path.with_suffix(".md").write_text(markdown)
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
