"""Training speed in real (non-padding) tokens per second."""

import time

import tf_keras as keras


class ThroughputCallback(keras.callbacks.Callback):
    """Writes `train_tokens_per_second` and `train_seconds` into `logs` at each epoch end.

    The time runs from the epoch's first batch to its last, so validation and other epoch-end
    work are not counted; tokens are the real sub-tokens (special tokens included, padding not).

    Args:
        tokens_per_epoch: int, e.g. `train_features.lengths.sum()`.
    """

    writes_logs = True

    def __init__(self, tokens_per_epoch):
        super().__init__()
        self.tokens_per_epoch = int(tokens_per_epoch)
        self._start = self._end = None

    def on_epoch_begin(self, epoch, logs=None):
        self._start = self._end = None

    def on_train_batch_begin(self, batch, logs=None):
        if self._start is None:
            self._start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self._end = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and self._start is not None and self._end > self._start:
            seconds = self._end - self._start
            logs["train_seconds"] = seconds
            logs["train_tokens_per_second"] = self.tokens_per_epoch / seconds
