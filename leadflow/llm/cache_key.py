"""Deterministic cache keys for LLM responses.

A key that leaves out anything that changes the output serves wrong answers (LiteLLM drops
Ollama's ``num_ctx``, GPTCache keys on the last message only), and a key that depends on dict
order or on the Unicode normal form of the same text misses. So the key is the SHA-256 of a
canonical JSON rendering of *everything* the caller says shapes the response.

Chat requests are keyed without re-serializing the rendered prompt: the prompt is a pure
function of the template's content and the variables, so a key family (backend, model digest,
template content hash, schema hash, options) is hashed once into a SHA-256 state, and each
request only copies that state and feeds it the canonical variables (a few microseconds
instead of ~20 for the whole rendered prompt).
"""

from __future__ import annotations

import hashlib
import json
import numbers
import unicodedata
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hashlib import _Hash

# Bump when the key layout or canonicalisation changes: old entries then simply stop matching.
KEY_VERSION = 1
# Chat keys (family prefix + variables) live in their own namespace: version 1 hashed the
# rendered messages with `cache_key`, so its entries simply stop matching (and expire by TTL).
CHAT_KEY_NAMESPACE = b"leadflow chat key v2\n"

_RESERVED = "key_version"


def _nfc(text: str) -> str:
    return text if text.isascii() else unicodedata.normalize("NFC", text)  # ASCII is already NFC


def _normalize(obj: Any) -> Any:
    """Return a JSON-ready copy of ``obj`` with NFC strings, lists for tuples, plain numbers.

    Runs on every cache lookup: the common types are tested first, by exact type.
    """
    kind = type(obj)
    if kind is str or isinstance(obj, str):
        return _nfc(obj)
    if kind is dict or isinstance(obj, Mapping):
        out: dict[str, Any] = {}
        for key, value in obj.items():
            if not isinstance(key, str):
                raise TypeError(f"cache key parts need str dict keys, got {type(key).__name__}")
            norm = _nfc(key)
            if norm in out:
                raise ValueError(f"dict keys collide after NFC normalization: {key!r}")
            out[norm] = _normalize(value)
        return out
    if kind is list or isinstance(obj, (list, tuple)):
        return [_normalize(item) for item in obj]
    if obj is None or isinstance(obj, bool):
        return obj
    if isinstance(obj, numbers.Integral):
        return int(obj)  # IntEnum, numpy.int64 ... hash as the number they are
    if isinstance(obj, float):
        # json renders floats with float.__repr__ (shortest round-trip form, stable across
        # platforms); float() strips subclasses such as numpy.float64 whose repr differs.
        return float(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON-serializable in a cache key")


def canonical_json(obj: Any) -> str:
    """Render ``obj`` as canonical JSON: sorted keys, compact, UTF-8 text, NFC strings.

    Raises TypeError for anything that is not a JSON type (bytes, sets, datetimes, objects) so
    that a caller cannot silently hash a ``repr`` that changes between runs, and ValueError for
    NaN/infinity, which JSON cannot express.
    """
    return json.dumps(
        _normalize(obj),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )


def cache_key(parts: Mapping[str, Any]) -> str:
    """SHA-256 hex digest of ``parts`` plus the key-format version.

    ``parts`` must hold everything that can change the response, at least:

    - ``backend``: backend kind (e.g. "ollama", "llamacpp", "openai-compat");
    - ``model``: model name **and** its digest / weights file hash (a re-pulled tag is a new
      model);
    - ``options``: every generation option as sent: num_ctx, num_predict / max_tokens,
      temperature, top_p, top_k, repeat_penalty, seed, stop, ... (defaults included, so a change
      of default is a change of key);
    - ``template``: prompt template id **and** content hash;
    - ``messages``: the fully rendered messages (all of them, system prompt included);
    - ``schema``: hash of the output JSON schema / response model (None when unconstrained).

    The ``key_version`` field is added here and is reserved.
    """
    if _RESERVED in parts:
        raise ValueError(f"{_RESERVED!r} is reserved in cache key parts")
    payload = canonical_json({**parts, _RESERVED: KEY_VERSION})
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def key_prefix(family: Mapping[str, Any]) -> _Hash:
    """A SHA-256 state fed with the chat-key namespace and the canonical JSON of what every
    request of a family shares: computed once per family, copied for each request."""
    return hashlib.sha256(CHAT_KEY_NAMESPACE + canonical_json(family).encode("utf-8"))


def variables_key(prefix: _Hash, variables: Mapping[str, Any]) -> str:
    """The hex key of one request: the family's state, then each variable by sorted name,
    length-prefixed (so no two variable sets feed the same bytes), strings as NFC UTF-8 and
    anything else as canonical JSON. Runs on every cache lookup: the names' sorted order and
    encoded labels are worked out once per set of names."""
    digest = prefix.copy()
    names = tuple(variables)
    labels = _LABELS.get(names)
    if labels is None:
        labels = _labels(names)
    chunks = []
    for name, label in labels:
        value = variables[name]
        if type(value) is str:
            data = (value if value.isascii() else unicodedata.normalize("NFC", value)).encode("utf-8")
            chunks.append(b"%ss%d:" % (label, len(data)))
        else:
            data = canonical_json(value).encode("utf-8")
            chunks.append(b"%sj%d:" % (label, len(data)))
        chunks.append(data)
    digest.update(b"".join(chunks))
    return digest.hexdigest()


MAX_LABEL_SETS = 256  # distinct sets of variable names kept (one or two per template)
_LABELS: dict[tuple[str, ...], tuple[tuple[str, bytes], ...]] = {}


def _labels(names: tuple[str, ...]) -> tuple[tuple[str, bytes], ...]:
    """Each name in sorted order with its length-prefixed NFC UTF-8 label, as the key feeds it."""
    labels = []
    for name in sorted(names):
        label = _nfc(name).encode("utf-8")
        labels.append((name, b"%d:%s" % (len(label), label)))
    if len(_LABELS) >= MAX_LABEL_SETS:
        _LABELS.clear()
    _LABELS[names] = result = tuple(labels)
    return result
