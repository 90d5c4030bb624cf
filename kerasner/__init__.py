"""kerasner: Keras-native fine-tuning of BERT for named-entity recognition.

`import kerasner` is quick: each name below is imported from its module when it is first used,
so a command's `--help` answers before TensorFlow is loaded.
"""

import importlib

from kerasner.version import __version__

# Public name -> the module that defines it.
_EXPORTS = {
    "BertTokenClassifier": "bert_token_classifier",
    "DataFormatError": "errors",
    "EntityPredictor": "entity_predictor",
    "FusedAdamW": "optimizers",
    "LazyAdamW": "optimizers",
    "LinearChainCRF": "crf",
    "MaskedSparseCategoricalCrossentropy": "losses",
    "NerHyperModel": "tuning",
    "NerTuner": "tuning",
    "Sentence": "sentences",
    "SentenceList": "sentences",
    "TextToEntities": "export",
    "TokenClassificationPreprocessor": "token_classification_preprocessor",
    "TokenFeatures": "token_features",
    "TrainingConfig": "training_config",
    "TrainingPlan": "training_plan",
    "WarmupLinearDecay": "optimizers",
    "WordSplitter": "word_splitter",
    "add_context": "sentences",
    "oversample": "sentences",
    "allowed_transitions": "decoding",
    "build_tiny_model": "tiny_bert",
    "chain_marginals": "decoding",
    "cpu_has_bfloat16": "runtime",
    "create_optimizer": "optimizers",
    "decode_words": "decoding",
    "default_learning_rate": "training_plan",
    "detect_format": "formats",
    "detect_scheme": "tags",
    "detokenize": "word_splitter",
    "distribution_strategy": "runtime",
    "entity_scores": "evaluation",
    "export_saved_model": "export",
    "is_chief": "runtime",
    "labels_from_tags": "tags",
    "plan_training": "training_plan",
    "predict_word_logits": "prediction",
    "predict_words": "prediction",
    "read_sentences": "formats",
    "resolve_batching": "training",
    "restore_malloc_thresholds": "runtime",
    "sample_data_path": "sentences",
    "set_mixed_precision": "runtime",
    "span_scores": "evaluation",
    "to_iob2": "tags",
    "train_token_classifier": "training",
    "train_validation_split": "sentences",
    "train_wordpiece_tokenizer": "tiny_bert",
    "viterbi_decode": "decoding",
    "write_sentences": "formats",
}
_SUBMODULES = ("callbacks", "run_folder")

__all__ = sorted([*_EXPORTS, *_SUBMODULES])


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f"kerasner.{_EXPORTS[name]}"), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"kerasner.{name}")
    else:
        raise AttributeError(f"module 'kerasner' has no attribute {name!r}")
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__():
    return sorted([*globals(), *__all__])
