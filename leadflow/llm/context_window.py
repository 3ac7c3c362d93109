"""Context-window sizing: estimate prompt tokens, round up to a few buckets, reuse a loaded size.

Changing `num_ctx` makes Ollama (and the embedded engine) reload the model, so sizes are
rounded to a few fixed buckets and an already-loaded size that fits is reused.
"""

DEFAULT_BUCKETS = (2048, 4096, 8192, 16384, 32768)
CHARS_PER_TOKEN = 3.0  # conservative for English and code with BPE tokenizers: over-, not under-estimates


def estimate_tokens(messages: tuple[dict[str, str], ...]) -> int:
    # ~4 tokens of chat-template framing per message.
    return sum(int(len(m["content"]) / CHARS_PER_TOKEN) + 4 for m in messages)


def choose_num_ctx(
    prompt_tokens: int,
    max_tokens: int,
    buckets: tuple[int, ...] = DEFAULT_BUCKETS,
    loaded: int | None = None,
    model_limit: int | None = None,
) -> int:
    """The smallest bucket holding prompt + output (+10 % margin), or the loaded size if it fits."""
    needed = int((prompt_tokens + max_tokens) * 1.1)
    if loaded and loaded >= needed:
        return loaded
    for bucket in sorted(buckets):
        if bucket >= needed and (model_limit is None or bucket <= model_limit):
            return bucket
    limit = min(max(buckets), model_limit or max(buckets))
    return limit
