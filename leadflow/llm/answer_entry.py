"""How a generated answer is stored in the response cache: its JSON and the engine tokens it
cost, in one entry, so that a hit costs one lookup and replays its token cost from the same
bytes (the token ledger counts replayed tokens apart from spent ones).

The entry is the answer's compact JSON, a newline, and `[prompt_tokens, completion_tokens]`.
`json.dumps` never writes a raw newline, so the split is exact. An entry without the suffix
(written before the cost was kept) is still a valid answer whose cost is unknown.
"""

import json
from typing import Any

SEPARATOR = b"\n"
_DECODER = json.JSONDecoder()


def pack(answer: bytes, prompt_tokens: int, completion_tokens: int) -> bytes:
    """The cache entry for `answer` (its JSON bytes) and what generating it cost."""
    return b"%s%s[%d,%d]" % (answer, SEPARATOR, prompt_tokens, completion_tokens)


def unpack(entry: bytes) -> tuple[bytes, tuple[int, int] | None]:
    """The answer's JSON bytes and its (prompt, completion) token cost, None when not kept."""
    answer, found, cost = entry.partition(SEPARATOR)
    if not found:
        return entry, None
    prompt, completion = cost[1:-1].split(b",")  # `[p,c]`, as `pack` wrote it
    return answer, (int(prompt), int(completion))


def decode(answer: bytes) -> dict[str, Any]:
    """An answer's JSON bytes, decoded. Runs on every cache hit: `pack`'s input is compact
    JSON, so the decoder's whitespace scans around it are skipped (`json.loads` costs twice as
    much here); anything after the value is still an error."""
    text = answer.decode("utf-8")
    value, end = _DECODER.raw_decode(text)
    if end != len(text):
        raise json.JSONDecodeError("extra data after a cached answer", text, end)
    return value


def answer(entry: bytes) -> dict[str, Any]:
    """The decoded answer of a cache entry."""
    return decode(entry.partition(SEPARATOR)[0])
