"""One run per folder: a killed run ends as the uninterrupted one, other runs are refused."""

import json
import os
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import kerasner
from kerasner.run_folder import RunLock, RunState, differences

HERE = Path(__file__).resolve().parent
TRAIN = HERE.parent / "scripts" / "train.py"
ARGS = ["--epochs", "4", "--verbose", "0"]
# Moments of one run, in the order a run reaches them (see kill_at.py). Every process of the
# chain is killed at its moment, and the next one goes on from what the kill left.
ALL_MOMENTS = [
    "mid-epoch", "best-written", "validation@2", "best-write", "best-renames", "state-csv", "csv-backup", "backup-index",
    "epoch-start@2", "end-of-fit", "after-training", "report", "plots", "metrics",
]
QUICK_MOMENTS = ["mid-epoch", "best-written", "best-renames", "csv-backup", "report"]
# Log values that measure time, not training.
TIMING = {"train_seconds", "train_tokens_per_second"}
TEXTS = ["John Smith visited Paris on Monday.", "The United Nations said the army killed soldiers in Berlin."]


def environment():
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(HERE.parent)}


def train(output, *extra, moment=None):
    command = [sys.executable, str(TRAIN)] if moment is None else [sys.executable, str(HERE / "kill_at.py"), moment, "--"]
    return subprocess.run(
        command + ["--output", str(output), *ARGS, *extra], capture_output=True, text=True, env=environment(), timeout=900
    )


def rows(output):
    state = RunState.load(output)
    return [{k: v for k, v in row.items() if k not in TIMING} for row in state.epochs]


def metrics(output):
    values = json.loads((output / "metrics.json").read_text())
    for key in ("wall_seconds", "train_tokens_per_second"):
        values.pop(key)
    values["data"].pop("read_seconds")
    values["data"]["sources"]["data"].pop("path")
    values["config"].pop("output")
    return values


def predictions(output):
    model = kerasner.BertTokenClassifier.from_pretrained(output / "best")
    return kerasner.EntityPredictor(model).predict(TEXTS)


def kill_chain(tmp_path, moments):
    reference, killed = tmp_path / "uninterrupted", tmp_path / "killed"
    loadable = []

    def chain():
        for moment in moments:
            result = train(killed, moment=moment)
            assert result.returncode == -signal.SIGKILL, f"{moment} was not reached: {result.stderr[-2000:]}"
            # After any kill, a best model written before it can still be loaded.
            if (killed / "best").exists() or (killed / "best.old").exists():
                loadable.append(bool(kerasner.BertTokenClassifier.from_pretrained(killed / "best").labels))
        return train(killed)

    with ThreadPoolExecutor(2) as pool:
        uninterrupted, resumed = pool.submit(train, reference), pool.submit(chain)
        uninterrupted, resumed = uninterrupted.result(), resumed.result()
    assert uninterrupted.returncode == 0, uninterrupted.stderr[-2000:]
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert all(loadable) and loadable
    assert rows(killed) == rows(reference)
    assert (killed / "history.csv").read_text().count("\n") == 5  # a header and 4 epochs, none twice
    assert metrics(killed) == metrics(reference)
    assert metrics(killed)["entity"]["f1"] > 0.5
    assert predictions(killed) == predictions(reference)
    assert not (killed / "backup").exists() and not (killed / "best.old").exists()
    again = train(killed)
    assert again.returncode == 2 and "holds a finished run" in again.stderr


def test_a_run_killed_at_five_moments_ends_as_the_uninterrupted_run(tmp_path):
    kill_chain(tmp_path, QUICK_MOMENTS)


@pytest.mark.slow
def test_a_run_killed_at_fourteen_moments_ends_as_the_uninterrupted_run(tmp_path):
    kill_chain(tmp_path, ALL_MOMENTS)


