"""`python -m bench.stream_abort`: the tokens early-abort streaming (`leadflow.llm.stream_parse`)
saves on invalid outputs, with real inference.

1. Invalid outputs of the real small model: the classification prompt for N golden postings,
   streamed without the JSON grammar (what a server that ignores the schema answers), every piece
   kept. The watch stops each answer at a piece; the tokens after it are what the abort saves
   (pieces are tokens: llama.cpp streams one token per event). One answer is also run with the
   watch attached, to show the engine really stops there.
2. The valid path: the same prompts with the grammar (as leadflow sends them), streamed through
   the watch: none may be stopped; the watch's cost per piece.
3. Over the wire: the fault server (`tests.faults.llm_server`: llama.cpp's HTTP server behind a
   fault front) streams one of those real invalid answers at a decode pace; the pieces it wrote
   with early abort and without.

Writes bench/results/stream_abort_<UTC>.json and prints a summary.
"""

import argparse
import contextlib
import datetime
import os
import time
from pathlib import Path
from typing import Any

from bench.data import GOLDEN
from bench.results_file import save_results
from leadflow.defs.resources import LLMResource, PipelineSettings
from leadflow.llm.backends.base import Backend
from leadflow.llm.backends.openai import OpenAIBackend
from leadflow.llm.stream_parse import SchemaWatch, StreamRejected
from leadflow.llm.types import Cancellation, ChatRequest, Timeouts
from leadflow.scoring import prefilter
from leadflow.scoring.golden import load_golden
from leadflow.scoring.icp import icp_context, load_icp
from leadflow.scoring.injection import neutralize

RESULTS_DIR = Path(__file__).resolve().parent / "results"
TIMEOUTS = Timeouts(connect_s=5.0, first_token_s=300.0, total_s=900.0)
WIRE_PACE_S = 0.03  # seconds between the fault server's pieces: a 0.5B model's decode pace here


