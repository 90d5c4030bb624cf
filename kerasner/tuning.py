"""Hyperparameter search with keras-tuner: the search space (`NerHyperModel`) and the tuner (`NerTuner`)."""

import copy
import gc
import json
import logging
from pathlib import Path

import keras_tuner
import tensorflow as tf
import tf_keras as keras

from kerasner.bert_token_classifier import HEADS, BertTokenClassifier
from kerasner.training import train_token_classifier
from kerasner.training_config import DEFAULTS
from kerasner.training_plan import default_learning_rate

logger = logging.getLogger(__name__)

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
        head: `"softmax"` or `"crf"`, the head of every trial (`BertTokenClassifier`). Defaults
            to `"softmax"`.

    Example:
    ```python
    hypermodel = kerasner.NerHyperModel("bert-base-cased", labels, epochs=(1, 2))
    ```
    """

    def __init__(self, model, labels, name=None, tunable=True, head="softmax", **ranges):
        super().__init__(name=name, tunable=tunable)
        if head not in HEADS:
            raise ValueError(f"`head` must be one of {list(HEADS)}. Received: head={head!r}")
        self.head = head
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
        return BertTokenClassifier.from_pretrained(self.model, labels=self.labels, dropout=hp.get("dropout"), head=self.head)

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


TUNERS = ("random", "bayesian", "hyperband")
OBJECTIVE = keras_tuner.Objective("val_entity_f1", direction="max")


def make_oracle(tuner, max_trials=10, max_epochs=3, seed=None, hyperparameters=None, tune_new_entries=True):
    """A keras-tuner oracle maximising `val_entity_f1`.

    Args:
        tuner: `"random"`, `"bayesian"` or `"hyperband"`.
        max_trials: int. Trials at most (Hyperband stops there too). Defaults to `10`.
        max_epochs: int. Hyperband's largest epoch budget. Defaults to `3`.
        seed: int or None. Defaults to None.
        hyperparameters: a `keras_tuner.HyperParameters` with overrides (e.g. `hp.Fixed`).
        tune_new_entries: bool. Search the entries the overrides leave out. Defaults to True.
    """
    options = {
        "objective": OBJECTIVE,
        "seed": seed,
        "hyperparameters": hyperparameters,
        "tune_new_entries": tune_new_entries,
    }
    if tuner == "random":
        return keras_tuner.oracles.RandomSearchOracle(max_trials=max_trials, **options)
    if tuner == "bayesian":
        return keras_tuner.oracles.BayesianOptimizationOracle(max_trials=max_trials, **options)
    if tuner == "hyperband":
        oracle = keras_tuner.oracles.HyperbandOracle(max_epochs=max_epochs, factor=2, **options)
        oracle.max_trials = max_trials
        return oracle
    raise ValueError(f"Unknown tuner. Expected one of {set(TUNERS)}. Received: tuner={tuner!r}")


class NerTuner(keras_tuner.Tuner):
    """Runs a hyperparameter search of a `NerHyperModel` with the tf-keras models of kerasner.

    keras-tuner's own trial loop expects Keras 3 models; this tuner runs each trial itself: it
    builds a fresh model from the pretrained weights, trains it in `<project>/trial_<id>/` (best
    model by entity F1 in `best/`), reports the best `val_entity_f1`, and clears the Keras session
    so memory is released between trials. A search started again with the same `directory` and
    `project_name` reloads the finished trials and does not run them again; a trial that was
    interrupted runs again, resuming from its last completed epoch.

    Args:
        hypermodel: a `NerHyperModel`.
        tuner: `"random"`, `"bayesian"` or `"hyperband"`, or a keras-tuner oracle. Defaults to
            `"random"`.
        max_trials: int. Defaults to `10`.
        max_epochs: int. Hyperband's largest epoch budget. Defaults to `3`.
        seed: int or None. Defaults to None.
        hyperparameters: `keras_tuner.HyperParameters` overrides. Defaults to None.
        directory, project_name: where trials are stored. Default to `"tuning"`, `"kerasner"`.
        overwrite: bool. Start afresh instead of resuming. Defaults to False.
        **kwargs: passed to `keras_tuner.Tuner`, e.g. `distribution_strategy=` (each trial's
            model is built under its scope).

    Example:
    ```python
    tuner = kerasner.NerTuner(kerasner.NerHyperModel("bert-base-cased", labels), "bayesian", max_trials=8)
    tuner.search(train_features, validation_features)
    tuner.export_best_hyperparameters("runs/search/best_hyperparameters.json")
    ```
    """

    def __init__(
        self,
        hypermodel,
        tuner="random",
        max_trials=10,
        max_epochs=3,
        seed=None,
        hyperparameters=None,
        directory="tuning",
        project_name="kerasner",
        overwrite=False,
        **kwargs,
    ):
        oracle = tuner
        if isinstance(tuner, str):
            oracle = make_oracle(tuner, max_trials, max_epochs, seed, hyperparameters)
        super().__init__(
            oracle=oracle,
            hypermodel=hypermodel,
            directory=str(directory),
            project_name=project_name,
            overwrite=overwrite,
            **kwargs,
        )

    def _populate_initial_space(self):
        # keras-tuner builds the model once here to find conditional hyperparameters; this search
        # space has none, and building would load the pretrained encoder for nothing.
        hp = self.oracle.get_space()
        self.hypermodel.declare_hyperparameters(hp)
        self.oracle.update_space(hp)

    def trial_dir(self, trial_id):
        return Path(self.project_dir) / f"trial_{trial_id}"

    def run_trial(self, trial, train_features, validation_features, callbacks=(), verbose=0, **kwargs):
        keras.backend.clear_session()
        gc.collect()
        hp = trial.hyperparameters
        with (self.distribution_strategy or tf.distribute.get_strategy()).scope():
            model = self.hypermodel.build(hp)
        try:
            return self.hypermodel.fit(
                hp,
                model,
                train_features,
                validation_features,
                output_dir=self.trial_dir(trial.trial_id),
                callbacks=copy.deepcopy(list(callbacks)),
                verbose=verbose,
                **kwargs,
            )
        finally:
            del model
            keras.backend.clear_session()
            gc.collect()

    def save_model(self, trial_id, model, step=0):
        model.save_pretrained(self.trial_dir(trial_id) / "best")

    def load_model(self, trial):
        return BertTokenClassifier.from_pretrained(self.trial_dir(trial.trial_id) / "best")

    def best_hyperparameters(self):
        """The best trial's values, as `kerasner train --config` reads them."""
        best = self.oracle.get_best_trials(1)
        if not best:
            raise ValueError(f"No finished trial in {self.project_dir}; run `search` first")
        trial = best[0]
        values = {k: v for k, v in trial.hyperparameters.values.items() if not k.startswith("tuner/")}
        if "tuner/epochs" in trial.hyperparameters.values:
            values["epochs"] = trial.hyperparameters.values["tuner/epochs"]
        if hasattr(self.hypermodel, "head"):  # so that `kerasner train --config` trains the searched head
            values["head"] = self.hypermodel.head
        values["_search"] = {
            "trial_id": trial.trial_id,
            "val_entity_f1": trial.score,
            "best_model": str(self.trial_dir(trial.trial_id) / "best"),
        }
        return values

    def export_best_hyperparameters(self, path):
        """Writes `best_hyperparameters()` as JSON to `path` and returns the values."""
        values = self.best_hyperparameters()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values, indent=2) + "\n")
        return values
