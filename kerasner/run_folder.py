"""A training run's folder: one process at a time, the run's settings and epochs, and writes that a
kill cannot tear.

A folder holds one run. `run_state.json` records the settings the run was started with and one row
of logs per finished epoch; `history.csv` is written from those rows. Both are replaced whole
(written beside, then renamed), so a kill at any moment leaves the previous or the next version,
never a torn one. The model and optimizer state of the last finished epoch is in `backup/`
(`tf_keras.callbacks.BackupAndRestore`); the rows are written just before it, and a resumed run
keeps the rows the backup covers and trains the rest again.
"""

import csv
import errno
import io
import json
import os
import shutil
from pathlib import Path

import tensorflow as tf

STATE_FILE = "run_state.json"
HISTORY_FILE = "history.csv"
LOCK_FILE = ".lock"
BACKUP_DIR = "backup"
SPACE_MARGIN = 16 * 2**20  # bytes kept free beyond an estimate, for the files' metadata and small files

try:
    import fcntl
except ImportError:  # not POSIX: no lock
    fcntl = None


def write_atomically(path, text):
    """Replaces `path` by `text` through a temporary file and a rename: readers (and a process
    killed part-way) see the old or the new file, never a part."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        with open(temporary, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise _error(error.errno, f"{path}: could not write it ({error.strerror or error})") from None


def check_free_space(directory, needed_bytes, what):
    """Raises a clean `OSError` (ENOSPC) before a write of about `needed_bytes` that the disk of
    `directory` cannot hold: some writers (HDF5) crash the process on a full disk instead."""
    free = shutil.disk_usage(directory).free
    if free < needed_bytes + SPACE_MARGIN:
        raise _error(
            errno.ENOSPC,
            f"{directory}: not enough disk space to write {what}: it needs about "
            f"{(needed_bytes + SPACE_MARGIN) / 2**20:,.0f} MB and {free / 2**20:,.1f} MB are free",
        )


def _error(number, message):
    """An `OSError` with `errno` set whose text is `message` alone (no "[Errno N]" prefix)."""
    error = OSError(message)
    error.errno = number
    return error


def weights_bytes(model):
    return sum(int(weight.shape.num_elements() or 0) * weight.dtype.size for weight in model.weights)


_held_locks = {}


class RunLock:
    """Keeps other processes out of a run folder while it is held (`fcntl.flock` on `.lock`).

    The lock file holds the owner's pid, named in the error a second process gets. A lock left by a
    killed process is free: the system releases it with the process. Taking the lock again in the
    process that holds it is allowed (the script and `train_token_classifier` both take it).

    Example:
    ```python
    with kerasner.run_folder.RunLock("runs/ner"):
        ...
    ```
    """

    def __init__(self, directory):
        self.directory = Path(directory)
        self.path = None
        self._owner = False

    def __enter__(self):
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = (self.directory / LOCK_FILE).resolve()
        if fcntl is None or self.path in _held_locks:
            return self
        handle = open(self.path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            owner = handle.read().strip() or "unknown"
            handle.close()
            raise ValueError(
                f"{self.directory}: another training run (process {owner}) is using this folder; wait for it "
                "to end, or choose another output folder"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        _held_locks[self.path] = handle
        self._owner = True
        return self

    def __exit__(self, *exc_info):
        if self._owner:
            _held_locks.pop(self.path).close()  # closing releases the flock
            self._owner = False


class RunState:
    """The settings of a run and its finished epochs (see the module docstring).

    Attributes:
        settings: dict of the values that define the run; a run with other values is another run.
        epochs: list of dicts, one per finished epoch: `epoch` (0-based, as Keras counts) and logs.
        stopped_epoch: int or None. The (1-based) epoch after which early stopping ended training.
    """

    def __init__(self, settings, epochs=(), stopped_epoch=None):
        self.settings = dict(settings)
        self.epochs = [dict(row) for row in epochs]
        self.stopped_epoch = stopped_epoch

    @classmethod
    def load(cls, directory):
        """The state recorded in `directory`, or None."""
        path = Path(directory) / STATE_FILE
        if not path.is_file():
            return None
        try:
            recorded = json.loads(path.read_text(encoding="utf-8"))
            return cls(recorded["settings"], recorded["epochs"], recorded.get("stopped_epoch"))
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f"{path}: not a kerasner run state ({error}); remove the folder or start afresh") from None

    def save(self, directory):
        directory = Path(directory)
        state = {"settings": self.settings, "epochs": self.epochs, "stopped_epoch": self.stopped_epoch}
        write_atomically(directory / STATE_FILE, json.dumps(state, indent=1) + "\n")
        write_atomically(directory / HISTORY_FILE, self.history_csv())

    def complete(self, planned_epochs):
        """Whether training is over: every planned epoch ran, or early stopping ended it."""
        return self.stopped_epoch is not None or len(self.epochs) >= planned_epochs

    def keep(self, count):
        """Keeps the first `count` epochs (those the backup holds), dropping any stop decided later."""
        if len(self.epochs) > count:
            self.epochs = self.epochs[:count]
            self.stopped_epoch = None

    def best(self, monitor, mode="max"):
        """`(value, epoch)` of the best `monitor` so far (epoch 1-based; the first of equals), or None."""
        rows = [row for row in self.epochs if row.get(monitor) is not None]
        if not rows:
            return None
        pick = max if mode == "max" else min
        best = pick(rows, key=lambda row: (row[monitor] if mode == "max" else -row[monitor], -row["epoch"]))
        return best[monitor], best["epoch"] + 1

    def history(self):
        """The epochs as a `fit` history: `(epoch numbers, {key: values})`."""
        keys = list(dict.fromkeys(key for row in self.epochs for key in row if key != "epoch"))
        return [row["epoch"] for row in self.epochs], {key: [row.get(key) for row in self.epochs] for key in keys}

    def history_csv(self):
        keys = ["epoch"] + list(dict.fromkeys(key for row in self.epochs for key in row if key != "epoch"))
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=keys, restval="", lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.epochs)
        return text.getvalue()


def differences(recorded, wanted):
    """`"key: recorded -> wanted"` for every key whose value differs between two settings dicts."""
    keys = list(dict.fromkeys(list(recorded) + list(wanted)))
    missing = "(not set)"
    return [
        f"{key}: {recorded.get(key, missing)!r} -> {wanted.get(key, missing)!r}"
        for key in keys
        if recorded.get(key, missing) != wanted.get(key, missing)
    ]


def backed_up_epochs(backup_dir):
    """Epochs finished in the `BackupAndRestore` backup at `backup_dir` (0 without one)."""
    latest = tf.train.latest_checkpoint(str(Path(backup_dir) / "chief"))
    if latest is None:
        return 0
    reader = tf.train.load_checkpoint(latest)
    return int(reader.get_tensor("ckpt_saved_epoch/.ATTRIBUTES/VARIABLE_VALUE")) + 1


def clear_run(directory, names):
    """Removes the files and folders `names` of an earlier run from `directory`."""
    directory = Path(directory)
    for name in names:
        path = directory / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
