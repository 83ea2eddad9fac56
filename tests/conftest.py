"""Shared fixtures: a tokenizer trained in the test with `tokenizers`, tiny randomly initialised
models built from a config, and paths to ../shared (tests that need it skip when it is absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SAMPLES = SHARED / "samples"
PHYSIONET = SHARED / "data" / "physionet-deid-i2b2"
DEMO = ROOT / "data_scripts" / "demo_i2b2_2014"


def need_shared(path: Path = SHARED) -> Path:
    """Skip the calling test, with a clear message, when ``path`` (under ../shared) is absent."""
    if not path.exists():
        pytest.skip(f"{path} is absent: this test reads the shared corpora/samples that sit "
                    "beside the clone (../shared); it is skipped without them")
    return path


CORPUS_TEXT = [
    "Record date : 2093-04-11 . Mr. Tolliver Quince , 67 , seen at Harbor Point Clinic .",
    "Dr. Amos Velt saw the patient on 03/14/2001 at Lakeside General , unit 88231904 .",
    "PT AWAKE AND ALERT , FAMILY CALLED 555-123-4567 . PLAN : CONTINUE LASIX 20 MG IV BID .",
    "Patient admitted with chest pain ; aspirin given and an ECG obtained . BP 120/80 .",
]


def train_tokenizer(out_dir: Path, lowercase: bool = False):
    """A WordPiece BERT-style fast tokenizer trained on a few sentences; saved to ``out_dir``."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=lowercase)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    trainer = trainers.WordPieceTrainer(vocab_size=300, special_tokens=specials)
    tok.train_from_iterator(CORPUS_TEXT * 5, trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", tok.token_to_id("[CLS]")), ("[SEP]", tok.token_to_id("[SEP]"))])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]",
                                   cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]",
                                   model_max_length=512)
    out_dir.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(out_dir)
    return fast


def make_tiny_model_dir(out_dir: Path, vocab_size: int = 300) -> Path:
    """A tiny randomly initialised DistilBERT (dim 32, 2 layers) + trained tokenizer saved in
    ``out_dir`` as a base model to fine-tune (no Hub access needed)."""
    import torch
    from transformers import DistilBertConfig, DistilBertForMaskedLM

    torch.manual_seed(0)
    tok = train_tokenizer(out_dir)
    config = DistilBertConfig(vocab_size=len(tok), dim=32, hidden_dim=64, n_layers=2, n_heads=2,
                              max_position_embeddings=512, pad_token_id=tok.pad_token_id)
    DistilBertForMaskedLM(config).save_pretrained(out_dir)
    return out_dir


@pytest.fixture(scope="session")
def tiny_base_model(tmp_path_factory) -> Path:
    """Folder of a tiny random DistilBERT with its tokenizer (fine-tunable with train_ner.py)."""
    return make_tiny_model_dir(tmp_path_factory.mktemp("tiny_base"))


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_base_model):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_base_model)


@pytest.fixture(scope="session")
def tiny_phi_run(tmp_path_factory, tiny_base_model) -> Path:
    """A finished train_ner.py run folder: the tiny model fine-tuned for a few steps on the
    shipped demo corpus (PHI, i2b2 2014 TYPEs)."""
    from transformers import TrainingArguments

    from clinical_ner.cli import parse_args
    from clinical_ner.training import TRAINING_DEFAULTS, DataArguments, ModelArguments, train

    out = tmp_path_factory.mktemp("tiny_phi_run")
    args = parse_args((ModelArguments, DataArguments, TrainingArguments), [
        "--model_name_or_path", str(tiny_base_model), "--data_dir", str(DEMO),
        "--output_dir", str(out), "--max_steps", "6", "--per_device_train_batch_size", "8",
        "--max_seq_length", "64", "--doc_stride", "16", "--bootstrap", "20",
        "--max_train_documents", "12", "--disable_tqdm", "true", "--logging_steps", "2",
        "--eval_strategy", "steps", "--eval_steps", "3", "--save_strategy", "steps",
        "--save_steps", "3"], TRAINING_DEFAULTS)
    train(*args)
    return out


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory) -> Path:
    """8 train, 3 dev, 3 test notes of the demo corpus (i2b2 2014 XML): a few seconds of
    training for the run, resume and multi-process tests."""
    import shutil

    root = tmp_path_factory.mktemp("small_corpus")
    for split, n in (("train", 8), ("dev", 3), ("test", 3)):
        (root / split).mkdir()
        for f in sorted((DEMO / split).glob("*.xml"))[:n]:
            shutil.copy(f, root / split / f.name)
    return root
