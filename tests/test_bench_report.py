"""The READMEs' benchmark figures are rendered from the published benchmark run, never typed:
`python -m bench.report --readme` writes them, and this checks they are still what it renders."""

import json

import pytest

from bench.report import PUBLISHED, README_FILES, is_default_run, main, readme_block, with_block


def test_the_published_run_is_a_default_run_on_the_bundled_data():
    results = json.loads(PUBLISHED.read_text())
    assert is_default_run(results)
    assert results["data"]["jobs"]["sha256"] and results["data"]["emails"]["sha256"]


def test_the_readme_blocks_are_rendered_from_the_published_run():
    block = readme_block(json.loads(PUBLISHED.read_text()))
    for readme in README_FILES:
        text = readme.read_text()
        assert with_block(text, block) == text, f"run `python -m bench.report --readme` ({readme})"
    assert main(["--check"]) == 0


def test_a_quick_run_is_not_published():
    results = json.loads(PUBLISHED.read_text())
    assert not is_default_run({**results, "config": {**results["config"], "quick": True}})
    assert not is_default_run({**results, "data": {**results["data"], "origin": "../shared/data"}})


def test_a_readme_without_markers_is_an_error():
    with pytest.raises(ValueError, match="markers"):
        with_block("# no block here\n", "figures")
