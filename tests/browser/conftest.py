"""Headless Debian Chromium (`make setup-browser`: /usr/bin/chromium, never a browser download)
driven by Playwright, shared by the browser tests; `LEADFLOW_SCREENSHOTS=docs` also copies each
test's screenshots into docs/ for the README."""

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from leadflow.paths import PROJECT_ROOT

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield chromium
        chromium.close()


def screenshot(page: Page, tmp_path: Path, name: str) -> None:
    """A PNG of the page, into docs/ too when LEADFLOW_SCREENSHOTS=docs."""
    path = tmp_path / name
    page.screenshot(path=str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("LEADFLOW_SCREENSHOTS") == "docs":
        shutil.copy(path, PROJECT_ROOT / "docs" / name)
