"""The fine-tuning search space of a BERT token classifier, as a keras-tuner HyperModel."""

import keras_tuner

from kerasner.bert_token_classifier import BertTokenClassifier
from kerasner.train_token_classifier import train_token_classifier
from kerasner.training_config import DEFAULTS
from kerasner.training_plan import default_learning_rate

# name -> (kind, default range, preferred default). The learning rate's range is set from the
# encoder's width when the search starts; epochs are not searched unless a range is given (each
# trial plans its own length, as `train_token_classifier` does).
# The preferred values are `TrainingConfig`'s defaults.
SEARCH_SPACE = {
    "learning_rate": ("log", None, DEFAULTS.learning_rate),
    "warmup_ratio": ("float", (0.0, 0.2), DEFAULTS.warmup_ratio),
    "weight_decay": ("float", (0.0, 0.1), DEFAULTS.weight_decay),
    "dropout": ("float", (0.0, 0.3), DEFAULTS.dropout),
    "batch_size": ("choice", (16, 32, 64), DEFAULTS.batch_size),
    "epochs": ("int", None, DEFAULTS.epochs),
}
# The default learning-rate range spans this factor either side of `default_learning_rate`.
LEARNING_RATE_SPAN = 3.0


class NerHyperModel(keras_tuner.HyperModel):
    """Search space for fine-tuning: learning rate, warm-up, weight decay, dropout, batch size, epochs.

    The defaults follow `kerasner train`'s: the learning rate is searched within 3x either side of
    `kerasner.default_learning_rate` of the encoder's width (1.7e-5 to 1.5e-4 around 5e-5 for
    BERT-base), and each trial plans its own length (at least 3 epochs and 1,000 optimizer steps,
    stopping after 2 epochs without a better entity F1) unless `epochs` is given.

    Every trial loads the encoder afresh from `model` (pretrained weights, never an earlier
    trial's), and trains with `train_token_classifier`, reporting the best validation entity F1.
    Each range can be overridden: a pair `(low, high)` for numbers, a list for batch sizes, or a
    single value to fix it. `hp.Fixed` in the tuner's `hyperparameters` overrides as usual.

    Args:
        model: hub name or directory of a pretrained encoder (with its tokenizer).
        labels: list of str, the tag names.
        learning_rate: Defaults to `default_learning_rate` of the encoder's width /3 to x3,
            log-uniform, preferring the rule's value.
        warmup_ratio: Defaults to `(0.0, 0.2)`, default 0.1.
        weight_decay: Defaults to `(0.0, 0.1)`, default 0.01.
        dropout: Defaults to `(0.0, 0.3)`, default 0.1.
        batch_size: Defaults to `(16, 32, 64)`, default 32.
        epochs: Defaults to None: not searched, each trial plans its length. Hyperband sets
            epochs itself.

    Example:
    ```python
    hypermodel = kerasner.NerHyperModel("bert-base-cased", labels, epochs=(1, 2))
    ```
    """

    def __init__(self, model, labels, name=None, tunable=True, **ranges):
        super().__init__(name=name, tunable=tunable)
        unknown = sorted(set(ranges) - set(SEARCH_SPACE))
        if unknown:
            raise ValueError(f"Unknown hyperparameter. Expected some of {list(SEARCH_SPACE)}. Received: {unknown}")
        self.model = str(model)
        self.labels = list(labels)
        self.ranges = {name: ranges.get(name, spec[1]) for name, spec in SEARCH_SPACE.items()}

    def default_learning_rate(self):
        """`kerasner.default_learning_rate` of the encoder's width, read from its config."""
        import transformers

        return default_learning_rate(transformers.AutoConfig.from_pretrained(self.model).hidden_size)

    def declare_hyperparameters(self, hp):
        for name, (kind, _, preferred) in SEARCH_SPACE.items():
            value = self.ranges[name]
            if value is None and name == "learning_rate":
                preferred = self.default_learning_rate()
                value = (preferred / LEARNING_RATE_SPAN, preferred * LEARNING_RATE_SPAN)
            elif value is None:
                continue
            if not isinstance(value, (tuple, list)):
                hp.Fixed(name, value)
            elif kind == "choice":
                values = list(value)
                hp.Choice(name, values, default=preferred if preferred in values else values[0])
            else:
                low, high = value
                default = min(max(preferred or low, low), high)
                if kind == "int":
                    hp.Int(name, int(low), int(high), default=int(default))
                else:
                    hp.Float(name, float(low), float(high), sampling="log" if kind == "log" else "linear", default=default)

    def build(self, hp):
        self.declare_hyperparameters(hp)
        return BertTokenClassifier.from_pretrained(self.model, labels=self.labels, dropout=hp.get("dropout"))

    def fit(self, hp, model, train_features, validation_features, output_dir, callbacks=(), verbose=0, **kwargs):
        """Trains one trial; returns `{"val_entity_f1": best over epochs}`."""
        epochs = hp.values.get("tuner/epochs", hp.values.get("epochs"))
        history = train_token_classifier(
            model,
            train_features,
            validation_features,
            output_dir,
            epochs=epochs,
            batch_size=hp.get("batch_size"),
            learning_rate=hp.get("learning_rate"),
            warmup_ratio=hp.get("warmup_ratio"),
            weight_decay=hp.get("weight_decay"),
            callbacks=callbacks,
            verbose=verbose,
            **kwargs,
        )
        return {"val_entity_f1": max(history.history["val_entity_f1"])}
