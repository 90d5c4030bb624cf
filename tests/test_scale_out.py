"""tf.distribute strategies, mixed precision and gradient accumulation."""

import csv
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

import kerasner
from conftest import LABELS, make_encoder, random_batch

HERE = Path(__file__).parent


def no_dropout_model(vocab_size=60, seed=0, model_class=kerasner.BertTokenClassifier):
    """A tiny classifier without dropout anywhere: two runs see the same function."""
    model = model_class(make_encoder(vocab_size, seed, dropout=0.0), labels=LABELS, dropout=0.0)
    model(model.dummy_inputs())
    return model


def flat_weights(model):
    return np.concatenate([w.numpy().ravel() for w in model.trainable_weights])


@pytest.fixture
def float32_after():
    yield
    keras.mixed_precision.set_global_policy("float32")


# --- Gradient accumulation ------------------------------------------------------------------


@pytest.mark.parametrize("steps", [3, 16])
def test_accumulated_micro_batches_give_the_update_of_one_batch(steps):
    # Windows of different lengths and label counts: micro-batch means must be weighted by
    # their labelled positions to add up to the batch mean.
    x, y = random_batch(batch=16, seq_len=12, seed=3)
    updated = {}
    for accumulation in (1, steps):
        model = no_dropout_model()
        # Plain SGD: the update is the gradient itself (Adam's first step, about lr * sign, would
        # blow rounding up where a gradient is near 0).
        model.compile(keras.optimizers.SGD(0.5), gradient_accumulation_steps=accumulation)
        before = flat_weights(model)
        logs = model.train_on_batch(x, y, return_dict=True)
        updated[accumulation] = (flat_weights(model), logs)
    (one, one_logs), (accumulated, accumulated_logs) = updated[1], updated[steps]
    assert np.abs(one - before).max() > 1e-3  # the step moved the weights
    np.testing.assert_allclose(accumulated, one, atol=2e-6)
    assert accumulated_logs["token_accuracy"] == pytest.approx(one_logs["token_accuracy"], abs=1e-6)


def test_unweighted_micro_batch_means_would_differ():
    # The check above can fail: averaging the micro-batches' means (instead of weighting them by
    # their labelled positions) moves the weights elsewhere on this batch.
    x, y = random_batch(batch=16, seq_len=12, seed=3)
    y[8:, 2:] = -100  # the second half has few labels
    model = no_dropout_model()
    model.compile(keras.optimizers.SGD(0.5), gradient_accumulation_steps=2)
    model.train_on_batch(x, y)
    weighted = flat_weights(model)
    model = no_dropout_model()
    model.compile(keras.optimizers.SGD(0.5))
    model.train_on_batch({k: v[:8] for k, v in x.items()}, y[:8], sample_weight=np.full(8, 0.5))
    model.train_on_batch({k: v[8:] for k, v in x.items()}, y[8:], sample_weight=np.full(8, 0.5))
    assert np.abs(weighted - flat_weights(model)).max() > 1e-4


@pytest.mark.parametrize("accumulation", [1, 2])
def test_loss_per_position_is_the_sum_over_a_constant(accumulation):
    # With labelled_positions_per_step=N a step follows sum(losses) / N = mean * count / N: for
    # plain SGD, the step of the batch mean at a learning rate scaled by count / N.
    x, y = random_batch(batch=16, seq_len=12, seed=3)
    y[8:, 2:] = -100
    count = int((y != -100).sum())
    per_step = 40.0
    model = no_dropout_model()
    model.compile(keras.optimizers.SGD(0.5), gradient_accumulation_steps=accumulation, labelled_positions_per_step=per_step)
    model.train_on_batch(x, y)
    summed = flat_weights(model)
    reference = no_dropout_model()
    reference.compile(keras.optimizers.SGD(0.5 * count / per_step))
    reference.train_on_batch(x, y)
    np.testing.assert_allclose(summed, flat_weights(reference), atol=2e-6)
    mean = no_dropout_model()
    mean.compile(keras.optimizers.SGD(0.5), gradient_accumulation_steps=accumulation)
    mean.train_on_batch(x, y)
    assert np.abs(flat_weights(mean) - summed).max() > 1e-3  # count / N = 2.6: a different step


def test_labelled_positions_per_step_must_be_positive():
    with pytest.raises(ValueError, match="labelled_positions_per_step"):
        no_dropout_model().compile(labelled_positions_per_step=0)


def test_gradient_accumulation_must_be_a_positive_int():
    model = no_dropout_model()
    with pytest.raises(ValueError, match="gradient_accumulation_steps"):
        model.compile(gradient_accumulation_steps=0)


def test_training_run_with_accumulation_takes_fewer_larger_steps(sample_features, tmp_path):
    model, train, validation = sample_features
    history = kerasner.train_token_classifier(
        model, train, validation, tmp_path / "run", epochs=2, batch_size=8, gradient_accumulation_steps=3, verbose=0
    )
    steps_per_epoch = int(np.ceil(len(train) / 24))
    assert int(model.optimizer.iterations.numpy()) == 2 * steps_per_epoch
    assert np.isfinite(history.history["loss"]).all()
    assert (tmp_path / "run" / "best" / "kerasner.json").is_file()


