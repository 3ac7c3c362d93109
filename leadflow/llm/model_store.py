"""Assemble model files from PyPI-shipped parts into a cache directory, verified by sha256.

Chunked models take twice their size on disk, so assembly happens once, into
LEADFLOW_MODEL_DIR, never at import time of the Dagster code. A sidecar `.verified` file
records size and mtime of a file whose hash matched, so later runs skip re-hashing 1 GB.
"""

import importlib
import json
import os
import threading
from pathlib import Path

from leadflow.llm.catalog import Artifact
from leadflow.llm.minilm_gguf import convert_minilm_to_gguf, sha256_file


class ModelUnavailable(RuntimeError):
    """A model's source package is not installed or its file fails verification."""


def _stamp(path: Path) -> dict:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _import_source(module: str, artifact: Artifact):
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ModelUnavailable(
            f"model {artifact.name!r} needs the package providing {module!r}; install it with: "
            f"{artifact.install_command}"
        ) from exc


def _assemble_parts(artifact: Artifact, tmp: Path) -> None:
    src = artifact.source
    with tmp.open("wb") as out:
        for n in range(1, src["parts"] + 1):
            part = Path(_import_source(src["module_pattern"].format(n=n), artifact).get_part_path())
            with part.open("rb") as fh:
                while block := fh.read(1 << 22):
                    out.write(block)


def _convert_minilm(artifact: Artifact, tmp: Path) -> None:
    module = _import_source(artifact.source["module"], artifact)
    convert_minilm_to_gguf(Path(module.get_model_path()), tmp, ftype=artifact.source.get("ftype", "f16"))


_ASSEMBLY_LOCK = threading.Lock()


def ensure_artifact(artifact: Artifact, model_dir: Path) -> Path:
    """Return the verified GGUF path for `artifact`, assembling it on first use.

    Serialized within the process (LLM worker threads ask concurrently); across processes the
    pid-named temporary file and the atomic rename keep a half-written model out of sight.
    """
    with _ASSEMBLY_LOCK:
        return _ensure_artifact(artifact, Path(model_dir))


def _ensure_artifact(artifact: Artifact, model_dir: Path) -> Path:
    model_dir.mkdir(parents=True, exist_ok=True)
    path = model_dir / f"{artifact.name}.gguf"
    sidecar = path.with_suffix(".verified")
    if path.exists() and sidecar.exists():
        recorded = json.loads(sidecar.read_text())
        if recorded.get("stamp") == _stamp(path):
            return path
    if not path.exists():
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        try:
            if artifact.source["kind"] == "pypi_parts":
                _assemble_parts(artifact, tmp)
            elif artifact.source["kind"] == "minilm_safetensors":
                _convert_minilm(artifact, tmp)
            else:
                raise ModelUnavailable(f"unknown source kind {artifact.source['kind']!r} for {artifact.name}")
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    digest = sha256_file(path)
    if artifact.sha256 and digest != artifact.sha256:
        path.unlink()
        raise ModelUnavailable(
            f"model {artifact.name!r}: sha256 {digest} does not match the catalog's {artifact.sha256}; "
            f"the file was removed. Reinstall with: {artifact.install_command}"
        )
    sidecar.write_text(json.dumps({"sha256": digest, "stamp": _stamp(path)}))
    return path


def verified_digest(path: Path) -> str:
    """The sha256 recorded when `path` was verified (the model digest used in cache keys)."""
    sidecar = Path(path).with_suffix(".verified")
    return json.loads(sidecar.read_text())["sha256"]
