"""Runs `scripts/train.py` and kills it with SIGKILL at a chosen moment: `python kill_at.py MOMENT -- ARGS`.

A moment is a place in the code (see MOMENTS) and is reached at its first occurrence in this
process, unless the name ends with `@N` (the N-th). The process exits with status 0 only if the
moment was never reached.
"""

import os
import pathlib
import runpy
import signal
import sys

HERE = pathlib.Path(__file__).resolve().parent


def kill():
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def patch(owner, name, when="before", condition=lambda *args, **kwargs: True, count=1):
    """Replaces `owner.name` by a wrapper that kills the process at the `count`-th call that
    meets `condition`, before or after the original runs."""
    original = getattr(owner, name)
    calls = [0]

    def wrapper(*args, **kwargs):
        hit = condition(*args, **kwargs)
        if hit:
            calls[0] += 1
        if hit and when == "before" and calls[0] == count:
            kill()
        result = original(*args, **kwargs)
        if hit and when == "after" and calls[0] == count:
            kill()
        return result

    setattr(owner, name, wrapper)


def target_named(file_name):
    return lambda *args, **kwargs: pathlib.Path(str(args[-1])).name == file_name


def install(moment, count):
    import tensorflow as tf
    import tf_keras as keras
    import transformers

    import kerasner
    from kerasner import run_folder, token_features
    from kerasner.commands import run_report
    from kerasner.callbacks import entity_f1_callback, run_history

    moments = {
        # in the middle of an epoch: the batch generator builds its 5th batch
        "mid-epoch": lambda: patch(token_features.TokenFeatures, "pack", count=5 * count),
        # while the validation entity F1 is computed
        "validation": lambda: patch(entity_f1_callback, "predict_tags", count=count),
        # while the best model is written (the encoder is, the tokenizer is not)
        "best-write": lambda: patch(transformers.PreTrainedTokenizerBase, "save_pretrained", count=count),
        # after the best model is written, before the epoch's rows are
        "best-written": lambda: patch(kerasner.callbacks.BestModelCheckpoint, "save", "after", count=count),
        # between the two renames that swap in a new best model: best/ is missing
        "best-renames": lambda: patch(
            pathlib.Path, "rename", "after", lambda self, target: str(target).endswith("best.old"), count
        ),
        # after run_state.json is written and before history.csv is
        "state-csv": lambda: patch(
            run_folder.os, "replace", "after", lambda source, target: str(target).endswith("run_state.json"), count
        ),
        # after the epoch's rows are written and before the backup
        "csv-backup": lambda: patch(keras.callbacks.BackupAndRestore, "on_epoch_end", count=count),
        # after the backup's data files are written and before its index is
        "backup-index": lambda: patch(tf.train.CheckpointManager, "_record_state", count=count),
        # at the start of an epoch, after the previous one is backed up
        "epoch-start": lambda: patch(run_history.EpochSeeds, "on_epoch_begin", count=count),
        # after the last epoch, before the backup is removed
        "end-of-fit": lambda: patch(keras.callbacks.BackupAndRestore, "on_train_end", count=count),
        # after training, before the report
        "after-training": lambda: patch(run_report, "evaluate_features", count=count),
        # during the report: the raw-text evaluation
        "report": lambda: patch(run_report, "evaluate_raw_text", count=count),
        # after report.txt, before the plots and metrics.json
        "plots": lambda: patch(run_report, "plot_per_type_f1", count=count),
        # while metrics.json is written: its temporary file exists, the rename has not happened
        "metrics": lambda: patch(run_folder.os, "replace", "before", target_named("metrics.json"), count),
    }
    moments[moment]()
    return kerasner


def main():
    separator = sys.argv.index("--")
    moment, _, count = sys.argv[1].partition("@")
    sys.path.insert(0, str(HERE.parent / "scripts"))
    install(moment, int(count or 1))
    sys.argv = ["train.py"] + sys.argv[separator + 1 :]
    runpy.run_path(str(HERE.parent / "scripts" / "train.py"), run_name="__main__")


if __name__ == "__main__":
    main()
