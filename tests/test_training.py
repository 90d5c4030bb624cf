import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tf_keras as keras

import kerasner

RUN = str(Path(__file__).with_name("resumable_run.py"))


def run(*args):
    return subprocess.run([sys.executable, RUN, *map(str, args)], capture_output=True, text=True, timeout=300)


def epochs_in(history_file):
    with open(history_file) as handle:
        return [int(row["epoch"]) for row in csv.DictReader(handle)]


def test_killed_run_resumes_from_the_last_completed_epoch(tmp_path):
    killed = run(tmp_path / "resumed", 2)
    assert killed.returncode == 17, killed.stderr[-2000:]
    assert epochs_in(tmp_path / "resumed" / "history.csv") == [0]
    resumed = run(tmp_path / "resumed")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "EPOCHS [0, 1, 2] TRAINED HERE [1, 2]" in resumed.stdout  # epoch 0 was not trained again
    uninterrupted = run(tmp_path / "straight")
    assert uninterrupted.returncode == 0, uninterrupted.stderr[-2000:]
    assert epochs_in(tmp_path / "resumed" / "history.csv") == epochs_in(tmp_path / "straight" / "history.csv") == [0, 1, 2]
    assert not (tmp_path / "resumed" / "backup").exists()  # removed when training ends
    assert kerasner.BertTokenClassifier.from_pretrained(tmp_path / "resumed" / "best").labels


def entity_f1_rows(history_file):
    with open(history_file) as handle:
        return [(row["epoch"], row["val_entity_f1"]) for row in csv.DictReader(handle)]


def test_planned_run_stops_by_patience_and_a_killed_one_stops_alike(tmp_path):
    straight = run(tmp_path / "straight", "--planned")
    assert straight.returncode == 0, straight.stderr[-2000:]
    # 6 steps an epoch: 1,000 steps would take 167 epochs, capped at 6; the F1 never improves after
    # epoch 1, so the run stops at epoch 3, the first epoch the rule may stop at.
    assert "PLAN 6 2 STOPPED 3 BEST 1" in straight.stdout
    assert epochs_in(tmp_path / "straight" / "history.csv") == [0, 1, 2]
    killed = run(tmp_path / "resumed", 3, "--planned")
    assert killed.returncode == 17, killed.stderr[-2000:]
    resumed = run(tmp_path / "resumed", "--planned")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "EPOCHS [0, 1, 2] TRAINED HERE [2]" in resumed.stdout and "STOPPED 3 BEST 1" in resumed.stdout
    assert entity_f1_rows(tmp_path / "resumed" / "history.csv") == entity_f1_rows(tmp_path / "straight" / "history.csv")
    assert not (tmp_path / "resumed" / "backup").exists()


def test_exact_epochs_train_every_epoch_without_early_stop(sample_features, tmp_path):
    model, train, validation = sample_features
    history = kerasner.train_token_classifier(
        model, train, validation, tmp_path, epochs=4, batch_size=16, learning_rate=1e-9, verbose=0
    )
    assert history.epoch == [0, 1, 2, 3] and history.stopped_epoch is None and history.best_epoch == 1
    assert history.plan.epochs == 4 and history.plan.patience is None
    with pytest.raises(ValueError, match="not both"):
        kerasner.train_token_classifier(model, train, validation, tmp_path / "x", epochs=2, max_epochs=4, verbose=0)


class ScriptedF1(keras.callbacks.Callback):
    """Replaces the measured validation entity F1 with a scripted one, epoch by epoch."""

    writes_logs = True  # runs before the callbacks that read the F1, after the EntityF1Callback

    def __init__(self, values):
        super().__init__()
        self.values = values

    def on_epoch_end(self, epoch, logs=None):
        logs["val_entity_f1"] = self.values[epoch]


