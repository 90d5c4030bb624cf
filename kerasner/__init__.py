"""kerasner: Keras-native fine-tuning of BERT for named-entity recognition."""

__version__ = "0.1.0"

from kerasner.bert_token_classifier import BertTokenClassifier
from kerasner.data_format_error import DataFormatError
from kerasner.masked_sparse_categorical_crossentropy import MaskedSparseCategoricalCrossentropy
from kerasner.read_sentences import detect_format, read_sentences
from kerasner.sentence import Sentence
from kerasner.sentence_list import SentenceList
from kerasner.tag_scheme import detect_scheme, labels_from_tags, to_iob2
from kerasner.token_classification_preprocessor import TokenClassificationPreprocessor
from kerasner.token_features import TokenFeatures
from kerasner.train_validation_split import train_validation_split
from kerasner.warmup_linear_decay import WarmupLinearDecay, create_optimizer

__all__ = [
    "BertTokenClassifier",
    "DataFormatError",
    "MaskedSparseCategoricalCrossentropy",
    "Sentence",
    "SentenceList",
    "TokenClassificationPreprocessor",
    "TokenFeatures",
    "WarmupLinearDecay",
    "create_optimizer",
    "detect_format",
    "detect_scheme",
    "labels_from_tags",
    "read_sentences",
    "to_iob2",
    "train_validation_split",
]
