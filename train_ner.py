#!/usr/bin/env python
"""Fine-tune a transformer NER model on clinical notes (PHI or medical concepts).

    python train_ner.py --data_dir DIR --model_name_or_path minilm --output_dir runs/x
    python train_ner.py configs/phi.yaml                 # arguments from a YAML/JSON file
    accelerate launch --config_file accelerate_config.yaml train_ner.py ...
    python train_ner.py ... --push_to_hub --hub_model_id ORG/NAME [--dry_run]   # then publish

Arguments: ModelArguments and DataArguments (clinical_ner.training), the Hugging Face
TrainingArguments, whose defaults here choose the best checkpoint on dev by strict span F1, and
PublishArguments (clinical_ner.hub). With --push_to_hub the Trainer never pushes: the finished
run is published once, after training, by clinical_ner.hub.publish (checked card and files,
private repository unless --hub_private false).

Refused before any model loads, with one line ``train_ner.py: error: ...`` and exit status 2:
an unknown model alias, format, task or --metric_for_best_model, --max_seq_length above the
model's position embeddings, --doc_stride not below the window, a label map matching no corpus
label, an --output_dir that holds a run or checkpoints (without --overwrite_output_dir or
--resume_from_checkpoint PATH|last) or cannot be written.
"""

import logging
import sys

from clinical_ner.cli import UsageError, error_line, parse_args, print_scores
from clinical_ner.documents import FormatError
from clinical_ner.hub import PublishArguments, claim_push, publish
from clinical_ner.training import TRAINING_DEFAULTS, DataArguments, ModelArguments, train


def main(argv=None) -> int:
    from transformers import TrainingArguments

    model_args, data_args, training_args, publish_args = parse_args(
        (ModelArguments, DataArguments, TrainingArguments, PublishArguments), argv,
        TRAINING_DEFAULTS)
    # Before the Trainer exists: checks the Hub request, turns push_to_hub off, takes the token.
    push = claim_push(training_args, publish_args, model_args.model_name_or_path)
    try:
        metrics = train(model_args, data_args, training_args)
    except (UsageError, FormatError) as exc:  # checked before any model loads
        print(error_line("train_ner.py", exc), file=sys.stderr)
        return 2
    if metrics:
        print_scores(metrics, title=f"test scores ({training_args.output_dir})")
        if push:
            result = publish(training_args.output_dir, push.hub_model_id, publish_args,
                             token=push.token)
            print(result.folder.resolve() if publish_args.dry_run else result.url)
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    sys.exit(main())
