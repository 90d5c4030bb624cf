"""Trains the same tiny model on one device and under MirroredStrategy over two logical CPUs.

`python distributed_run.py OUTPUT_DIR` prints one JSON line: per strategy, the epoch losses, the
validation entity F1 values, the final weights' checksum and the folders written. Logical devices
must be configured before TensorFlow starts, hence a separate process.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import tf_keras as keras  # noqa: E402

import kerasner  # noqa: E402
from conftest import make_encoder  # noqa: E402


def build(tokenizer, labels, model_class=kerasner.BertTokenClassifier, head="softmax"):
    # No dropout: the runs must compute the same function.
    model = model_class(make_encoder(tokenizer.vocab_size, dropout=0.0), labels=labels, dropout=0.0, head=head)
    model(model.dummy_inputs())
    model.tokenizer = tokenizer
    return model


def main(output):
    sentences = kerasner.read_sentences(kerasner.sample_data_path())
    train, validation = list(sentences[:96]), list(sentences[96:128])
    labels = kerasner.labels_from_tags(s.tags for s in sentences)
    tokenizer = kerasner.train_wordpiece_tokenizer(train, 300)
    preprocessor = kerasner.TokenClassificationPreprocessor(tokenizer, labels, max_length=64)
    train_features, validation_features = preprocessor(train), preprocessor(validation)
    results = {}
    strategies = {
        "default": tf.distribute.get_strategy(),
        "mirrored": tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]),
    }
    for name, strategy in strategies.items():
        with strategy.scope():
            model = build(tokenizer, labels)
        history = kerasner.train_token_classifier(
            model,
            train_features,
            validation_features,
            os.path.join(output, name),
            epochs=4,
            batch_size=16,
            learning_rate=1e-2,
            seed=0,
            strategy=strategy,
            verbose=0,
        )
        results[name] = {
            "replicas": strategy.num_replicas_in_sync,
            "loss": history.history["loss"],
            "val_entity_f1": history.history["val_entity_f1"],
            "weights": [float(np.abs(w.numpy()).sum()) for w in model.trainable_weights],
            "files": sorted(os.listdir(os.path.join(output, name))),
            "history_rows": len(open(os.path.join(output, name, "history.csv")).read().splitlines()) - 1,
        }
    results["one_step"] = one_step(tokenizer, labels, strategies)
    print(json.dumps(results))


class KerasAveragedStep(kerasner.BertTokenClassifier):
    """tf-keras' own train step: the replicas' mean losses averaged, whatever their label counts."""

    def train_step(self, data):
        return kerasner.BertTokenClassifier.__mro__[1].train_step(self, data)


def one_step(tokenizer, labels, strategies):
    """Weights after one step on a batch whose two halves hold very different numbers of labels."""
    rng = np.random.default_rng(0)
    ids = rng.integers(5, tokenizer.vocab_size, size=(16, 24)).astype("int32")
    y = rng.integers(0, len(labels), size=(16, 24)).astype("int32")
    y[8:, 1:] = -100  # the second replica's half has one label per window
    x = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
    # The CRF head learns from valid IOB2 sequences: each I- label turned into its B-.
    to_begin = np.array([labels.index("B-" + label[2:]) if label.startswith("I-") else i for i, label in enumerate(labels)])
    y_crf = np.where(y >= 0, to_begin[np.maximum(y, 0)], y)
    weights = {}
    runs = [
        ("default", kerasner.BertTokenClassifier, 1, "softmax"),
        ("mirrored", kerasner.BertTokenClassifier, 1, "softmax"),
        ("mirrored_accumulated", kerasner.BertTokenClassifier, 2, "softmax"),  # 2 micro-batches of 4 per replica
        ("mirrored_keras_average", KerasAveragedStep, 1, "softmax"),
        ("default_crf", kerasner.BertTokenClassifier, 1, "crf"),
        ("mirrored_crf", kerasner.BertTokenClassifier, 1, "crf"),
    ]
    for name, model_class, accumulation, head in runs:
        strategy = strategies[name.split("_")[0]]
        with strategy.scope():
            model = build(tokenizer, labels, model_class, head)
            model.compile(keras.optimizers.SGD(1.0), gradient_accumulation_steps=accumulation)
        model.train_on_batch(x, y_crf if head == "crf" else y)
        weights[name] = np.concatenate([w.numpy().ravel() for w in model.trainable_weights]).tolist()
    return weights


if __name__ == "__main__":
    main(sys.argv[1])
