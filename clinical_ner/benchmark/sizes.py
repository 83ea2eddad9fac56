"""Model sizes: the real architectures (architecture-only mode), parameter counts, safetensors
bytes on disk (fp32 and fp16) and process memory. MB = 10**6 bytes."""

from __future__ import annotations

import tempfile
from pathlib import Path

import psutil
import torch
from transformers import AutoModelForTokenClassification, BertConfig, DistilBertConfig

from clinical_ner.benchmark.settings import MB

#: Vocabulary sizes of the real tokenizers (no Hub access here), with their source.
REAL_VOCAB_SIZES: dict[str, tuple[int, str]] = {
    "distilbert": (28996, "distilbert-base-cased config.json vocab_size (bert-base-cased vocab)"),
    "bert": (28996, "bert-base-cased config.json vocab_size"),
    "biobert": (28996, "dmis-lab/biobert-base-cased-v1.2 config.json vocab_size "
                       "(BioBERT keeps the bert-base-cased WordPiece vocabulary)"),
    "clinicalbert": (28996, "emilyalsentzer/Bio_ClinicalBERT config.json vocab_size "
                            "(initialised from BioBERT v1.0, bert-base-cased vocabulary)"),
}

#: Model alias -> architecture measured in architecture-only mode.
ARCHITECTURES: dict[str, str] = {
    "distilbert": "distilbert-base", "bert": "bert-base", "biobert": "bert-base",
    "clinicalbert": "bert-base",
}


def real_config(alias: str, num_labels: int, overrides: dict | None = None):
    """The real configuration of ``alias``'s architecture (DistilBERT-base or BERT-base, with
    the real vocabulary size from :data:`REAL_VOCAB_SIZES`) for token classification with
    ``num_labels`` classes; ``overrides`` replace config fields. Raises KeyError for an alias with
    no known architecture."""
    arch = ARCHITECTURES[alias]
    kwargs = dict(vocab_size=REAL_VOCAB_SIZES[alias][0], num_labels=num_labels)
    kwargs.update(overrides or {})
    # Library defaults are the base models: DistilBERT dim 768, 6 layers, 12 heads, FFN 3072;
    # BERT hidden 768, 12 layers, 12 heads, FFN 3072, 2 token types; both 512 positions.
    return DistilBertConfig(**kwargs) if arch == "distilbert-base" else BertConfig(**kwargs)


def build_arch_model(alias: str, num_labels: int, overrides: dict | None = None, seed: int = 0):
    """A randomly initialised ``AutoModelForTokenClassification`` from :func:`real_config`
    (``torch.manual_seed(seed)`` first), in eval mode on CPU, fp32."""
    torch.manual_seed(seed)
    config = real_config(alias, num_labels, overrides)
    return AutoModelForTokenClassification.from_config(config).eval()


class VocabMap(torch.nn.Module):
    """``inner`` with ``input_ids`` taken modulo ``vocab_size`` (architecture-only: a real
    tokenizer's ids fed to a model with another real vocabulary size)."""

    def __init__(self, inner, vocab_size: int):
        super().__init__()
        self.inner = inner
        self.config = inner.config
        self.vocab_size = vocab_size

    def forward(self, input_ids=None, **kwargs):
        return self.inner(input_ids=torch.remainder(input_ids, self.vocab_size), **kwargs)


def count_parameters(model) -> int:
    """Number of parameters (each shared tensor once)."""
    return sum(p.numel() for p in model.parameters())


def embedding_parameters(model) -> int:
    """Parameters of the embedding layers (word, position, token type, their LayerNorm): the
    part of the model whose cost is a lookup, not a matrix product per token."""
    return sum(p.numel() for n, p in model.named_parameters() if ".embeddings." in f".{n}")


def safetensors_header_length(path: str | Path) -> int:
    """Length in bytes of a safetensors file's JSON header (the little-endian u64 that starts
    the file, as the format defines it). The file is ``8 + header_length + tensor bytes``."""
    with open(path, "rb") as f:
        return int.from_bytes(f.read(8), "little")


def safetensors_bytes(folder: str | Path) -> int:
    """Total bytes of the ``*.safetensors`` files in ``folder``. Raises FileNotFoundError when
    there is none."""
    files = sorted(Path(folder).glob("*.safetensors"))
    if not files:
        raise FileNotFoundError(f"{folder}: no *.safetensors file")
    return sum(f.stat().st_size for f in files)


def _save_both(model, root: Path) -> dict:
    sd = {k: v.detach().to("cpu", torch.float32) for k, v in model.state_dict().items()}
    # save_pretrained pops the tensors out of the dict it is given: pass copies
    model.save_pretrained(root / "fp32", state_dict=dict(sd))
    b32 = safetensors_bytes(root / "fp32")
    model.save_pretrained(root / "fp16", state_dict={k: v.half() for k, v in sd.items()})
    b16 = safetensors_bytes(root / "fp16")
    return {"disk_bytes_fp32": b32, "disk_bytes_fp16": b16,
            "disk_mb_fp32": round(b32 / MB, 3), "disk_mb_fp16": round(b16 / MB, 3)}


def save_sizes(model, folder: str | Path | None = None) -> dict:
    """Save ``model`` with ``save_pretrained`` (safetensors) in fp32 and as an fp16 copy of the
    same state dict; return ``{"disk_bytes_fp32", "disk_bytes_fp16", "disk_mb_fp32",
    "disk_mb_fp16"}`` (bytes; MB = 10**6 bytes, 3 decimals). Files go to ``folder``/fp32 and
    /fp16 (a temporary folder, removed, when None). The model itself is not changed."""
    if folder is not None:
        return _save_both(model, Path(folder))
    with tempfile.TemporaryDirectory(prefix="bench_size_") as tmp:
        return _save_both(model, Path(tmp))


def current_rss_mb() -> float:
    """Resident set size of this process now, MB (10**6 bytes)."""
    return psutil.Process().memory_info().rss / MB