def test_a_folder_refuses_another_run_names_the_differences_and_overwrite_starts_afresh(tmp_path):
    output = tmp_path / "run"
    first = train(output, moment="epoch-start@2")  # killed after epoch 1
    assert first.returncode == -signal.SIGKILL
    other = train(output, "--seed", "7", "--dropout", "0.2")
    assert other.returncode == 2
    message = other.stderr.strip().splitlines()[-1]
    assert message.startswith("error: ") and "seed: 42 -> 7" in message and "dropout: 0.1 -> 0.2" in message
    assert "epochs" not in message
    assert RunState.load(output).settings["seed"] == 42 and len(RunState.load(output).epochs) == 1  # untouched
    fresh = train(output, "--seed", "7", "--overwrite")
    assert fresh.returncode == 0, fresh.stderr[-2000:]
    assert json.loads((output / "config.json").read_text())["seed"] == 7
    assert [row["epoch"] for row in RunState.load(output).epochs] == [0, 1, 2, 3]
    # The folder's config.json repeats the run: here, a finished one.
    repeat = subprocess.run(
        [sys.executable, str(TRAIN), "--config", str(output / "config.json"), "--verbose", "0"],
        capture_output=True, text=True, env=environment(),
    )
    assert repeat.returncode == 2 and "holds a finished run" in repeat.stderr


def test_a_second_process_is_refused_with_the_pid_of_the_first_and_a_dead_ones_lock_is_taken_over(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from kerasner.run_folder import RunLock\n"
         "with RunLock(sys.argv[1]):\n    print('held', flush=True); time.sleep(600)", str(tmp_path)],
        stdout=subprocess.PIPE, text=True, env=environment(),
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(ValueError, match=rf"another training run \(process {holder.pid}\)"):
            with RunLock(tmp_path):
                pass
        result = train(tmp_path)
        assert result.returncode == 2 and f"process {holder.pid}" in result.stderr
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with RunLock(tmp_path):  # the killed process's lock is free
        assert (tmp_path / ".lock").read_text().strip() == str(os.getpid())


def tiny_run(output, sample_features, epochs, **kwargs):
    model, train_features, validation_features = sample_features
    history = kerasner.train_token_classifier(
        model, train_features, validation_features, output, epochs=epochs, batch_size=16, learning_rate=1e-3,
        verbose=0, **kwargs,
    )
    return history, [w.copy() for w in model.get_weights()]


def test_train_token_classifier_returns_a_finished_run_and_refuses_other_settings(tmp_path, sample_features):
    first, weights = tiny_run(tmp_path, sample_features, epochs=2)
    sample_features[0].set_weights([w * 0 for w in weights])
    again, again_weights = tiny_run(tmp_path, sample_features, epochs=2)  # returns at once, with the best weights
    assert again.epoch == [0, 1] and again.history == first.history and again.best_epoch == first.best_epoch
    assert all(np.array_equal(a, b) for a, b in zip(again_weights, weights))
    with pytest.raises(ValueError, match=r"other settings \(epochs: 2 -> 3"):
        tiny_run(tmp_path, sample_features, epochs=3)
    assert tiny_run(tmp_path, sample_features, epochs=3, overwrite=True)[0].epoch == [0, 1, 2]


def test_differences_names_each_changed_key():
    assert differences({"a": 1, "b": 2}, {"a": 1, "b": 3, "c": 4}) == ["b: 2 -> 3", "c: '(not set)' -> 4"]


def test_a_missing_best_model_loads_from_the_previous_one(tmp_path, tokenizer, labels):
    from conftest import make_encoder

    model = kerasner.BertTokenClassifier(make_encoder(tokenizer.vocab_size), labels)
    model.tokenizer = tokenizer
    model.save_pretrained(tmp_path / "best.old")
    loaded = kerasner.BertTokenClassifier.from_pretrained(tmp_path / "best")
    assert loaded.labels == labels


def test_a_full_disk_gives_a_clean_error_and_keeps_the_best_model(tmp_path, monkeypatch, sample_features):
    import shutil
    from collections import namedtuple

    usage, real, calls = namedtuple("usage", "total used free"), shutil.disk_usage, []

    def disk_usage(path):  # full once the first epoch is written
        calls.append(path)
        return real(path) if len(calls) <= 2 else usage(10**9, 10**9 - 2**20, 2**20)

    monkeypatch.setattr(shutil, "disk_usage", disk_usage)
    with pytest.raises(OSError, match="not enough disk space to write"):
        tiny_run(tmp_path, sample_features, epochs=3)
    assert json.loads((tmp_path / "best" / "checkpoint.json").read_text())["epoch"] == 1
    assert kerasner.BertTokenClassifier.from_pretrained(tmp_path / "best").labels
    assert not (tmp_path / "best.tmp").exists()
