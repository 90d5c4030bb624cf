"""kerasner: Keras-native fine-tuning of BERT for named-entity recognition."""

__version__ = "0.1.0"

from kerasner.bert_token_classifier import BertTokenClassifier
from kerasner.data_format_error import DataFormatError
from kerasner.distribution_strategy import distribution_strategy, is_chief
from kerasner.entity_predictor import EntityPredictor
from kerasner.entity_scores import entity_scores, span_scores
from kerasner.fused_adam_w import FusedAdamW
from kerasner.lazy_adam_w import LazyAdamW
from kerasner.malloc_thresholds import restore_malloc_thresholds
from kerasner.masked_sparse_categorical_crossentropy import MaskedSparseCategoricalCrossentropy
from kerasner.mixed_precision import cpu_has_bfloat16, set_mixed_precision
from kerasner.predict_words import decode_words, predict_word_logits, predict_words
from kerasner.read_sentences import detect_format, read_sentences
from kerasner.sample_data import sample_data_path
from kerasner.sentence import Sentence
from kerasner.sentence_list import SentenceList
from kerasner.tag_scheme import detect_scheme, labels_from_tags, to_iob2
from kerasner.tiny_bert import build_tiny_model, train_wordpiece_tokenizer
from kerasner.token_classification_preprocessor import TokenClassificationPreprocessor
from kerasner.token_features import TokenFeatures
from kerasner.train_validation_split import train_validation_split
from kerasner.training_config import TrainingConfig
from kerasner.training_plan import TrainingPlan, default_learning_rate, plan_training
from kerasner.write_sentences import write_sentences
from kerasner.viterbi_decode import allowed_transitions, viterbi_decode
from kerasner.warmup_linear_decay import WarmupLinearDecay, create_optimizer
from kerasner.word_splitter import WordSplitter, detokenize
from kerasner import callbacks  # noqa: E402  (kerasner.callbacks needs the modules above)
from kerasner import run_folder
from kerasner.train_token_classifier import resolve_batching, train_token_classifier
from kerasner.ner_hyper_model import NerHyperModel
from kerasner.ner_tuner import NerTuner

__all__ = [
    "BertTokenClassifier",
    "DataFormatError",
    "EntityPredictor",
    "FusedAdamW",
    "LazyAdamW",
    "MaskedSparseCategoricalCrossentropy",
    "NerHyperModel",
    "NerTuner",
    "Sentence",
    "SentenceList",
    "TokenClassificationPreprocessor",
    "TokenFeatures",
    "TrainingConfig",
    "TrainingPlan",
    "WarmupLinearDecay",
    "WordSplitter",
    "build_tiny_model",
    "allowed_transitions",
    "callbacks",
    "cpu_has_bfloat16",
    "create_optimizer",
    "decode_words",
    "default_learning_rate",
    "detokenize",
    "detect_format",
    "distribution_strategy",
    "detect_scheme",
    "entity_scores",
    "is_chief",
    "labels_from_tags",
    "plan_training",
    "predict_word_logits",
    "predict_words",
    "read_sentences",
    "resolve_batching",
    "restore_malloc_thresholds",
    "sample_data_path",
    "set_mixed_precision",
    "span_scores",
    "to_iob2",
    "train_token_classifier",
    "train_validation_split",
    "train_wordpiece_tokenizer",
    "viterbi_decode",
    "write_sentences",
]
