"""clinical-ner: fine-tune, evaluate, benchmark and publish transformer NER models for
clinical text.

The flow, one module per step::

    corpus files --data_scripts--> Document (text + character Span) --labels--> words with BIO tags
    --windows--> token windows --Trainer--> model --inference--> character spans --metrics--> scores
"""

__version__ = "0.1.0"
