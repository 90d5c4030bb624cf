"""kerasner: Keras-native fine-tuning of BERT for named-entity recognition.

`import kerasner` is quick: each name below is imported from its module when it is first used,
so a command's `--help` answers before TensorFlow is loaded.
"""

import importlib
import sys
import types

__version__ = "0.1.0"

# Public name -> the module that defines it.
_EXPORTS = {
    "BertTokenClassifier": "bert_token_classifier",
    "DataFormatError": "data_format_error",
    "EntityPredictor": "entity_predictor",
    "FusedAdamW": "fused_adam_w",
    "LazyAdamW": "lazy_adam_w",
    "MaskedSparseCategoricalCrossentropy": "masked_sparse_categorical_crossentropy",
    "NerHyperModel": "ner_hyper_model",
    "NerTuner": "ner_tuner",
    "Sentence": "sentence",
    "SentenceList": "sentence_list",
    "TextToEntities": "export",
    "TokenClassificationPreprocessor": "token_classification_preprocessor",
    "TokenFeatures": "token_features",
    "TrainingConfig": "training_config",
    "TrainingPlan": "training_plan",
    "WarmupLinearDecay": "warmup_linear_decay",
    "WordSplitter": "word_splitter",
    "allowed_transitions": "viterbi_decode",
    "build_tiny_model": "tiny_bert",
    "cpu_has_bfloat16": "mixed_precision",
    "create_optimizer": "warmup_linear_decay",
    "decode_words": "predict_words",
    "default_learning_rate": "training_plan",
    "detect_format": "read_sentences",
    "detect_scheme": "tag_scheme",
    "detokenize": "word_splitter",
    "distribution_strategy": "distribution_strategy",
    "entity_scores": "entity_scores",
    "export_saved_model": "export",
    "is_chief": "distribution_strategy",
    "labels_from_tags": "tag_scheme",
    "plan_training": "training_plan",
    "predict_word_logits": "predict_words",
    "predict_words": "predict_words",
    "read_sentences": "read_sentences",
    "resolve_batching": "train_token_classifier",
    "restore_malloc_thresholds": "malloc_thresholds",
    "sample_data_path": "sample_data",
    "set_mixed_precision": "mixed_precision",
    "span_scores": "entity_scores",
    "to_iob2": "tag_scheme",
    "train_token_classifier": "train_token_classifier",
    "train_validation_split": "train_validation_split",
    "train_wordpiece_tokenizer": "tiny_bert",
    "viterbi_decode": "viterbi_decode",
    "write_sentences": "write_sentences",
}
_SUBMODULES = ("callbacks", "run_folder")

__all__ = sorted([*_EXPORTS, *_SUBMODULES])


class _Package(types.ModuleType):
    def __setattr__(self, name, value):
        # Importing `kerasner.predict_words` sets the package's `predict_words` to that module;
        # the public name stays the function the module defines.
        if name in _EXPORTS and isinstance(value, types.ModuleType) and value.__name__ == f"kerasner.{_EXPORTS[name]}":
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


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
