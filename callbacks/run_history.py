"""Callbacks that make a resumed run equal to an uninterrupted one: epochs recorded whole, and
randomness that depends only on the seed and the epoch."""

import numpy as np
import tf_keras as keras
from tf_keras.src import backend

from kerasner.run_folder import BACKUP_DIR, check_free_space, weights_bytes
from kerasner.runtime import is_chief


class RunHistory(keras.callbacks.Callback):
    """Records every finished epoch's logs in a `kerasner.run_folder.RunState` and saves it.

    List it after the callbacks that write logs or stop training (`EntityF1Callback`,
    `BestModelCheckpoint`) and before `BackupAndRestore`, so the state on disk is never behind the
    backup. Before each save it checks that the disk holds the backup that follows (the weights
    and the optimizer's two moments), and stops the run with a clean `OSError` if not. Only the
    chief writes.

    Args:
        directory: the run folder.
        state: the `RunState` to extend; its rows from epoch `e` on are replaced when epoch `e`
            finishes again.
    """

    def __init__(self, directory, state):
        super().__init__()
        self.directory = directory
        self.state = state

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": epoch, **{key: float(value) for key, value in (logs or {}).items()}}
        self.state.epochs = [r for r in self.state.epochs if r["epoch"] < epoch] + [row]
        self.state.stopped_epoch = epoch + 1 if self.model.stop_training else None
        if is_chief(self.model.distribute_strategy):
            check_free_space(self.directory, 3 * weights_bytes(self.model), f"the run's backup ({BACKUP_DIR}/)")
            self.state.save(self.directory)


class EpochSeeds(keras.callbacks.Callback):
    """Draws the dropout masks of epoch `e` from a seed made of `(seed, e)`.

    tf-keras' default dropout draws from a random op whose state lives in the process, so a run
    resumed in a new process draws other masks than the uninterrupted one. This callback gives
    every dropout layer of the model its own `tf.random.Generator` and resets it at each epoch's
    start from `(seed, epoch, layer index)`, which makes an epoch's masks the same whichever
    process runs it.

    Args:
        seed: int.
    """

    def __init__(self, seed):
        super().__init__()
        self.seed = int(seed)
        self.generators = None

    def on_train_begin(self, logs=None):
        if self.generators is None:
            with self.model.distribute_strategy.scope():
                self.generators = []
                for index, layer in enumerate(_dropout_layers(self.model)):
                    rng = backend.RandomGenerator(self._seed(-1, index), rng_type="stateful")
                    rng._maybe_init()
                    layer._random_generator = rng
                    self.generators.append(rng._generator)

    def on_epoch_begin(self, epoch, logs=None):
        for index, generator in enumerate(self.generators):
            generator.reset_from_seed(self._seed(epoch, index))

    def _seed(self, epoch, index):
        return int(np.random.SeedSequence([self.seed, epoch + 1, index]).generate_state(1, np.uint64)[0] >> 1)


def _dropout_layers(model):
    return [layer for layer in model.submodules if isinstance(layer, keras.layers.Dropout)]