def test_a_planned_run_stops_after_patience_with_its_best_weights(sample_features, tmp_path):
    model, train, validation = sample_features
    history = kerasner.train_token_classifier(
        model, train, validation, tmp_path, max_epochs=6, batch_size=16, learning_rate=3e-3, verbose=0,
        callbacks=[ScriptedF1([0.5, 0.9, 0.4, 0.3, 0.2, 0.1])],
    )
    assert history.epoch == [0, 1, 2, 3]  # epochs 3 and 4 bring nothing better than epoch 2's 0.9
    assert history.best_epoch == 2 and history.stopped_epoch == 4
    assert json.loads((tmp_path / "best" / "checkpoint.json").read_text())["epoch"] == 2
    best = kerasner.BertTokenClassifier.from_pretrained(tmp_path / "best")
    x, _, _ = next(validation.batches(8))
    np.testing.assert_allclose(model.predict_on_batch(x), best.predict_on_batch(x), atol=1e-5)


def test_no_stop_while_nothing_is_found(sample_features, tmp_path):
    model, train, validation = sample_features
    history = kerasner.train_token_classifier(
        model, train, validation, tmp_path, max_epochs=8, batch_size=16, learning_rate=3e-3, verbose=0,
        callbacks=[ScriptedF1([0.0, 0.0, 0.0, 0.0, 0.3, 0.3, 0.3, 0.3])],
    )
    assert history.best_epoch == 5 and history.stopped_epoch == 7  # an F1 of 0 is no plateau


def test_in_process_run_writes_history_and_best(sample_features, tmp_path):
    model, train, validation = sample_features
    history = kerasner.train_token_classifier(
        model, train, validation, tmp_path, epochs=2, batch_size=16, learning_rate=1e-3, verbose=0
    )
    assert len(history.history["val_entity_f1"]) == 2
    assert history.entity_f1.scores["f1"] == history.history["val_entity_f1"][-1]
    assert epochs_in(tmp_path / "history.csv") == [0, 1]
    assert (tmp_path / "best" / "kerasner.json").is_file()
    # Every labelled position weighs the same: the step's loss is a sum over the mean count.
    assert model.labelled_positions_per_step == train.labelled_positions() / -(-len(train) // 16)


def test_random_batches_by_token_budget(sample_features, tmp_path):
    model, train, validation = sample_features
    plan = train.batch_plan(16, shuffle=True, seed=42, pool_batches=1, max_tokens=256)
    assert len(plan) != len(train.batch_plan(16, shuffle=True, seed=42, max_tokens=256))
    batches = []
    kerasner.train_token_classifier(
        model, train, validation, tmp_path, epochs=1, batch_size=16, max_tokens=256, pool_batches=1, verbose=0,
        callbacks=[keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: batches.append(batch))],
    )
    assert len(batches) == len(plan)
    assert model.labelled_positions_per_step == train.labelled_positions() / len(plan)


def test_packed_random_batches_by_default(sample_features, tmp_path):
    model, train, validation = sample_features
    assert kerasner.resolve_batching(model) == (True, 1)
    assert kerasner.resolve_batching(model, pack=False) == (False, 16)
    rows = []
    history = kerasner.train_token_classifier(
        model, train, validation, tmp_path, epochs=1, batch_size=16, learning_rate=1e-3, verbose=0,
        callbacks=[keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: rows.append(batch))],
    )
    assert len(rows) == -(-len(train) // 16)  # one step per batch of 16 windows, packed into fewer rows
    assert model.labelled_positions_per_step == train.labelled_positions() / len(rows)
    assert history.history["loss"][0] > 0 and 0 <= history.history["val_entity_f1"][0] <= 1


def test_a_subclass_with_its_own_forward_pass_is_not_packed(sample_features, tmp_path):
    class OwnForward(kerasner.BertTokenClassifier):
        def call(self, inputs, training=False):  # may not keep packed windows apart
            return super().call(inputs, training=training)

    model, train, validation = sample_features
    subclassed = OwnForward(model.encoder, model.labels)
    assert not subclassed.can_pack
    assert kerasner.resolve_batching(subclassed) == (False, 16)
    with pytest.raises(ValueError, match="OwnForward cannot take packed batches"):
        kerasner.train_token_classifier(subclassed, train, validation, tmp_path, epochs=1, pack=True, verbose=0)