class Pieces(Cancellation):
    """Keeps every streamed piece (the backends' observe hook), stops nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.pieces: list[str] = []

    def observe(self, piece: str) -> None:
        self.pieces.append(piece)


def stop_piece(schema: dict, pieces: list[str]) -> int | None:
    """The piece (1-based) at which the watch stops these pieces; None: never."""
    watch = SchemaWatch(schema)
    try:
        for piece in pieces:
            watch.observe(piece)
    except StreamRejected as stopped:
        return stopped.pieces
    return None


def requests(n: int, grammar: bool) -> list[ChatRequest]:
    settings = LLMResource(warm_up=False)
    client = settings.client()
    template = client.prompts.get(prefilter.TEMPLATE)
    model = client.model_chain(prefilter.ROLE)[0]
    context = icp_context(load_icp(PipelineSettings().icp_file()))
    golden = load_golden(GOLDEN).head(n)
    out = []
    for title, text in zip(golden["title"], golden["text"], strict=True):
        variables = {
            "icp_context": context,
            "signal_kind": "job_posting",
            "signal_title": neutralize(str(title)),
            "signal_text": neutralize(str(text))[: PipelineSettings().max_text_chars],
        }
        request = client.build_request(prefilter.ROLE, template, template.render(variables), model)
        out.append(ChatRequest(**{**vars(request), "stream": True, "schema": request.schema if grammar else None}))
    return out


def engine() -> Backend:
    client = LLMResource(warm_up=False).client()
    return client.pool(prefilter.ROLE).backends[0]


def invalid_outputs(n: int, schema: dict) -> dict[str, Any]:
    backend = engine()
    answers: list[dict[str, Any]] = []
    for request in requests(n, grammar=False):
        kept = Pieces()
        started = time.perf_counter()
        response = backend.chat(request, TIMEOUTS, kept)
        wall = time.perf_counter() - started
        stop = stop_piece(schema, kept.pieces)
        answers.append(
            {
                "tokens": response.completion_tokens,
                "pieces": len(kept.pieces),
                "stopped_at": stop,
                "saved_tokens": response.completion_tokens - stop if stop else 0,
                "wall_s": round(wall, 2),
                "text": response.text,
            }
        )
    stopped = [a for a in answers if a["stopped_at"]]
    online: dict[str, Any] = {}
    if stopped:  # the first invalid one again, with the watch attached: the engine stops
        request = requests(n, grammar=False)[answers.index(stopped[0])]
        started = time.perf_counter()
        try:
            backend.chat(request, TIMEOUTS, SchemaWatch(schema))
            online = {"stopped": False}
        except StreamRejected as exc:
            online = {"stopped": True, "pieces": exc.pieces, "wall_s": round(time.perf_counter() - started, 2)}
    total = sum(a["tokens"] for a in answers)
    saved = sum(a["saved_tokens"] for a in answers)
    return {
        "answers": answers,
        "invalid": sum(1 for a in answers if a["stopped_at"]),
        "tokens_generated": total,
        "tokens_saved": saved,
        "saved_share": round(saved / total, 4) if total else None,
        "online_check": online,
    }


def valid_outputs(n: int, schema: dict) -> dict[str, Any]:
    backend = engine()
    stopped, pieces, watch_s = 0, 0, 0.0
    for request in requests(n, grammar=True):
        kept = Pieces()
        backend.chat(request, TIMEOUTS, kept)
        started = time.perf_counter()
        stopped += stop_piece(schema, kept.pieces) is not None
        watch_s += time.perf_counter() - started
        pieces += len(kept.pieces)
    return {
        "answers": n,
        "stopped": stopped,
        "pieces": pieces,
        "watch_us_per_piece": round(1e6 * watch_s / pieces, 1) if pieces else None,
    }


def over_the_wire(model_dir: Path, content: str, schema: dict) -> dict[str, Any]:
    from tests.faults.llm_server import LLMServer

    server = LLMServer(model_dir).start()
    backend = OpenAIBackend(server.url)
    request = ChatRequest(model="leadflow-small", messages=({"role": "user", "content": "x"},), max_tokens=96)
    request = ChatRequest(**{**vars(request), "stream": True})
    out: dict[str, Any] = {"content_pieces": -(-len(content) // 4), "pace_s": WIRE_PACE_S}
    try:
        for label, watch in (("with_abort", SchemaWatch(schema)), ("without", None)):
            server.reset()
            server.inject("bad_json", content=content, pace_s=WIRE_PACE_S)
            started = time.perf_counter()
            with contextlib.suppress(StreamRejected):
                backend.chat(request, TIMEOUTS, watch)
            out[label] = {
                "pieces_written": server.stats()["bad_json_pieces"],
                "wall_s": round(time.perf_counter() - started, 2),
            }
    finally:
        backend.close()
        server.close()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.stream_abort", description=__doc__)
    parser.add_argument("--invalid", type=int, default=4, help="golden postings asked without the grammar")
    parser.add_argument("--valid", type=int, default=2, help="golden postings asked with the grammar")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    schema = LLMResource(warm_up=False).prompt_library().get(prefilter.TEMPLATE).output_schema
    assert schema is not None  # the classification template has one
    results: dict[str, Any] = {"when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")}
    results["invalid"] = invalid_outputs(args.invalid, schema)
    results["valid"] = valid_outputs(args.valid, schema)
    invalid = [a for a in results["invalid"]["answers"] if a["stopped_at"]]
    if invalid:
        model_dir = Path(LLMResource(warm_up=False).settings().model_dir)
        results["wire"] = over_the_wire(model_dir, invalid[0]["text"], schema)
    results["load_average"] = os.getloadavg()
    path = save_results(results, args.out, "stream_abort")
    inv, val = results["invalid"], results["valid"]
    print(
        f"invalid (no grammar): {inv['invalid']}/{len(inv['answers'])} stopped, {inv['tokens_saved']} of "
        f"{inv['tokens_generated']} tokens saved ({inv['saved_share']}); online: {inv['online_check']}"
    )
    print(f"valid (grammar): {val['stopped']}/{val['answers']} stopped, watch {val['watch_us_per_piece']} us/piece")
    if "wire" in results:
        print(f"wire: {results['wire']}")
    print(f"written: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
