import copy
import datetime
import hashlib
import json
import unicodedata
from decimal import Decimal

import numpy as np
import pytest

from leadflow.llm.cache_key import KEY_VERSION, cache_key, canonical_json


def base_parts() -> dict:
    return {
        "backend": "ollama",
        "model": {"name": "llama3.1:8b", "digest": "sha256:46e0c10c039e"},
        "options": {
            "num_ctx": 8192,
            "num_predict": 512,
            "temperature": 0.2,
            "top_p": 0.9,
            "seed": 42,
            "stop": ["</json>", "\n\n\n"],
        },
        "template": {"id": "classify_signal", "hash": "a1b2c3"},
        "messages": [
            {"role": "system", "content": "Classify the sales signal."},
            {"role": "user", "content": "Café Müller hires a Head of Data"},
        ],
        "schema": "schema-hash-1",
    }


def reversed_dicts(obj):
    if isinstance(obj, dict):
        return {k: reversed_dicts(obj[k]) for k in reversed(list(obj))}
    if isinstance(obj, list):
        return [reversed_dicts(v) for v in obj]
    return obj


def test_key_is_sha256_of_versioned_canonical_json():
    parts = base_parts()
    expected = hashlib.sha256(canonical_json({**parts, "key_version": KEY_VERSION}).encode()).hexdigest()
    assert cache_key(parts) == expected
    assert len(cache_key(parts)) == 64


def test_canonical_json_format():
    text = canonical_json({"b": 1, "a": [1.5, (2, "é")], "c": None, "d": True})
    assert text == '{"a":[1.5,[2,"é"]],"b":1,"c":null,"d":true}'
    assert json.loads(text)["a"][1] == [2, "é"]


def test_invariant_to_dict_order_including_nested():
    parts = base_parts()
    flipped = reversed_dicts(parts)
    assert list(flipped) != list(parts)
    assert list(flipped["options"]) != list(parts["options"])
    assert cache_key(flipped) == cache_key(parts)


def test_invariant_to_unicode_normal_form():
    nfc = base_parts()
    nfd = copy.deepcopy(nfc)
    text = nfc["messages"][1]["content"]
    nfd["messages"][1]["content"] = unicodedata.normalize("NFD", text)
    assert nfd["messages"][1]["content"] != text  # really different code points
    assert cache_key(nfd) == cache_key(nfc)
    # dict keys are normalized too
    assert canonical_json({unicodedata.normalize("NFD", "é"): 1}) == canonical_json({"é": 1})


def test_tuple_and_list_are_the_same():
    assert canonical_json({"stop": ("a", "b")}) == canonical_json({"stop": ["a", "b"]})


@pytest.mark.parametrize(
    "path, value",
    [
        (("backend",), "llamacpp"),
        (("model", "name"), "llama3.1:70b"),
        (("model", "digest"), "sha256:ffffffffffff"),
        (("options", "num_ctx"), 4096),
        (("options", "num_predict"), 256),
        (("options", "temperature"), 0.0),
        (("options", "top_p"), 0.95),
        (("options", "seed"), 43),
        (("options", "stop"), ["</json>"]),
        (("template", "id"), "classify_signal_v2"),
        (("template", "hash"), "a1b2c4"),
        (("schema",), "schema-hash-2"),
        (("messages", 0, "content"), "Classify the sales signal!"),
        (("messages", 1, "content"), "Cafe Muller hires a Head of Data"),
        (("messages", 1, "role"), "assistant"),
    ],
)
def test_every_part_changes_the_key(path, value):
    parts = base_parts()
    changed = copy.deepcopy(parts)
    target = changed
    for step in path[:-1]:
        target = target[step]
    assert target[path[-1]] != value
    target[path[-1]] = value
    assert cache_key(changed) != cache_key(parts)


def test_adding_an_option_changes_the_key():
    parts = base_parts()
    changed = copy.deepcopy(parts)
    changed["options"]["max_tokens"] = 512
    assert cache_key(changed) != cache_key(parts)


def test_message_order_matters():
    parts = base_parts()
    changed = copy.deepcopy(parts)
    changed["messages"].reverse()
    assert cache_key(changed) != cache_key(parts)


@pytest.mark.parametrize(
    "bad",
    [b"bytes", {1, 2}, datetime.date(2024, 1, 1), Decimal("0.1"), object(), {1: "int key"}],
)
def test_non_json_types_are_rejected(bad):
    with pytest.raises(TypeError):
        canonical_json({"x": bad})
    with pytest.raises(TypeError):
        cache_key({"options": {"x": bad}})


def test_nan_is_rejected():
    with pytest.raises(ValueError):
        canonical_json({"temperature": float("nan")})


def test_key_version_is_reserved():
    with pytest.raises(ValueError):
        cache_key({"key_version": 2})


def test_float_rendering_is_repr_stable():
    assert canonical_json(0.1) == "0.1"
    assert canonical_json(0.1 + 0.2) == repr(0.1 + 0.2)
    assert canonical_json(1e-7) == repr(1e-7)


def test_numpy_scalars_hash_like_python_numbers():
    assert cache_key({"temperature": np.float64(0.2), "seed": np.int64(7)}) == cache_key(
        {"temperature": 0.2, "seed": 7}
    )
