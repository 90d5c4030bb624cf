"""Keeps the best model so far, by a monitored value, in kerasner's directory format."""

import json
import logging
import math
import shutil
from pathlib import Path

import tensorflow as tf
import tf_keras as keras

from kerasner.run_folder import check_free_space, weights_bytes
from kerasner.runtime import is_chief

logger = logging.getLogger(__name__)

STATE_FILE = "checkpoint.json"


class BestModelCheckpoint(keras.callbacks.Callback):
    """Saves the model with `save_pretrained` whenever `monitor` improves.

    The new model is written completely beside the target, then swapped in by renames, so a crash
    never leaves a half-written model at `directory`: it holds the previous best or the new one.
    After a crash between the two renames the previous best is at `<directory>.old`;
    `BertTokenClassifier.from_pretrained(directory)` loads it from there, and the next run puts it
    back. Before writing, it checks that the disk has room for the model, and a failed write
    leaves the previous best in place and raises `OSError`. `directory/checkpoint.json` records
    the epoch and value; with `resume`, a run compares against the best of the run it continues
    instead of starting afresh. With several workers only the chief writes.

    With `patience`, it also stops training once that many epochs in a row bring no improvement
    (like `keras.callbacks.EarlyStopping`). Its count comes from the recorded best epoch, so a
    resumed run stops where the uninterrupted one would. In `"max"` mode it never stops while
    the best value is 0: a model that has found no entity yet has not levelled off.

    Args:
        directory: path of the best model.
        monitor: str. Log key to watch. Defaults to `"val_entity_f1"`.
        mode: `"max"` or `"min"`. Defaults to `"max"`.
        tokenizer: saved with the model. Defaults to the model's `tokenizer`.
        resume: bool. Start from the best value recorded in `directory`. Defaults to True.
        initial_best: `(value, epoch)` or None. The best so far (1-based epoch) of the run being
            continued, taken instead of `directory`'s record. Defaults to None.
        patience: int or None. Epochs without improvement before training stops; None never
            stops it. Defaults to None.
        start_from_epoch: int. Training is not stopped before this many epochs are done.
            Defaults to `0`.
        verbose: int. 1 prints a line on every save. Defaults to `1`.

    Attributes:
        stopped_epoch: int or None. The (1-based) epoch after which it stopped training.

    Example:
    ```python
    callbacks = [kerasner.callbacks.EntityF1Callback(validation),
                 kerasner.callbacks.BestModelCheckpoint("runs/ner/best")]
    ```
    """

    def __init__(
        self, directory, monitor="val_entity_f1", mode="max", tokenizer=None, resume=True, patience=None,
        start_from_epoch=0, verbose=1, initial_best=None,
    ):
        super().__init__()
        if mode not in ("max", "min"):
            raise ValueError(f"Unknown mode. Expected one of {{'max', 'min'}}. Received: mode={mode!r}")
        if patience is not None and patience < 1:
            raise ValueError(f"`patience` must be a positive int or None. Received: patience={patience!r}")
        self.patience = patience
        self.start_from_epoch = start_from_epoch
        self.stopped_epoch = None
        self.directory = Path(directory)
        self.monitor = monitor
        self.mode = mode
        self.tokenizer = tokenizer
        self.resume = resume
        self.initial_best = initial_best
        self.verbose = verbose
        self.best = None
        self.best_epoch = None

    def on_train_begin(self, logs=None):
        old = self.directory.with_name(self.directory.name + ".old")
        if self._writes() and old.is_dir() and not self.directory.exists():
            old.rename(self.directory)
        self.best, self.best_epoch, self.stopped_epoch = None, None, None
        state = self.directory / STATE_FILE
        if self.initial_best is not None:
            self.best, self.best_epoch = self.initial_best
        elif self.resume and state.is_file():
            recorded = json.loads(state.read_text())
            if recorded.get("monitor") == self.monitor:
                self.best, self.best_epoch = recorded["value"], recorded["epoch"]

    def _improves(self, value):
        if value is None or math.isnan(value):
            return False
        if self.best is None:
            return True
        return value > self.best if self.mode == "max" else value < self.best

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None:
            logger.warning(
                "BestModelCheckpoint: %r is not in the logs (%s). Is the callback that writes it listed first?",
                self.monitor, sorted(logs or {}),
            )
            return
        value = float(value)
        if self._improves(value):
            if self._writes():
                self.save(epoch + 1, value)
            if self.verbose and self._writes():
                previous = "none" if self.best is None else f"{self.best:.4f}"
                print(f"Epoch {epoch + 1}: {self.monitor} improved from {previous} to {value:.4f}; saved {self.directory}")
            self.best, self.best_epoch = value, epoch + 1
        elif self._out_of_patience(epoch + 1):
            self.stopped_epoch = epoch + 1
            self.model.stop_training = True
            if self.verbose:
                print(
                    f"Epoch {epoch + 1}: no better {self.monitor} than {self.best:.4f} (epoch {self.best_epoch}) "
                    f"for {epoch + 1 - self.best_epoch} epochs; training stops"
                )

    def _out_of_patience(self, epochs_done):
        if self.patience is None or self.best_epoch is None or epochs_done < self.start_from_epoch:
            return False
        if self.mode == "max" and self.best <= 0:
            return False  # nothing found yet (an F1 of 0): the model has not started, not levelled off
        return epochs_done - self.best_epoch >= self.patience

    def _writes(self):
        """Only the chief writes when several workers train together; the others track the best."""
        return self.model is None or is_chief(self.model.distribute_strategy)

    def save(self, epoch, value):
        """Writes the model to `directory` through a temporary folder and renames."""
        temporary = self.directory.with_name(self.directory.name + ".tmp")
        old = self.directory.with_name(self.directory.name + ".old")
        for leftover in (temporary, old):
            if leftover.exists():
                shutil.rmtree(leftover)
        self.directory.parent.mkdir(parents=True, exist_ok=True)
        check_free_space(self.directory.parent, weights_bytes(self.model), f"the best model ({self.directory.name}/)")
        try:
            self.model.save_pretrained(temporary, tokenizer=self.tokenizer)
            state = {"epoch": epoch, "monitor": self.monitor, "value": value}
            (temporary / STATE_FILE).write_text(json.dumps(state, indent=2) + "\n")
        except (OSError, tf.errors.OpError) as error:
            shutil.rmtree(temporary, ignore_errors=True)
            raise OSError(f"{self.directory}: could not write the best model of epoch {epoch} ({error}); "
                          "the previous best model is kept") from None
        if self.directory.exists():
            self.directory.rename(old)
        temporary.rename(self.directory)
        if old.exists():
            shutil.rmtree(old)