# --- Mixed precision ------------------------------------------------------------------------


@pytest.mark.parametrize("precision", ["float16", "bfloat16"])
def test_mixed_policy_keeps_logits_and_loss_in_float32(precision, float32_after, tmp_path):
    assert kerasner.set_mixed_precision(precision) == f"mixed_{precision}"
    model = no_dropout_model()
    x, y = random_batch(batch=8, seq_len=12)
    hidden = model.encode(x)
    logits = model(x)
    assert hidden.dtype == getattr(tf, precision)  # the encoder computes in half precision
    assert logits.dtype == tf.float32
    assert model.classifier.kernel.dtype == tf.float32
    model.compile(kerasner.create_optimizer(1e-3))
    if precision == "float16":
        assert isinstance(model.optimizer, keras.mixed_precision.LossScaleOptimizer)
    loss = model.compute_loss(x, tf.constant(y), logits, None)
    assert loss.dtype == tf.float32
    history = model.fit(x, y, batch_size=4, epochs=3, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert history.history["loss"][-1] < history.history["loss"][0]
    # Weights stay float32: a model saved under the policy loads in float32 and predicts alike.
    model.save_pretrained(tmp_path / "saved")
    keras.mixed_precision.set_global_policy("float32")
    restored = kerasner.BertTokenClassifier.from_pretrained(tmp_path / "saved")
    np.testing.assert_allclose(restored(x).numpy(), model(x).numpy(), atol=0.05)
    assert (restored(x).numpy().argmax(-1) == model(x).numpy().argmax(-1)).mean() > 0.95


def test_mixed_precision_casts_the_rows_looked_up_not_the_word_table(float32_after):
    # Reading the AutoCastVariable inside the call would cast all of it (30,522 x 384 values for
    # BERT) every step; only the gathered rows are cast, and the table's gradient stays sparse.
    kerasner.set_mixed_precision("bfloat16")
    model = no_dropout_model()
    table = model.encoder.get_input_embeddings().weight
    x, y = random_batch(batch=4, seq_len=12)

    def loss(inputs):
        return tf.reduce_sum(model(inputs, training=True))

    graph = tf.function(loss).get_concrete_function(x).graph
    vocabulary, width = table.shape
    whole_table_casts = [
        op for op in graph.get_operations()
        if op.type == "Cast" and op.inputs[0].shape.as_list() == [vocabulary, width]
    ]
    assert not whole_table_casts
    with tf.GradientTape() as tape:
        value = loss(x)
    gradient = tape.gradient(value, table)
    assert isinstance(gradient, tf.IndexedSlices) and gradient.dtype == tf.float32
    keras.mixed_precision.set_global_policy("float32")
    full = no_dropout_model()
    full.set_weights(model.get_weights())
    np.testing.assert_allclose(model(x).numpy(), full(x).numpy(), atol=0.05)


def test_mixed_precision_with_accumulation_stays_finite(float32_after):
    kerasner.set_mixed_precision("float16")
    model = no_dropout_model()
    model.compile(kerasner.create_optimizer(1e-3), gradient_accumulation_steps=2)
    x, y = random_batch(batch=8, seq_len=12)
    history = model.fit(x, y, batch_size=8, epochs=3, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert history.history["loss"][-1] < history.history["loss"][0]


@pytest.mark.parametrize("bfloat16_cpu, policy", [(False, "float32"), (True, "mixed_bfloat16")])
def test_auto_precision_on_a_cpu_follows_its_bfloat16_instructions(bfloat16_cpu, policy, float32_after, monkeypatch):
    monkeypatch.setattr("kerasner.runtime.cpu_has_bfloat16", lambda: bfloat16_cpu)
    assert kerasner.set_mixed_precision("auto") == policy
    assert keras.mixed_precision.global_policy().name == policy
    with pytest.raises(ValueError, match="Unknown precision"):
        kerasner.set_mixed_precision("half")


CPUINFO = "processor\t: {n}\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse2 avx avx2 {extra}\n\n"


@pytest.mark.parametrize(
    "extra, onednn, expected",
    [
        ("avx512f avx512_bf16", None, True),
        ("amx_tile amx_bf16", "1", True),
        ("avx512f avx512_vnni", None, False),  # AVX-512 without bfloat16
        ("avx512_bf16x", None, False),  # whole flags only
        ("avx512f avx512_bf16", "0", False),  # oneDNN off: no bfloat16 kernels
    ],
)
def test_cpu_has_bfloat16_reads_the_cpu_flags(extra, onednn, expected, tmp_path, monkeypatch):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(CPUINFO.format(n=0, extra=extra) + CPUINFO.format(n=1, extra=extra))
    if onednn is None:
        monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
    else:
        monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", onednn)
    assert kerasner.cpu_has_bfloat16(cpuinfo) is expected
    assert kerasner.cpu_has_bfloat16(tmp_path / "absent") is False  # no /proc/cpuinfo: macOS, Windows


# --- Strategies -----------------------------------------------------------------------------


def test_mirrored_strategy_over_two_devices_matches_one_device(tmp_path):
    completed = subprocess.run(
        [sys.executable, str(HERE / "distributed_run.py"), str(tmp_path)], capture_output=True, text=True, timeout=600
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    default, mirrored = result["default"], result["mirrored"]
    assert (default["replicas"], mirrored["replicas"]) == (1, 2)
    # One step on a batch whose replica halves hold 8x24 and 8x1 labels: the same update as
    # on one device; tf-keras' plain average of the replicas' means would land elsewhere.
    step = {name: np.array(weights) for name, weights in result["one_step"].items()}
    np.testing.assert_allclose(step["mirrored"], step["default"], atol=1e-5)
    np.testing.assert_allclose(step["mirrored_accumulated"], step["default"], atol=1e-5)
    np.testing.assert_allclose(step["mirrored_crf"], step["default_crf"], atol=1e-5)  # the CRF head too
    shared = len(step["default"])  # the encoder's and the classifier's weights; the CRF's follow
    assert np.abs(step["default_crf"][:shared] - step["default"]).max() > 1e-2  # it trains on its own loss
    assert np.abs(step["mirrored_keras_average"] - step["default"]).max() > 1e-2
    # Same loss trajectory and weights after a whole run. The logged loss is tf-keras' average
    # of the replicas' means (the updates are exact), hence a looser tolerance than the weights:
    # the replicas split each batch's packed rows, whose labelled words can differ by a lot.
    np.testing.assert_allclose(mirrored["loss"], default["loss"], rtol=2e-2)
    # (atol: attention key biases get no gradient, softmax ignores them; Adam turns noise into steps)
    np.testing.assert_allclose(mirrored["weights"], default["weights"], rtol=1e-4, atol=1e-4)
    assert mirrored["val_entity_f1"] == pytest.approx(default["val_entity_f1"], abs=1e-6)
    # The callbacks ran once: one best model, one history row per epoch.
    for run in ("default", "mirrored"):
        assert result[run]["files"] == [".lock", "best", "history.csv", "run_state.json"]
        assert result[run]["history_rows"] == 4
        assert json.loads((tmp_path / run / "best" / "checkpoint.json").read_text())["epoch"] >= 1


def test_model_must_be_built_under_the_strategy(sample_features, tmp_path):
    model, train, validation = sample_features
    with pytest.raises(ValueError, match="strategy.scope"):
        kerasner.train_token_classifier(
            model, train, validation, tmp_path, strategy=tf.distribute.MirroredStrategy(["/cpu:0"]), verbose=0
        )


def test_strategy_names(monkeypatch):
    assert kerasner.distribution_strategy("default") is tf.distribute.get_strategy()
    assert kerasner.is_chief()
    with pytest.raises(ValueError, match="Unknown strategy"):
        kerasner.distribution_strategy("horovod")
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="TF_CONFIG"):
        kerasner.distribution_strategy("multiworker")
    monkeypatch.setenv("TF_CONFIG", "{cluster")
    with pytest.raises(ValueError, match="not valid JSON"):
        kerasner.distribution_strategy("multiworker")


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_two_workers_train_together_and_only_the_chief_writes(tmp_path):
    cluster = {"worker": [f"localhost:{port}" for port in free_ports(2)]}
    workers = []
    for index in range(2):
        env = dict(os.environ, TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}))
        argv = [sys.executable, str(HERE.parent / "scripts" / "train.py"), "--strategy", "multiworker"]
        argv += ["--epochs", "2", "--output", str(tmp_path / f"worker{index}"), "--verbose", "0"]
        workers.append(subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outputs = [worker.communicate(timeout=600) for worker in workers]
    for worker, (out, err) in zip(workers, outputs):
        assert worker.returncode == 0, err[-3000:]
    assert "MultiWorkerMirroredStrategy" in outputs[0][0] or "CollectiveAllReduceStrategy" in outputs[0][0]
    assert "2 replicas" in outputs[0][0]
    chief, other = tmp_path / "worker0", tmp_path / "worker1"
    assert {"best", "history.csv", "metrics.json", "report.txt"} <= {p.name for p in chief.iterdir()}
    assert not other.exists() or not any(other.iterdir())  # the other worker wrote nothing
    rows = list(csv.DictReader((chief / "history.csv").open()))
    assert len(rows) == 2
    # Both workers scored the same weights: the same entity F1.
    other_f1 = float(re.search(r"last validation entity F1 ([0-9.]+)", outputs[1][0]).group(1))
    assert other_f1 == pytest.approx(float(rows[-1]["val_entity_f1"]), abs=1e-4)


def test_accumulation_builds_an_unbuilt_model(tiny_encoder_dir):
    model = kerasner.BertTokenClassifier.from_pretrained(tiny_encoder_dir, labels=LABELS)
    model.compile(kerasner.create_optimizer(1e-3), gradient_accumulation_steps=2)
    x, y = random_batch(batch=8, seq_len=12)
    history = model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert int(model.optimizer.iterations.numpy()) == 2
