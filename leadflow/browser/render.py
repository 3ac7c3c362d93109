"""One Jinja2 environment for the browser's pages and the static report: templates from files,
every value autoescaped (signal text is untrusted), an undefined name an error."""

from functools import cache
from pathlib import Path

import jinja2

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
STYLESHEET = "browser.css"


def _title(section: str) -> str:
    """`icp_fit` -> "ICP fit"."""
    return section.replace("_", " ").capitalize().replace("Icp", "ICP")


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["section_title"] = _title
    return env


def render(template: str, **context: object) -> str:
    return environment().get_template(template).render(**context)


def stylesheet() -> str:
    """The stylesheet's text, inlined into the report (a file that opens on its own)."""
    return (STATIC / STYLESHEET).read_text(encoding="utf-8")
