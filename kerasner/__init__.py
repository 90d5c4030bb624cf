"""kerasner: Keras-native fine-tuning of BERT for named-entity recognition."""

__version__ = "0.1.0"

from kerasner.bert_token_classifier import BertTokenClassifier
from kerasner.masked_sparse_categorical_crossentropy import MaskedSparseCategoricalCrossentropy
from kerasner.warmup_linear_decay import WarmupLinearDecay, create_optimizer

__all__ = [
    "BertTokenClassifier",
    "MaskedSparseCategoricalCrossentropy",
    "WarmupLinearDecay",
    "create_optimizer",
]
