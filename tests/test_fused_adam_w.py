import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

import kerasner


def five_steps(optimizer):
    """Five steps on an embedding table (sparse gradients, a row repeated), a kernel and a bias."""
    table = tf.Variable(np.arange(24, dtype="float32").reshape(6, 4) / 10, name="word_embeddings")
    kernel = tf.Variable(np.ones((3, 2), "float32"), name="kernel")
    bias = tf.Variable(np.ones((2,), "float32"), name="bias")
    optimizer.exclude_from_weight_decay(var_names=["bias"])
    rng = np.random.default_rng(0)
    for _ in range(5):
        rows = tf.IndexedSlices(
            tf.constant(rng.normal(size=(3, 4)).astype("float32")), tf.constant([1, 3, 3], tf.int64), tf.constant([6, 4], tf.int64)
        )
        optimizer.apply_gradients(
            [
                (rows, table),
                (tf.constant(rng.normal(size=(3, 2)).astype("float32")), kernel),
                (tf.constant(rng.normal(size=(2,)).astype("float32")), bias),
            ]
        )
    return table.numpy(), kernel.numpy(), bias.numpy()


@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
def test_fused_update_is_adamw(weight_decay):
    fused = five_steps(kerasner.FusedAdamW(0.1, weight_decay=weight_decay, epsilon=1e-6))
    reference = five_steps(keras.optimizers.AdamW(0.1, weight_decay=weight_decay, epsilon=1e-6))
    for got, expected in zip(fused, reference):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    never_looked_up = fused[0][[0, 2, 4, 5]]
    moved = not np.allclose(never_looked_up, np.arange(24, dtype="float32").reshape(6, 4)[[0, 2, 4, 5]] / 10)
    assert moved == (weight_decay > 0)  # AdamW decays every row, looked up or not


def test_create_optimizer_is_fused_and_unsupported_options_fail():
    assert type(kerasner.create_optimizer(1e-4, total_steps=10)) is kerasner.FusedAdamW
    with pytest.raises(ValueError, match="amsgrad"):
        kerasner.FusedAdamW(amsgrad=True)


def test_fused_optimizer_round_trips_its_config():
    optimizer = kerasner.create_optimizer(1e-3, total_steps=20, epsilon=1e-8)
    restored = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert type(restored) is kerasner.FusedAdamW
    assert restored.epsilon == 1e-8 and restored.weight_decay == optimizer.weight_decay


def test_model_trains_with_the_fused_optimizer(sample_features):
    model, train_features, _ = sample_features
    model.compile(kerasner.create_optimizer(1e-3, total_steps=24))
    history = model.fit(train_features.to_dataset(16), epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
