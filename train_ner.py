#!/usr/bin/env python
"""Fine-tune a transformer NER model on clinical notes (PHI or medical concepts).

    python train_ner.py --data_dir DIR --model_name_or_path minilm --output_dir runs/x
    python train_ner.py configs/phi_minilm.yaml          # arguments from a YAML/JSON file
    accelerate launch --config_file accelerate_config.yaml train_ner.py ...

Arguments: ModelArguments and DataArguments (clinical_ner.training) and the Hugging Face
TrainingArguments, whose defaults here choose the best checkpoint on dev by strict span F1.
"""

import logging
import sys

from clinical_ner.cli import parse_args, print_scores
from clinical_ner.training import DataArguments, ModelArguments, TRAINING_DEFAULTS, train


def main(argv=None) -> int:
    from transformers import TrainingArguments

    model_args, data_args, training_args = parse_args(
        (ModelArguments, DataArguments, TrainingArguments), argv, TRAINING_DEFAULTS)
    metrics = train(model_args, data_args, training_args)
    if metrics:
        print_scores(metrics, title=f"test scores ({training_args.output_dir})")
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    sys.exit(main())
