"""The prompt library re-reads an edited template, looking at its file at most once per
`recheck_s` (a cache hit's `get` is then a dictionary lookup, not a `stat`)."""

import os
import shutil
import time
from pathlib import Path

import pytest

from leadflow.defs.resources import LLMResource
from leadflow.llm.factory import shared_client
from leadflow.llm.prompts import PromptLibrary, TemplateError
from leadflow.paths import PROMPTS_DIR

TEMPLATE = "classify_signal"


@pytest.fixture
def prompts_dir(tmp_path) -> Path:
    directory = tmp_path / "prompts"
    shutil.copytree(PROMPTS_DIR, directory)
    return directory


def _edit(path: Path) -> None:
    stat = path.stat()
    path.write_text(path.read_text() + "# reviewed\n")
    # A distinct mtime: two writes inside one filesystem timestamp tick look unchanged.
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def test_an_edit_is_seen_once_the_recheck_interval_has_passed(prompts_dir):
    recheck_s = 0.3
    library = PromptLibrary(prompts_dir, recheck_s=recheck_s)
    before = library.get(TEMPLATE)
    _edit(prompts_dir / f"{TEMPLATE}.yaml")
    assert library.get(TEMPLATE) is before  # inside the interval: the file is not looked at
    time.sleep(recheck_s * 1.5)
    after = library.get(TEMPLATE)
    assert after.content_hash != before.content_hash
    assert library.get(TEMPLATE) is after


def test_recheck_zero_looks_at_the_file_on_every_get(prompts_dir):
    library = PromptLibrary(prompts_dir, recheck_s=0)
    before = library.get(TEMPLATE)
    _edit(prompts_dir / f"{TEMPLATE}.yaml")
    assert library.get(TEMPLATE).content_hash != before.content_hash


def test_a_deleted_template_is_an_error_after_the_interval(prompts_dir):
    library = PromptLibrary(prompts_dir, recheck_s=0.2)
    library.get(TEMPLATE)
    (prompts_dir / f"{TEMPLATE}.yaml").unlink()
    time.sleep(0.3)
    with pytest.raises(TemplateError, match="no prompt template"):
        library.get(TEMPLATE)


def test_recheck_makes_the_next_get_look_at_the_file(prompts_dir):
    library = PromptLibrary(prompts_dir, recheck_s=3600)
    before = library.get(TEMPLATE)
    _edit(prompts_dir / f"{TEMPLATE}.yaml")
    library.recheck()
    assert library.get(TEMPLATE).content_hash != before.content_hash


def test_the_shared_client_sees_a_prompt_edited_since_it_was_last_asked_for(prompts_dir):
    """A run's assets share one client per process: each asset asking for it sees the prompt
    files as they are then, however recently the previous one read them."""
    settings = LLMResource(prompts_dir=str(prompts_dir)).settings()
    first = shared_client(settings).prompts.get(TEMPLATE)
    _edit(prompts_dir / f"{TEMPLATE}.yaml")
    client = shared_client(settings)
    assert client.prompts.get(TEMPLATE).content_hash != first.content_hash
