"""The README's configuration table, rendered from the resource fields that declare each setting.

`python -m leadflow.config_docs` rewrites the table in README.md (between the markers);
`--check` only says whether it is current (tests/defs/test_settings.py checks the same).
"""

import argparse
import sys
from pathlib import Path
from typing import Any

from leadflow.defs.resources import RESOURCE_CLASSES, env_var, is_setting
from leadflow.paths import PROJECT_ROOT

START = "<!-- config-table:start -->"
END = "<!-- config-table:end -->"


def _default(value: Any) -> str:
    if value == "":
        return "*empty*"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float):
        return f"`{value:g}`"
    return f"`{value}`"


def config_table() -> str:
    """One row per setting: environment variable (— = code or run config only), field, default, meaning."""
    rows = ["| variable | resource field | default | meaning |", "|---|---|---|---|"]
    for key, resource in RESOURCE_CLASSES.items():
        for name, info in resource.model_fields.items():
            if not is_setting(info):
                continue
            var = env_var(info)
            meaning = (info.description or "").replace("|", "\\|")
            rows.append(f"| {f'`{var}`' if var else '—'} | `{key}.{name}` | {_default(info.default)} | {meaning} |")
    return "\n".join(rows)


def replace_marked(text: str, start: str, end: str, body: str) -> str:
    """`text` with what lies between the `start` and `end` marker lines replaced by `body`
    (the README's generated parts: this table, the benchmark figures of `bench.report`)."""
    head, found_start, rest = text.partition(start)
    _, found_end, tail = rest.partition(end)
    if not found_start or not found_end:
        raise ValueError(f"the text lacks the {start} / {end} markers")
    return f"{head}{start}\n{body}\n{end}{tail}"


def with_table(readme: str) -> str:
    """`readme` with the text between the markers replaced by the current table."""
    return replace_marked(readme, START, END, config_table())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if README.md's table is out of date")
    parser.add_argument("--readme", type=Path, default=PROJECT_ROOT / "README.md")
    args = parser.parse_args(argv)
    text = args.readme.read_text(encoding="utf-8")
    current = with_table(text)
    if args.check:
        sys.exit(0 if current == text else 1)
    args.readme.write_text(current, encoding="utf-8")


if __name__ == "__main__":
    main()
